"""How much memory a training run adds, per model and batch size: what genai/costs.py is calibrated on.

A run's memory is its model (weights, gradients, Adam's two moments, a moving average) plus what one
step keeps alive between the forward pass and the backward pass: every layer's activations, for every
image of the batch. The second part grows with the batch, so a run's peak is close to a straight line,
    peak = fixed + per_image * batch_size,
and a batch size a visitor types can cost gigabytes. This script measures that line.

Each point is a fresh Python process (as alike to the app as a child can be: one CPU thread, two malloc
arenas) that loads MNIST and warms up as a server that has trained before is warm: one step of the same
model at batch 2, then everything freed and handed back to the system (malloc_trim), so PyTorch's code and
kernels are loaded but no memory is left over to reuse. Then it notes its resident memory, builds the model
the Train tab would build (the family's recipe, conditional) and trains `--steps` steps at that batch
through genai's own loop, live previews included. The figure is the peak resident memory (Linux's VmHWM,
reset just before) minus what the process held before the model existed: what the run added. Steps after
the first count: only then do Adam's moments and a step's activations live side by side.

    python -m benchmarks.train_memory --json benchmarks/results/train-memory-cpu-DATE.json
    python -m benchmarks.train_memory --models gan-mlp --batches 16,32 --repeats 1   # a smoke test

It prints one table of every point (the spread over repeats, and genai/costs.py's estimate beside it) and
one of each model's fitted line (what genai/costs.py's MEASURED holds). `--report JSON` prints them again.
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
    train_as_the_app_does(family, arch, chosen, dataset, 2, 1)  # the warm-up
    give_back_freed_memory()
    before = current_rss_mb()
    if not reset_peak_rss():
        raise RuntimeError("cannot reset the peak RSS (/proc/self/clear_refs): this benchmark needs Linux")
    started = time.perf_counter()
    model = train_as_the_app_does(family, arch, chosen, dataset, batch_size, steps)
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


def point_rows(points):
    """One row per model and batch: the median of what the runs added, their spread, and genai/costs.py's estimate."""
    from genai.costs import run_cost

    rows = []
    for (name, batch), group in grouped(points).items():
        growth = [p["growth_mb"] for p in group]
        seconds = [p["seconds"] for p in group]
        estimate = run_cost(*split_name(name)).peak_mb(batch)
        rows.append([name, f"{batch:,}", f"{np.median(growth):,.0f}", f"{min(growth):,.0f}-{max(growth):,.0f}",
                     f"{estimate:,.0f}", f"{max(growth) / estimate:.2f}", f"{np.median(seconds):.1f}", len(group)])
    return rows


def report(results):
    """The two tables: every point beside its estimate, and each model's fitted line."""
    print(markdown_table(["model", "batch", "added MB (median)", "spread", "estimate MB", "most / estimate",
                          "seconds", "runs"], point_rows(results["points"])))
    print()
    print(markdown_table(["model", "fixed MB", "MB per image", "largest miss MB", "points"],
                         [[n, f["fixed_mb"], f["per_image_mb"], f["largest_miss_mb"], f["points"]]
                          for n, f in results["fits"].items()]))


def grouped(points):
    groups = {}
    for p in points:
        groups.setdefault((p["model"], p["batch_size"]), []).append(p)
    return groups


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS + list(SIZE_VARIANTS)),
                        help="comma-separated: family-arch, or one of the size variants (default: all)")
    parser.add_argument("--batches", default="32,128,512,1024", help="batch sizes (default 32,128,512,1024)")
    parser.add_argument("--variant-batches", default="64,256", help="batch sizes of the size variants (default 64,256)")
    parser.add_argument("--repeats", type=int, default=2, help="fresh processes per point (default 2)")
    parser.add_argument("--steps", type=int, default=2, help="training steps per point (default 2)")
    parser.add_argument("--data-dir", help="MNIST IDX files (default: $GENAI_DATA_DIR or ../shared/datasets/mnist)")
    parser.add_argument("--json", help="where to write every point and fit (default: benchmarks/results/...)")
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
