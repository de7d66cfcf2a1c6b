"""Which device to train on, and how to describe it to a learner.

Order of preference: CUDA (an NVIDIA GPU), then Apple's MPS, then the CPU.
"""

import os

import torch

from . import environment

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


class DeviceError(Exception):
    """A device was asked for that this machine does not have."""


def pick_device(choice="auto"):
    """Return a torch.device for "auto", "cpu", "cuda" or "mps".

    "auto" picks cuda, then mps, then cpu. Asking for a device that is not
    there raises DeviceError with a message saying what is available.
    """
    choice = (choice or "auto").lower()
    if choice not in DEVICE_CHOICES:
        raise DeviceError(f"Unknown device {choice!r}: choose one of {', '.join(DEVICE_CHOICES)}.")
    cuda_ok = torch.cuda.is_available()
    mps_ok = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if choice == "auto":
        choice = "cuda" if cuda_ok else "mps" if mps_ok else "cpu"
    if choice == "cuda" and not cuda_ok:
        raise DeviceError("CUDA was asked for, but no NVIDIA GPU is visible to PyTorch here. Use --device cpu or auto.")
    if choice == "mps" and not mps_ok:
        raise DeviceError("MPS was asked for, but Apple's Metal backend is not available here. Use --device cpu or auto.")
    device = torch.device(choice)
    prepare(device)
    return device


def cpu_threads():
    """Threads for CPU training: env GENAI_CPU_THREADS if set, else one per core.

    On a 2-core machine shared with a web server, 1 thread is often faster: PyTorch's
    threads spin-wait for each other, so one busy neighbour makes 2 threads slower than 1
    (measured: see docs/benchmarks.md, "Noise, and a trap for 2-core machines").
    The web app therefore sets GENAI_CPU_THREADS=1 there.
    """
    return environment.value("GENAI_CPU_THREADS")


def prepare(device):
    """Speed settings: TF32 matmuls on CUDA; on the CPU, cpu_threads() threads."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    elif device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(cpu_threads())


def describe(device):
    """A one-line, human description: "CUDA — NVIDIA H100", "Apple MPS", "CPU — 2 threads"."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"CUDA — {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    n = torch.get_num_threads()
    return f"CPU — {n} thread{'s' if n != 1 else ''}"
