"""Web app under load: a class sampling and interpolating at once while one student trains.

The script starts `python app.py` on a free port with its own temp folders (or uses an app
already running, with --url), warms it up (one /sample and one /interpolate per model), then
runs --rounds rounds. In each round one client starts a /train (--train-seconds) and, once
it is training, --clients clients (each a gradio_client.Client: its own session, like one
browser tab) make --calls calls each, in parallel threads:

  * mostly /sample with an 8x8 grid (64 digits), a few /interpolate (--interpolate-share);
  * the class follows a shared "lesson": at each step most clients use the same model and a
    seed near the same slider position (--spread), so many ask for the same grid at about the
    same time, as a class dragging the same slider does (a cache on the server can help).

It records every call's endpoint, latency and error, and reports per round the p50 / p95 /
max latency (overall and per endpoint), errors, throughput, the server's resident memory
(the app process and its children, from /proc) after warm-up, at the end of each round and
its peak during the round, and the size and file count of the app's temp folders
(GRADIO_TEMP_DIR and TMPDIR). A second round shows whether memory and disk stay flat once
the first has warmed everything up. It prints tables (Markdown) and writes JSON.

Class mode (--class) loads the app as a class uses it instead: each of --clients students keeps one
model (the shipped models of all four families, dealt round the class) and drags its own seed
slider one step about every --every seconds (a steady pace with some jitter, not back to back),
for --duration seconds, while two students train (a GAN and a VAE). The table adds p95 per model.

In both modes each client is a visitor of its own, as each student of a class is: it sends its own
X-Forwarded-For address, and the app is started trusting that header (GENAI_TRUSTED_PROXY), as a
Space's proxy would set it. (Before 2026-12-07 the back-to-back clients shared this machine's address,
so since the per-visitor limits they were one visitor, and most of their calls waited or were refused.)

    python benchmarks/load_test.py                        # 30 clients x 25 calls, 2 rounds, 60 s training
    python benchmarks/load_test.py --class                # 30 students, a slider step every 2 s for 60 s
    python benchmarks/load_test.py --quick                # 5 clients x 4 calls, 1 round, 15 s training
    python benchmarks/load_test.py --url http://127.0.0.1:7860/ --pid 1234 --temp-dir /tmp/gradio
"""

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    REPO, LoadMonitor, find_data_dir, load_average, machine_info, summarize_ms, write_json,
)

RESULTS_DIR = REPO / "benchmarks" / "results"
STARTUP_SECONDS = 180
DEFAULT_MODELS = ("gan-conditional", "vae-mlp", "gan-mlp", "vae-2d")
FULL = {"clients": 30, "calls": 25, "rounds": 2, "train_seconds": 60.0}
QUICK = {"clients": 5, "calls": 4, "rounds": 1, "train_seconds": 15.0}
CLASS = {"clients": 30, "rounds": 1, "train_seconds": 90.0, "client": "raw"}
CLASS_MODELS = ("gan-conditional", "vae-mlp", "autoregressive-conditional", "diffusion-conditional")
CLASS_TRAININGS = (("gan", "dcgan", True, 100, 1e-3), ("vae", "mlp", False, 20, 2e-3))  # family, arch, cond, latent, lr
FIRST_SEED = 42  # where the class's seed slider starts
FOLLOW_LESSON = 0.75  # share of calls that use the lesson's model (the others: any model)
TRAIN_READY_SECONDS = 120  # how long to wait for the training run to start training before the load starts
ENDPOINTS = ("/sample", "/interpolate")


# --- measuring the server ----------------------------------------------------------------------


def _rss_kb(pid):
    """VmRSS of one process in KiB (None for a process without memory of its own, e.g. a zombie)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def _descendants(pid):
    """Every process below `pid` in the process tree (Linux /proc)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def process_tree_rss(pid):
    """Resident memory of process `pid` and all its children: {"rss_mb", "processes"}, or None where unknown."""
    if pid is None:
        return None
    try:
        total = _rss_kb(pid) or 0
    except (OSError, ValueError):
        return None  # no such process, or no /proc (not Linux)
    processes = 1
    for child in _descendants(pid):
        try:
            total += _rss_kb(child) or 0
            processes += 1
        except (OSError, ValueError):
            pass  # ended meanwhile
    return {"rss_mb": round(total / 1024, 1), "processes": processes}


