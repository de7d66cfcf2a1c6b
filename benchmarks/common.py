"""What every benchmark needs: honest clocks, percentiles, peak memory, and a description of the machine.

Honest clocks: a GPU runs work asynchronously, so a clock read right after launching
work measures the launch, not the work. `elapsed(device)` waits for the device
(torch.cuda.synchronize) before reading the clock.
"""

import json
import os
import platform
import resource
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
# The project's shared copy of real MNIST, next to the repository (as in tests/conftest.py).
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"


def synchronize(device):
    """Wait until the device has finished all queued work (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class Stopwatch:
    """Measures device time: `with Stopwatch(device) as watch: ...` then `watch.seconds`."""

    def __init__(self, device):
        self.device = device
        self.seconds = 0.0

    def __enter__(self):
        synchronize(self.device)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        synchronize(self.device)
        self.seconds = time.perf_counter() - self.start
        return False


def summarize_ms(seconds):
    """p50 / p95 / mean / min / max of a list of durations, in milliseconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000
    return {
        "calls": int(ms.size),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "min_ms": round(float(ms.min()), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def median(values):
    return float(np.median(np.asarray(values, dtype=np.float64)))


# --- memory ----------------------------------------------------------------------------------


def _maxrss_mb():
    """The process's peak resident memory from getrusage (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb():
    """Resident memory right now (Linux /proc), or None where that is not available."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def reset_peak_rss():
    """Start a new peak-RSS window. Linux allows this (write 5 to /proc/self/clear_refs); returns False elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak memory of a block of code: the process's peak RSS and, on CUDA, torch's peak allocation.

    On Linux the RSS peak is reset on entry, so it belongs to this block; elsewhere getrusage
    can only give the peak of the whole process so far, and `rss_scope` says so.
    """

    def __init__(self, device):
        self.device = torch.device(device)

    def __enter__(self):
        self.rss_before_mb = current_rss_mb()
        self.rss_scope = "this run" if reset_peak_rss() else "process so far"
        if self.device.type == "cuda":
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc):
        synchronize(self.device)
        self.rss_peak_mb = _maxrss_mb()
        self.cuda_peak_mb = (
            torch.cuda.max_memory_allocated(self.device) / 2**20 if self.device.type == "cuda" else None
        )
        return False

    def as_dict(self):
        rounded = lambda v: None if v is None else round(v, 1)  # noqa: E731
        return {
            "rss_peak_mb": rounded(self.rss_peak_mb),
            "rss_before_mb": rounded(self.rss_before_mb),
            "rss_growth_mb": None if self.rss_before_mb is None else rounded(self.rss_peak_mb - self.rss_before_mb),
            "rss_scope": self.rss_scope,
            "cuda_peak_allocated_mb": rounded(self.cuda_peak_mb),
        }


# --- the machine -----------------------------------------------------------------------------


def cpu_model():
    """The CPU's name from /proc/cpuinfo (Linux) or platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def load_average():
    """The 1-minute load average (how many processes wanted a CPU), or None where unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


class LoadMonitor:
    """Samples the 1-minute load average every few seconds in a background thread while a benchmark runs.

    On a machine shared with other work, a load above the number of cores means the
    benchmark was competing for the CPU: its numbers are then slower and noisier.
    """

    def __init__(self, every_seconds=5.0):
        self.every_seconds = every_seconds
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while True:
            value = load_average()
            if value is not None:
                self.samples.append(value)
            if self._stop.wait(self.every_seconds):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    def summary(self):
        if not self.samples:
            return None
        return {"min": min(self.samples), "median": round(median(self.samples), 2), "max": max(self.samples),
                "samples": len(self.samples), "every_seconds": self.every_seconds}


def machine_info(device):
    """Everything needed to interpret the numbers: hardware, software, threads, load."""
    device = torch.device(device)
    info = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1min_at_start": load_average(),
    }
    return info


def find_data_dir(data_dir=None):
    """The MNIST folder to use: --data-dir, else $GENAI_DATA_DIR, else the project's shared copy if present.

    None means "let genai.data search as the app does" (user cache, then download).
    """
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get("GENAI_DATA_DIR"):
        return Path(os.environ["GENAI_DATA_DIR"]).expanduser()
    if SHARED_MNIST.is_dir():
        return SHARED_MNIST
    return None


def write_json(results, path):
    """Write a benchmark's figures as indented JSON (creating the folder); returns the Path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
