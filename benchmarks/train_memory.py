"""How much memory a training run adds, per model and batch size: what genai/costs.py is calibrated on.

A run's memory is its model (weights, gradients, Adam's two moments, a moving average) plus what one
step keeps alive between the forward pass and the backward pass: every layer's activations, for every
image of the batch. The second part grows with the batch, so a run's peak is close to a straight line,
    peak = fixed + per_image * batch_size,
and a batch size a visitor types can cost gigabytes. This script measures that line.

Each point is a fresh Python process (as alike to the app as a child can be: one CPU thread, two malloc
arenas, training in a thread other than the main one) that loads MNIST and warms up as a server that has trained before is warm: one step of the same
model at batch 2, then everything freed and handed back to the system (malloc_trim), so PyTorch's code and
kernels are loaded but no memory is left over to reuse. Then it notes its resident memory, builds the model
the Train tab would build (the family's recipe, conditional) and trains `--steps` steps at that batch
through genai's own loop, live previews included. The figure is the peak resident memory (Linux's VmHWM,
reset just before) minus what the process held before the model existed: what the run added. Steps after
the first count: only then do Adam's moments and a step's activations live side by side.

    python -m benchmarks.train_memory --json benchmarks/results/train-memory-cpu-DATE.json
    python -m benchmarks.train_memory --models gan-mlp --batches 16,32 --repeats 1   # a smoke test

It prints what each run added beside genai/costs.py's estimate, and each model's fitted line (what
genai/costs.py's MEASURED holds); `--report JSON` prints them again from the JSON it wrote.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import REPO, current_rss_mb, find_data_dir, load_average, machine_info, write_json  # noqa: E402
from benchmarks.run import markdown_table  # noqa: E402

# The Train tab's models (each family's recipe, conditional as the form starts), then a few of other sizes:
# those check how genai/costs.py scales the line with a model's width and depth.
DEFAULT_MODELS = ["gan-mlp", "gan-dcgan", "vae-mlp", "vae-conv", "diffusion-unet", "autoregressive-pixelcnn",
                  "autoregressive-lstm"]
SIZE_VARIANTS = {
    "gan-dcgan channels=64": {"channels": 64},
    "gan-dcgan extra_layers=2": {"extra_layers": 2},
    "gan-dcgan r1_gamma=10": {"r1_gamma": 10.0},
    "vae-conv channels=64": {"channels": 64},
    "diffusion-unet channels=32": {"channels": 32},
    "diffusion-unet extra_layers=4": {"extra_layers": 4},
    "autoregressive-pixelcnn channels=64": {"channels": 64},
    "autoregressive-pixelcnn layers=12": {"layers": 12},
    "autoregressive-lstm hidden_size=256": {"hidden_size": 256},
}
CHILD_ENV = {"MALLOC_ARENA_MAX": "2", "GENAI_CPU_THREADS": "1", "OMP_NUM_THREADS": "1"}  # as app.py runs on 2 cores


def split_name(name):
    """"autoregressive-lstm hidden_size=256" -> ("autoregressive", "lstm", {"hidden_size": 256})."""
    model, _, sizes = name.partition(" ")
    family, arch = model.split("-", 1)
    return family, arch, SIZE_VARIANTS.get(name, {}) if sizes else {}


def peak_rss_mb():
    """The process's peak resident memory since the last reset (Linux: VmHWM in /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: this benchmark needs Linux")


def train_as_the_app_does(family, arch, chosen, dataset, batch_size, steps):
    """The model the Train tab builds for `chosen` settings, trained `steps` steps with its live previews."""
    from genai.models import create_model
    from genai.recipes import model_options
    from genai.train import TrainSettings, preview_count, train

    model = create_model(family, arch, seed=0, **model_options(chosen, family, arch))
    settings = TrainSettings(batch_size=batch_size, lr=chosen["lr"], seed=0, max_steps=steps, preview_seconds=2.0,
                             preview_images=preview_count(True), preview_seed=0)
    last = None
    for last in train(model, dataset, settings):
        pass
    if last.step != steps:
        raise RuntimeError(f"stopped after {last.step} of {steps} steps: {last.message}")
    return model