def process_tree_cpu_seconds(pid):
    """CPU seconds (user + system) used so far by process `pid` and its running children, or None."""
    if pid is None:
        return None
    total = 0.0
    for one in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            if one == pid:
                return None
    return total


def own_cpu_seconds():
    """CPU seconds this load generator (all its client threads) has used so far."""
    times = os.times()
    return times.user + times.system


def folder_usage(folders):
    """Size and number of files under `folders` (missing ones count as empty): {"mb", "bytes", "files"}, or None."""
    if not folders:
        return None
    size = files = 0
    for folder in folders:
        for root, _, names in os.walk(folder):
            for name in names:
                try:
                    size += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    continue  # deleted meanwhile
                files += 1
    return {"mb": round(size / 2**20, 2), "bytes": size, "files": files}


class RssSampler:
    """The server's peak resident memory while a round runs, read every `every_seconds` in a thread."""

    def __init__(self, pid, every_seconds=0.5):
        self.pid, self.every_seconds = pid, every_seconds
        self.peak = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while True:
            now = process_tree_rss(self.pid)
            if now is not None and (self.peak is None or now["rss_mb"] > self.peak["rss_mb"]):
                self.peak = now
            if self._stop.wait(self.every_seconds):
                return

    def __enter__(self):
        if self.pid is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return False


def snapshot(pid, temp_dirs):
    return {"server": process_tree_rss(pid), "temp": folder_usage(temp_dirs)}


# --- the app -----------------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class App:
    """`python app.py` on a free port with its own temp folders under `scratch`."""

    def __init__(self, scratch, data_dir=None, checkpoints=None, max_train_seconds=None, trust_forwarded=False,
                 extra_env=None, python_args=("app.py",)):
        self.gradio_temp, self.tmp = scratch / "gradio", scratch / "tmp"
        self.temp_dirs = [self.gradio_temp, self.tmp]
        self.tmp.mkdir(parents=True)
        self.log_path = scratch / "app.log"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        # No GRADIO_TEMP_DIR: the app then keeps Gradio's files in its own folder under TMPDIR (and sweeps it),
        # as it does on a Space; both are measured.
        env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
               "TMPDIR": str(self.tmp), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
        env.pop("GRADIO_TEMP_DIR", None)
        if data_dir:
            env["GENAI_DATA_DIR"] = str(data_dir)
        if checkpoints:
            env["GENAI_CHECKPOINTS_DIR"] = str(checkpoints)
        if max_train_seconds:
            env["GENAI_MAX_TRAIN_SECONDS"] = str(max_train_seconds)
        if trust_forwarded:  # the clients play a class behind a proxy: each sends its own X-Forwarded-For
            env["GENAI_TRUSTED_PROXY"] = "1"
        env.update(extra_env or {})
        started = time.perf_counter()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, *python_args], cwd=REPO, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started

    def _wait_until_up(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"error: python app.py exited with code {self.process.returncode}:\n"
                                 f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"error: python app.py did not answer within {STARTUP_SECONDS} s:\n{self.log_tail()}")

    def log_tail(self, lines=30):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


PROBLEM = re.compile(r"Traceback|Error|Exception|WARNING|Warning|warn", re.IGNORECASE)


def log_problems(text, keep=12):
    """Lines of the server log that look like errors or warnings: how many, and the first distinct ones."""
    lines = [line.strip() for line in text.splitlines() if PROBLEM.search(line)]
    distinct = list(dict.fromkeys(line[:240] for line in lines))
    return {"lines": len(lines), "tracebacks": sum("Traceback" in line for line in lines), "first": distinct[:keep]}


# --- what the class asks for -------------------------------------------------------------------