def in_a_worker_thread(function, *args):
    """function(*args) in a thread of its own, as the app trains in one of Gradio's worker threads. It matters:
    glibc gives such a thread another malloc arena, which keeps more of what it frees than the main one."""
    import threading

    outcome = {}

    def run():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # noqa: BLE001 - raised again in the calling thread
            outcome["error"] = error

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def give_back_freed_memory():
    """Collect garbage and return the C library's free memory to the system, so none of it is reused unseen."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure_here(family, arch, sizes, batch_size, steps, data_dir):
    """In this (fresh) process: warm up, then train `steps` steps as the Train tab would; return what it added."""
    import torch

    from benchmarks.common import reset_peak_rss
    from genai.data import load_training_set
    from genai.device import prepare
    from genai.recipes import recipe

    prepare(torch.device("cpu"))
    dataset = load_training_set("mnist", data_dir=data_dir, download=False)  # shared by every run of the app
    chosen = {**recipe(family), "arch": arch, "conditional": True, **sizes}
    in_a_worker_thread(train_as_the_app_does, family, arch, chosen, dataset, 2, 1)  # the warm-up
    give_back_freed_memory()
    before = current_rss_mb()
    if not reset_peak_rss():
        raise RuntimeError("cannot reset the peak RSS (/proc/self/clear_refs): this benchmark needs Linux")
    started = time.perf_counter()
    model = in_a_worker_thread(train_as_the_app_does, family, arch, chosen, dataset, batch_size, steps)
    seconds = time.perf_counter() - started
    return {"rss_before_mb": round(before, 1), "growth_mb": round(peak_rss_mb() - before, 1),
            "seconds": round(seconds, 2), "parameters": sum(p.numel() for p in model.parameters())}


def measure(name, batch_size, steps, data_dir):
    """One point, measured in a fresh process (so nothing an earlier point allocated hides in the peak)."""
    spec = {"name": name, "batch_size": batch_size, "steps": steps, "data_dir": str(data_dir) if data_dir else None}
    done = subprocess.run([sys.executable, "-m", "benchmarks.train_memory", "--child", json.dumps(spec)], cwd=REPO,
                          env={**os.environ, **CHILD_ENV}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name} at batch {batch_size} failed:\n{done.stderr[-2000:]}")
    point = json.loads(done.stdout.strip().splitlines()[-1])
    return {"model": name, "batch_size": batch_size, "load": load_average(), **point}


def fit_line(points):
    """Least squares growth_mb = fixed_mb + per_image_mb * batch_size over every point of one model."""
    batches = np.array([p["batch_size"] for p in points], dtype=float)
    growth = np.array([p["growth_mb"] for p in points], dtype=float)
    per_image, fixed = np.polyfit(batches, growth, 1)
    worst = float(np.max(np.abs(growth - (fixed + per_image * batches))))
    return {"fixed_mb": round(float(fixed), 1), "per_image_mb": round(float(per_image), 4),
            "largest_miss_mb": round(worst, 1), "points": len(points)}


def grid_rows(points, names):
    """One row per model, one column per batch: "what it added (median) / the estimate", and the widest spread."""
    from genai.costs import run_cost

    groups = grouped(points)
    batches = sorted({batch for name, batch in groups if name in names})
    rows = []
    for name in names:
        cells, spreads = [], []
        for batch in batches:
            growth = [p["growth_mb"] for p in groups.get((name, batch), [])]
            if not growth:
                cells.append("")
                continue
            cells.append(f"{np.median(growth):,.0f} / {run_cost(*split_name(name)).peak_mb(batch):,.0f}")
            spreads.append(max(growth) - min(growth))
        rows.append([name, *cells, f"{max(spreads):,.0f}"])
    return ["model", *(f"{batch:,}" for batch in batches), "widest spread MB"], rows


def report(results):
    """The tables: what each run added against genai/costs.py's estimate (MB; the median where several processes
    ran), the Train tab's models then the other sizes; the worst ratio; and each model's fitted line."""
    from genai.costs import run_cost

    names = list(dict.fromkeys(p["model"] for p in results["points"]))
    for chosen in ([n for n in names if " " not in n], [n for n in names if " " in n]):
        if chosen:
            print(markdown_table(*grid_rows(results["points"], chosen)))
            print()
    worst = max(p["growth_mb"] / run_cost(*split_name(p["model"])).peak_mb(p["batch_size"]) for p in results["points"])
    print(f"The most a run added, against its estimate: {worst:.2f} ({len(results['points'])} runs).")
    print()
    print(markdown_table(["model", "fixed MB", "MB per image", "largest miss MB", "points"],
                         [[n, f["fixed_mb"], f["per_image_mb"], f["largest_miss_mb"], f["points"]]
                          for n, f in results["fits"].items()]))


def grouped(points):
    groups = {}
    for p in points:
        groups.setdefault((p["model"], p["batch_size"]), []).append(p)
    return groups


def measure_through_the_app(runs, data_dir):
    """For each (name, batch_size) of runs, start `python app.py` afresh and train that model through its /train
    endpoint (2 steps, after a 1-step run of the same model at batch 2), reading what the server's peak RSS
    grew by: the check that the app's runs cost what the children above measured. One point per run."""
    return [measure_one_through_the_app(name, batch_size, data_dir) for name, batch_size in runs]