def lesson(calls, models, rng):
    """The shared script of one round: at step k, the model on the board and the seed slider's position.

    The class moves through the models during the round and drags the slider a little each step.
    """
    seed, steps = FIRST_SEED, []
    for k in range(calls):
        steps.append((models[k * len(models) // calls], seed))
        seed += rng.randrange(0, 4)
    return steps


def sample_args(model, seed, grid):
    """/sample's inputs: model, seed, grid size, digit, temperature, sampling steps and guidance (None: the model's)."""
    return (model, seed, grid, "all", 1.0, None, None)


def interpolate_args(model, seed_a, seed_b, walk_steps):
    """/interpolate's inputs: a walk between two seeds, digit 0 kept ("same") all the way."""
    return (model, "seeds", seed_a, seed_b, 0, 0, None, None, walk_steps, "slerp", "0", "same")


def plan_calls(steps, models, rng, spread=3, interpolate_share=0.2, grid=8, walk_steps=16):
    """One client's calls for a round: [(endpoint, args)], one per lesson step."""
    plan = []
    for lesson_model, center in steps:
        model = lesson_model if rng.random() < FOLLOW_LESSON else rng.choice(models)
        seed = center + rng.randrange(max(spread, 1))
        if rng.random() < interpolate_share:
            plan.append(("/interpolate", interpolate_args(model, seed, seed + 1, walk_steps)))
        else:
            plan.append(("/sample", sample_args(model, seed, grid)))
    return plan


def class_plan(index, calls, models, rng):
    """One student of class mode: its own model (dealt round the class) and its own slider, dragged one
    step per call from a place of its own."""
    model, seed = models[index % len(models)], rng.randrange(0, 1000)
    return [("/sample", sample_args(model, seed + k, 8)) for k in range(calls)]


def distinct_requests(plans):
    return len({(endpoint, args) for plan in plans for endpoint, args in plan})


# --- running the load ------------------------------------------------------------------------


class RawHttpClient:
    """A light client speaking the app's HTTP API directly, as a browser tab does (page load, then for each
    call: POST /gradio_api/call/<name>, read the event stream, download the pictures it names).

    gradio_client runs threads and an event loop per client; 30 of them on the server's own 2 cores use
    more CPU than the server (see the CPU table). This client needs little, so the latencies say more
    about the server. Same submit(...).result(timeout) shape as gradio_client.
    """

    def __init__(self, url, headers=None):
        self.url = url if url.endswith("/") else url + "/"
        self.headers = dict(headers or {})
        self.session_hash = "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(11))
        with urllib.request.urlopen(urllib.request.Request(self.url, headers=self.headers), timeout=60) as page:
            page.read()

    def submit(self, *args, api_name):
        return _RawJob(self, api_name.strip("/"), args)

    def close(self):
        pass


class _RawJob:
    def __init__(self, client, name, args):
        self.client, self.name, self.args = client, name, args

    def cancel(self):
        pass

    def result(self, timeout=None):
        base = f"{self.client.url}gradio_api/call/{self.name}"
        body = json.dumps({"data": list(self.args), "session_hash": self.client.session_hash}).encode()
        headers = self.client.headers
        request = urllib.request.Request(base, data=body, headers={**headers, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            event_id = json.loads(response.read())["event_id"]
        event, data = None, None
        with urllib.request.urlopen(urllib.request.Request(f"{base}/{event_id}", headers=headers),
                                    timeout=timeout) as stream:
            for line in stream.read().decode().splitlines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    data = line.split(":", 1)[1].strip()
        if event != "complete":
            raise RuntimeError(f"{event}: {data}"[:300])
        outputs = json.loads(data)
        for item in outputs:  # fetch the pictures, as the browser does
            if isinstance(item, dict) and item.get("url"):
                with urllib.request.urlopen(urllib.request.Request(item["url"], headers=headers),
                                            timeout=timeout) as picture:
                    picture.read()
        return outputs


def call(client, endpoint, args, timeout):
    """One call: (seconds, error message or None). A call still running after `timeout` s counts as an error."""
    start = time.perf_counter()
    job = None
    try:
        job = client.submit(*args, api_name=endpoint)
        job.result(timeout=timeout)
        error = None
    except FutureTimeout:
        error = f"no answer within {timeout:g} s"
        if job is not None:
            job.cancel()
    except Exception as exc:  # noqa: BLE001 - any failure of the call is what we report
        error = f"{type(exc).__name__}: {exc}".strip()[:300]
    return time.perf_counter() - start, error


def run_client(index, plan, make_client, t0, timeout, pause=0.0, every=None):
    """One student: connect (a page load), then the planned calls one after another: back to back
    (`pause` s between), or one about every `every` s (each call due at its own time, +-25%; a call
    that answers late is followed at once by the next one due)."""
    records = []
    start = time.perf_counter()
    try:
        client = make_client()
        error = None
    except Exception as exc:  # noqa: BLE001
        client, error = None, f"{type(exc).__name__}: {exc}".strip()[:300]
    records.append({"client": index, "endpoint": "connect", "start_s": round(start - t0, 3),
                    "latency_s": round(time.perf_counter() - start, 4), "error": error})
    if client is None:
        return records
    rng, due = random.Random(index), time.perf_counter()
    try:
        for endpoint, args in plan:
            if every:
                due += every * rng.uniform(0.75, 1.25)
                time.sleep(max(0.0, due - time.perf_counter()))
            begin = time.perf_counter()
            seconds, error = call(client, endpoint, args, timeout)
            records.append({"client": index, "endpoint": endpoint, "start_s": round(begin - t0, 3),
                            "latency_s": round(seconds, 4), "error": error,
                            "model": args[0], "seed": args[1] if endpoint == "/sample" else args[2]})
            if pause:
                time.sleep(pause)
    finally:
        close = getattr(client, "close", None)
        if close:
            close()
    return records


class Training:
    """One client's /train running in a thread during the round."""

    def __init__(self, make_client, seconds, recipe=CLASS_TRAININGS[0]):
        self.make_client, self.seconds, self.recipe = make_client, seconds, recipe
        self.ready = threading.Event()
        self.result = {"endpoint": "/train", "family": recipe[0], "arch": recipe[1], "seconds_asked": seconds,
                       "training_after_s": None, "wall_s": None, "status": None, "model": None, "error": None}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t0 = time.perf_counter()
        self._thread.start()
        return self

    def _run(self):
        client = None
        try:
            client = self.make_client()
            family, arch, conditional, latent, lr = self.recipe
            # (max steps far beyond what the seconds allow: the time ends the run)
            job = client.submit("mnist", family, arch, conditional, latent, self.seconds, 64, lr, 1.0, 0, 10**6, 1.0,
                                api_name="/train")
            while not job.done():
                if not self.ready.is_set() and any("Training:" in str(out) for out in job.outputs()):
                    self.result["training_after_s"] = round(time.perf_counter() - self.t0, 2)
                    self.ready.set()
                time.sleep(0.2)
            final = job.result()
            self.result["status"] = re.sub(r"\s+", " ", str(final[3]))[:300] if final else None
            self.result["model"] = final[4] if final else None
        except Exception as exc:  # noqa: BLE001
            self.result["error"] = f"{type(exc).__name__}: {exc}".strip()[:300]
        finally:
            self.result["wall_s"] = round(time.perf_counter() - self.t0, 2)
            self.ready.set()
            if client is not None and hasattr(client, "close"):
                client.close()

    def wait(self, timeout=None):
        self._thread.join(timeout)
        return self.result


def summarize_calls(records, by_model=False):
    """Per endpoint (or per model) and over all calls (connects apart): calls, errors, and latency of the
    calls that worked."""
    groups = {"all": [r for r in records if r["endpoint"] != "connect"]}
    if by_model:
        for model in dict.fromkeys(r["model"] for r in groups["all"]):
            groups[model] = [r for r in groups["all"] if r["model"] == model]
    for endpoint in (*ENDPOINTS, "connect"):
        groups[endpoint] = [r for r in records if r["endpoint"] == endpoint]
    summary = {}
    for name, rows in groups.items():
        if not rows:
            continue
        ok = [r["latency_s"] for r in rows if r["error"] is None]
        stats = summarize_ms(ok) if ok else dict.fromkeys(("p50_ms", "p95_ms", "mean_ms", "min_ms", "max_ms"))
        summary[name] = {**stats, "calls": len(rows), "ok": len(ok), "errors": len(rows) - len(ok)}
    return summary


def error_counts(records):
    counts = {}
    for r in records:
        if r["error"]:
            key = f"{r['endpoint']}: {r['error']}"
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def run_round(number, make_client, models, clients, calls, *, make_student=None, seed=0, spread=3,
              interpolate_share=0.2, grid=8, walk_steps=16, train_seconds=60.0, timeout=120.0, pause=0.0, settle=0.0,
              pid=None, temp_dirs=None, every=None, trainings=1, progress=print):
    """One round of load: the training runs, then `clients` clients in parallel. Returns the round's figures.

    make_client(i) / make_student(i): the client of visitor i (the trainings are visitors clients, clients + 1, ...).
    every: class mode (each student keeps a model and moves its slider about every `every` s).
    The server's memory and temp folders are measured `settle` seconds after the last call and the training ended.
    """
    make_student = make_student or make_client
    if every:
        plans = [class_plan(i, calls, models, random.Random(f"{seed}-{number}-{i}")) for i in range(clients)]
    else:
        steps = lesson(calls, models, random.Random(f"{seed}-{number}"))
        plans = [plan_calls(steps, models, random.Random(f"{seed}-{number}-{i}"), spread, interpolate_share, grid,
                            walk_steps) for i in range(clients)]
    server_cpu_before, clients_cpu_before = process_tree_cpu_seconds(pid), own_cpu_seconds()
    with RssSampler(pid) as rss:
        runs = []
        if train_seconds and train_seconds > 0:
            runs = [Training(lambda k=k: make_client(clients + k), train_seconds, CLASS_TRAININGS[k % 2]).start()
                    for k in range(trainings)]
            for training in runs:
                if not training.ready.wait(TRAIN_READY_SECONDS):
                    progress(f"  round {number}: a training run has not started training after "
                             f"{TRAIN_READY_SECONDS} s; starting the load anyway")
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="student") as pool:
            futures = [pool.submit(run_client, i, plan, lambda i=i: make_student(i), t0, timeout, pause, every)
                       for i, plan in enumerate(plans)]
            records = [r for future in futures for r in future.result()]
        load_seconds = time.perf_counter() - t0
        progress(f"  round {number}: {len(records) - clients} calls in {load_seconds:.1f} s; "
                 + ("waiting for the training runs to end" if runs else "no training"))
        train = []
        for training in runs:
            result = training.wait()
            train_end = training.t0 - t0 + result["wall_s"]
            result["calls_during_training"] = sum(
                1 for r in records if r["endpoint"] != "connect" and r["start_s"] + r["latency_s"] <= train_end)
            train.append(result)
    server_cpu_after, clients_cpu_after = process_tree_cpu_seconds(pid), own_cpu_seconds()
    time.sleep(settle)
    after = snapshot(pid, temp_dirs)
    summary = summarize_calls(records, by_model=bool(every))
    wall = time.perf_counter() - t0
    cpu = {  # where the machine's CPU went during the round (a 2-core machine has 2 CPU-seconds per second)
        "wall_s": round(wall, 2),
        "server_cpu_s": None if server_cpu_before is None else round(server_cpu_after - server_cpu_before, 2),
        "clients_cpu_s": round(clients_cpu_after - clients_cpu_before, 2),
    }
    worked = summary.get("all", {}).get("ok", 0)
    return {
        "round": number,
        "clients": clients,
        "calls_per_client": calls,
        "distinct_requests": distinct_requests(plans),
        "planned_calls": clients * calls,
        "load_seconds": round(load_seconds, 2),
        "throughput_calls_per_s": round(worked / load_seconds, 2) if load_seconds > 0 else None,
        "latency": summary,
        "errors": error_counts(records),
        "training": train,
        "server_peak_during_round": rss.peak,
        "cpu": cpu,
        "settle_seconds": settle,
        "after": after,
        "calls": records,
    }


# --- reporting ---------------------------------------------------------------------------------


def _ms(value):
    return "—" if value is None else f"{value:.0f}"


def _rss(snap):
    server = snap.get("server") if snap else None
    if not server:
        return "unknown"
    return f"{server['rss_mb']:.0f}" + (f" ({server['processes']} processes)" if server["processes"] > 1 else "")


def _temp(snap):
    temp = snap.get("temp") if snap else None
    return "unknown" if not temp else f"{temp['mb']:.1f} MB, {temp['files']} files"


def report(result):
    """The printed tables (Markdown), from results in the JSON's shape."""
    o = result["options"]
    if o.get("every"):
        what = (f"Class mode: {o['clients']} students, each on its own model, a /sample (8x8) about every "
                f"{o['every']:g} s for {o['calls']} steps; ")
    else:
        what = (f"Load test: {o['clients']} clients x {o['calls']} calls, {o['rounds']} round(s); /sample "
                f"{o['grid']}x{o['grid']} grid, /interpolate {o['walk_steps']} frames (share "
                f"{o['interpolate_share']:g}); ")
    trainings = ", ".join(f"{family} {arch}" for family, arch, *_ in CLASS_TRAININGS[:o.get("trainings", 1)])
    out = [what + (f"/train ({trainings}, {o['train_seconds']:g} s each) per round" if o["train_seconds"]
                   else "no training") + f"; {o.get('client', 'gradio')} clients; models {', '.join(o['models'])}", "",
           "| round | endpoint | calls | errors | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|---|---|"]
    for rnd in result["rounds"]:
        for name, row in rnd["latency"].items():
            label = "all calls" if name == "all" else name + (" (page load)" if name == "connect" else "")
            out.append(f"| {rnd['round']} | {label} | {row['calls']} | {row['errors']} | {_ms(row['p50_ms'])} "
                       f"| {_ms(row['p95_ms'])} | {_ms(row['max_ms'])} |")
    out += ["", "| round | load s | calls/s | distinct requests | training (asked -> ran) | calls during training |",
            "|---|---|---|---|---|---|"]
    for rnd in result["rounds"]:
        runs = rnd["training"] or []
        training = "; ".join(f"{t['seconds_asked']:g} s -> {t['wall_s']:.1f} s" + (" (error)" if t["error"] else "")
                             for t in runs) or "none"
        during = "; ".join(f"{t['calls_during_training']} of {rnd['latency'].get('all', {}).get('calls', 0)}"
                           for t in runs) or "—"
        out.append(f"| {rnd['round']} | {rnd['load_seconds']:.1f} | {rnd['throughput_calls_per_s']} "
                   f"| {rnd['distinct_requests']} of {rnd['planned_calls']} | {training} | {during} |")
    out += ["", "| round | wall s | server CPU s (app + training) | load generator CPU s (the clients) |",
            "|---|---|---|---|"]
    for rnd in result["rounds"]:
        c = rnd.get("cpu") or {}
        out.append(f"| {rnd['round']} | {c.get('wall_s', '—')} | {c.get('server_cpu_s', '—')} "
                   f"| {c.get('clients_cpu_s', '—')} |")
    out += ["", "| when | server RSS MB | temp folders |", "|---|---|---|",
            f"| after warm-up | {_rss(result['before'])} | {_temp(result['before'])} |"]
    for rnd in result["rounds"]:
        peak = rnd["server_peak_during_round"]
        out.append(f"| during round {rnd['round']} (peak) | {_rss({'server': peak})} | |")
        out.append(f"| after round {rnd['round']} | {_rss(rnd['after'])} | {_temp(rnd['after'])} |")
    for rnd in result["rounds"]:
        for t in rnd["training"] or []:
            out.append(f"\nRound {rnd['round']} training ({t['family']} {t['arch']}): started training after "
                       f"{t['training_after_s']} s; model {t['model']}; status: {t['status'] or t['error']}")
        for message, count in list(rnd["errors"].items())[:10]:
            out.append(f"Round {rnd['round']} error x{count}: {message}")
    log = result.get("server_log")
    if log:
        out.append(f"\nServer log: {log['lines']} error/warning lines, {log['tracebacks']} tracebacks"
                   + ("".join(f"\n    {line}" for line in log["first"]) if log["first"] else ""))
    if result.get("app_startup_seconds") is not None:
        out.append(f"\nApp startup (python app.py until it answered): {result['app_startup_seconds']:.1f} s")
    load = result.get("load_average_1min")
    if load:
        out.append(f"Load average during the run: median {load['median']}, max {load['max']} "
                   f"(machine has {result['machine']['cores']} cores)")
    return "\n".join(out)


# --- command line ------------------------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--clients", type=int,
                        help=f"students at once, each its own session (default {FULL['clients']})")
    parser.add_argument("--calls", type=int, help=f"calls per client per round (default {FULL['calls']})")
    parser.add_argument("--rounds", type=int,
                        help=f"rounds of load, a new set of clients each (default {FULL['rounds']})")
    parser.add_argument("--train-seconds", type=float,
                        help="the /train run during each round, in seconds; 0: no training "
                             f"(default {FULL['train_seconds']:g})")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: {clients} clients x {calls} calls, {rounds} round, {train_seconds:g} s "
                             "training (options given explicitly win)".format(**QUICK))
    parser.add_argument("--class", dest="class_mode", action="store_true",
                        help="class mode: {clients} students, each on one of {models}, a slider step about every "
                             "--every s for --duration s, while a GAN and a VAE train ({train_seconds:g} s); "
                             "raw clients unless --client says otherwise".format(
                                 **CLASS, models=", ".join(CLASS_MODELS)))
    parser.add_argument("--every", type=float, default=2.0,
                        help="class mode: seconds between one student's slider steps, on average (default 2)")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="class mode: seconds the class drags its sliders (default 60)")
    parser.add_argument("--models", help="comma-separated model names to use (default: "
                                         f"{','.join(DEFAULT_MODELS)}; class mode {','.join(CLASS_MODELS)})")
    parser.add_argument("--grid", type=int, default=8, help="/sample grid size, images per side (default 8: 64 images)")
    parser.add_argument("--interpolate-share", type=float, default=0.2,
                        help="share of calls that are /interpolate (default 0.2: 1 in 5)")
    parser.add_argument("--walk-steps", type=int, default=16, help="frames per /interpolate walk (default 16)")
    parser.add_argument("--spread", type=int, default=3,
                        help="seeds the class picks from at each step around the shared slider position "
                             "(1: everyone asks for the same grid; default 3)")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds each client waits between calls (default 0)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="a call without an answer after this many seconds counts as an error (default 120)")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds to wait after a round before measuring memory and temp folders (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the lesson and of the clients' choices")
    parser.add_argument("--client", choices=("gradio", "raw"),
                        help="gradio: each student a gradio_client.Client; raw: a light HTTP client per student "
                             "(page load, /call, event stream, picture downloads), so the clients use less of "
                             "the CPU they share with the server (default gradio; class mode raw)")
    parser.add_argument("--url", help="load an app already running here (default: start python app.py)")
    parser.add_argument("--pid", type=int, help="with --url: the app's process id, to report its memory")
    parser.add_argument("--temp-dir", action="append", default=[],
                        help="with --url: a temp folder of the app to measure (repeatable)")
    parser.add_argument("--checkpoints", help="pretrained models folder for the app (default: checkpoints/)")
    parser.add_argument("--data-dir", help="MNIST folder for the app (default: $GENAI_DATA_DIR, else ../shared/...)")
    parser.add_argument("--keep", action="store_true", help="keep the app's temp folders and log, and print where")
    parser.add_argument("--json", help="where to write the figures (default: benchmarks/results/load-<date>.json)")
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.class_mode:
        if args.every <= 0 or args.duration < args.every:
            parser.error("--every must be above 0 and --duration at least --every")
        args.calls = args.calls or max(1, round(args.duration / args.every))
    for key, value in {**FULL, **(QUICK if args.quick else {}), **(CLASS if args.class_mode else {})}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.client = args.client or "gradio"
    args.models = [name.strip() for name in (args.models or ",".join(CLASS_MODELS if args.class_mode else
                                                                      DEFAULT_MODELS)).split(",") if name.strip()]
    if args.clients < 1 or args.calls < 1 or args.rounds < 1 or not args.models:
        parser.error("--clients, --calls and --rounds must be at least 1, and --models must name a model")
    if not 0 <= args.interpolate_share <= 1:
        parser.error("--interpolate-share must be between 0 and 1")
    if args.url is None and (args.pid or args.temp_dir):
        parser.error("--pid and --temp-dir describe an app given with --url")
    return args


def warm_up(make_client, models, grid, walk_steps):
    """Check the models exist, then draw one grid and one walk with each, so every model is loaded."""
    client = make_client()
    try:
        _, picker, *_ = client.predict("mnist", None, None, None, api_name="/refresh")
        offered = [value for _, value in picker["choices"]]
        missing = [name for name in models if name not in offered]
        if missing:
            raise SystemExit(f"error: the app has no model {', '.join(missing)}; it offers: {', '.join(offered)}")
        started = time.perf_counter()
        for model in models:
            client.predict(*sample_args(model, 0, grid), api_name="/sample")
            client.predict(*interpolate_args(model, 0, 1, walk_steps), api_name="/interpolate")
        return time.perf_counter() - started
    finally:
        client.close()


def main(argv=None, progress=print):
    args = parse_args(argv)
    from gradio_client import Client

    data_dir = find_data_dir(args.data_dir)
    if args.url is None and data_dir is not None and not data_dir.is_dir():
        raise SystemExit(f"error: no MNIST folder at {data_dir}")
    scratch = Path(tempfile.mkdtemp(prefix="genai-load-"))
    downloads = scratch / "client-downloads"  # what the clients fetch: not the server's temp folder
    downloads.mkdir()
    app, url, pid, temp_dirs = None, args.url, args.pid, [Path(p) for p in args.temp_dir]
    result = {"benchmark": "load_test",
              "what": "N gradio_client sessions at once, mixed /sample and /interpolate, one /train running; "
                      "latency per call (queue + work + download), server RSS (/proc) and temp folder size",
              "command": " ".join(["benchmarks/load_test.py", *(argv if argv is not None else sys.argv[1:])]),
              "options": {key: getattr(args, key) for key in ("clients", "calls", "rounds", "train_seconds", "models",
                                                              "grid", "interpolate_share", "walk_steps", "spread",
                                                              "pause", "timeout", "settle", "seed", "client")},
              "mode": "class" if args.class_mode else "quick" if args.quick else "full",
              "machine": machine_info("cpu")}
    result["options"].update(every=args.every if args.class_mode else None, trainings=2 if args.class_mode else 1)
    try:
        if url is None:
            progress("Starting python app.py ...")
            # the server caps a run at GENAI_MAX_TRAIN_SECONDS (600 s unless set): raise it only if asked for more
            max_train = args.train_seconds + 60 if args.train_seconds > 600 else None
            app = App(scratch, data_dir, args.checkpoints, max_train, trust_forwarded=True)
            url, pid, temp_dirs = app.url, app.pid, app.temp_dirs
            result["app_startup_seconds"] = round(app.startup_seconds, 2)
            progress(f"  answered after {app.startup_seconds:.1f} s on {url}")
        # Client i is visitor i, as each student of a class is: it says so in X-Forwarded-For (10.0.0.1,
        # 10.0.0.2, ...), as a Space's proxy would. (As one address, the clients would be one visitor, whose
        # waiting places the app limits: GENAI_HEAVY_WAITING_PER_VISITOR.) An app given with --url must trust
        # that header too (GENAI_TRUSTED_PROXY=1).
        headers = lambda i: {"X-Forwarded-For": f"10.0.{(i + 1) // 256}.{(i + 1) % 256}"}  # noqa: E731
        make_client = lambda i=-1: Client(url, verbose=False, analytics_enabled=False,  # noqa: E731
                                          download_files=str(downloads), headers=headers(i))
        # The students (what is measured); warm-up and the training run always use gradio_client.
        make_student = (lambda i: RawHttpClient(url, headers(i))) if args.client == "raw" else make_client  # noqa: E731
        with LoadMonitor() as load:
            progress("Warming up (one /sample and one /interpolate per model) ...")
            result["warm_up_seconds"] = round(warm_up(make_client, args.models, args.grid, args.walk_steps), 2)
            result["before"] = snapshot(pid, temp_dirs)
            result["rounds"] = []
            for number in range(1, args.rounds + 1):
                progress(f"Round {number}: {args.clients} clients x {args.calls} calls"
                         + (f", training {args.train_seconds:g} s" if args.train_seconds else ""))
                result["rounds"].append(run_round(
                    number, make_client, args.models, args.clients, args.calls, make_student=make_student,
                    seed=args.seed, spread=args.spread,
                    interpolate_share=args.interpolate_share, grid=args.grid, walk_steps=args.walk_steps,
                    train_seconds=args.train_seconds, timeout=args.timeout, pause=args.pause, settle=args.settle,
                    pid=pid, temp_dirs=temp_dirs, every=args.every if args.class_mode else None,
                    trainings=result["options"]["trainings"], progress=progress))
        result["load_average_1min"] = load.summary()
        result["machine"]["load_average_1min_at_end"] = load_average()
    finally:
        if app is not None:
            app.stop()
            result["server_log"] = log_problems(app.log_path.read_text(errors="replace"))
        if args.keep:
            progress(f"Kept the app's temp folders and log in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    print("\n" + report(result))
    path = Path(args.json) if args.json else RESULTS_DIR / (
        f"load-{time.strftime('%Y-%m-%d-%H%M%S')}{'-quick' if args.quick else ''}.json")
    write_json(result, path)
    print(f"\nWrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