def measure_one_through_the_app(name, batch_size, data_dir):
    """One run through a fresh app (a server's earlier runs leave freed memory its next run reuses unseen)."""
    import socket
    import tempfile

    from gradio_client import Client

    from genai.costs import run_cost

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="genai-train-memory-"))
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "TMPDIR": str(folder),
           "GRADIO_ANALYTICS_ENABLED": "False", "GENAI_TRAIN_MEMORY_MB": "100000", "GENAI_MAX_TRAIN_SECONDS": "600",
           **({"GENAI_DATA_DIR": str(data_dir)} if data_dir else {})}
    with open(folder / "server.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    status = Path(f"/proc/{server.pid}/status")
    memory = lambda key: next(int(line.split()[1]) / 1024 for line in status.read_text().splitlines()  # noqa: E731
                              if line.startswith(key))
    try:
        for _ in range(300):
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(1)
        family, arch, _ = split_name(name)
        latent = 784 if family in ("autoregressive", "diffusion") else (16 if family == "vae" else 100)
        form = lambda batch, steps: ("mnist", family, arch, True, latent, 600, batch, 1e-3, 1.0, 0, steps, 1.0)  # noqa: E731
        client.predict(*form(2, 1), api_name="/train")  # the warm-up
        before = memory("VmRSS:")
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")
        started = time.perf_counter()
        client.predict(*form(batch_size, 2), api_name="/train")
        point = {"model": name, "batch_size": batch_size, "rss_before_mb": round(before, 1),
                 "growth_mb": round(memory("VmHWM:") - before, 1), "seconds": round(time.perf_counter() - started, 1),
                 "estimate_mb": round(run_cost(family, arch).peak_mb(batch_size), 1)}
    finally:
        server.terminate()
        server.wait(30)
    print(f"through the app: {name} batch {batch_size}: +{point['growth_mb']:,.0f} MB "
          f"(estimate {point['estimate_mb']:,.0f})", file=sys.stderr, flush=True)
    return point


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS + list(SIZE_VARIANTS)),
                        help="comma-separated: family-arch, or one of the size variants (default: all)")
    parser.add_argument("--batches", default="32,128,256,384,512,1024", help="batch sizes (default 32,128,256,384,512,1024)")
    parser.add_argument("--variant-batches", default="64,256", help="batch sizes of the size variants (default 64,256)")
    parser.add_argument("--repeats", type=int, default=2, help="fresh processes per point (default 2)")
    parser.add_argument("--steps", type=int, default=2, help="training steps per point (default 2)")
    parser.add_argument("--data-dir", help="MNIST IDX files (default: $GENAI_DATA_DIR or ../shared/datasets/mnist)")
    parser.add_argument("--json", help="where to write every point and fit (default: benchmarks/results/...)")
    parser.add_argument("--through-the-app", metavar="MODEL:BATCH,...",
                        help="instead, train these through a running app.py and read its memory "
                             "(e.g. autoregressive-lstm:320,autoregressive-pixelcnn:320)")
    parser.add_argument("--report", metavar="JSON", help="print the tables of results written before, and measure nothing")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report:
        report(json.loads(Path(args.report).read_text()))
        return
    if args.child:
        spec = json.loads(args.child)
        family, arch, sizes = split_name(spec["name"])
        print(json.dumps(measure_here(family, arch, sizes, spec["batch_size"], spec["steps"], spec["data_dir"])))
        return
    data_dir = find_data_dir(args.data_dir)
    if args.through_the_app:
        runs = [(item.rsplit(":", 1)[0], int(item.rsplit(":", 1)[1])) for item in args.through_the_app.split(",")]
        points = measure_through_the_app(runs, data_dir)
        print(markdown_table(["model (through the app)", "batch", "added MB", "estimate MB", "added / estimate"],
                             [[p["model"], f"{p['batch_size']:,}", f"{p['growth_mb']:,.0f}", f"{p['estimate_mb']:,.0f}",
                               f"{p['growth_mb'] / p['estimate_mb']:.2f}"] for p in points]))
        if args.json:
            write_json({"what": "what runs trained through app.py added to its memory", "machine": machine_info("cpu"),
                        "points": points}, args.json)
        return
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    points = []
    for name in names:
        batches = args.variant_batches if " " in name else args.batches
        for batch_size in (int(b) for b in batches.split(",")):
            for _ in range(args.repeats):
                points.append(measure(name, batch_size, args.steps, data_dir))
                print(f"{name} batch {batch_size}: +{points[-1]['growth_mb']:,.0f} MB "
                      f"({points[-1]['seconds']:.1f} s)", file=sys.stderr, flush=True)
    fits = {name: fit_line([p for p in points if p["model"] == name]) for name in names}
    results = {"what": "resident memory a training run adds, per model and batch size (benchmarks/train_memory.py)",
               "steps": args.steps, "child_env": CHILD_ENV, "machine": machine_info("cpu"), "points": points,
               "fits": fits}
    report(results)
    path = args.json or REPO / "benchmarks" / "results" / f"train-memory-cpu-{date.today().isoformat()}.json"
    print(f"wrote {write_json(results, path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
