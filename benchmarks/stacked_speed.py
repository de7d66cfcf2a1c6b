"""What stacked training saves: K solo runs one after another, against one stacked run of the K (genai/stacked.py).

For each model: K fresh models (seeds 0..K-1) trained --steps steps each, first one at a time through
genai.train.train (what the app does for K students today), then all K at once through
genai.stacked.train_stacked, with the same settings. Rounds alternate (solo first, then stacked
first, ...) after a warm-up, and the median over --repeats is reported, with the speed-up
(solo time / stacked time: above 1, stacking saves time). Prints a Markdown table and writes JSON.

    python benchmarks/stacked_speed.py                                   # on the GPU if there is one
    python benchmarks/stacked_speed.py --device cpu --threads 2 --k 3 --steps 20 --models gan-mlp,vae-mlp

Stacking pays where a small model leaves the device idle between its many small kernels (a GPU);
on a CPU, which is busy with the arithmetic itself, expect little.
"""

import argparse
import gc
import sys
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import REPO, Stopwatch, find_data_dir, machine_info, median, write_json  # noqa: E402
from genai.data import load_dataset  # noqa: E402
from genai.models import create_model  # noqa: E402
from genai.stacked import train_stacked  # noqa: E402
from genai.train import TrainSettings, train  # noqa: E402

# The models that can stack (see genai/stacked.py), at their default sizes.
MODELS = {
    "gan-mlp": ("gan", "mlp", {}),
    "vae-mlp": ("vae", "mlp", {}),
    "vae-conv": ("vae", "conv", {}),
    "diffusion-unet": ("diffusion", "unet", {}),
    "autoregressive-pixelcnn": ("autoregressive", "pixelcnn", {}),
}


def fresh_models(name, k, device):
    family, arch, options = MODELS[name]
    return [create_model(family, arch, seed=seed, **options).to(device) for seed in range(k)]


def run_settings(k, steps, batch_size):
    """One run's settings per model: its own seed; previews off, as in the other training benchmarks."""
    return [TrainSettings(max_steps=steps, batch_size=batch_size, seed=seed, preview_images=0) for seed in range(k)]


def solo_seconds(name, dataset, k, steps, batch_size, device):
    """K runs one after another, each through the one training loop."""
    models, settings = fresh_models(name, k, device), run_settings(k, steps, batch_size)
    gc.collect()
    with Stopwatch(device) as watch:
        for model, run in zip(models, settings):
            for _ in train(model, dataset, run):
                pass
    return watch.seconds


def stacked_seconds(name, dataset, k, steps, batch_size, device):
    """One stacked run of the K."""
    models, settings = fresh_models(name, k, device), run_settings(k, steps, batch_size)
    gc.collect()
    with Stopwatch(device) as watch:
        train_stacked(models, dataset, settings)
    return watch.seconds


def measure(name, dataset, k, steps, batch_size, repeats, device, progress=print):
    """{"solo_s", "stacked_s", "speedup", ...} of one model: medians over `repeats` alternating rounds."""
    solo_seconds(name, dataset, k, 2, batch_size, device)  # warm-up: first calls allocate, pick kernels
    stacked_seconds(name, dataset, k, 2, batch_size, device)
    solo, stacked = [], []
    for round_index in range(repeats):
        ways = [(solo, solo_seconds), (stacked, stacked_seconds)]
        for times, way in ways if round_index % 2 == 0 else ways[::-1]:  # neither always goes first
            times.append(way(name, dataset, k, steps, batch_size, device))
        progress(f"  {name} round {round_index + 1}/{repeats}: {k} solo {solo[-1]:.2f} s, stacked {stacked[-1]:.2f} s")
    speedups = [s / t for s, t in zip(solo, stacked)]  # within each round: the runs closest in time
    return {"model": name, "k": k, "steps": steps, "batch_size": batch_size, "repeats": repeats,
            "solo_s": round(median(solo), 3), "stacked_s": round(median(stacked), 3),
            "speedup": round(median(speedups), 2), "runs_solo_s": [round(s, 3) for s in solo],
            "runs_stacked_s": [round(s, 3) for s in stacked]}


def table(rows, device):
    first = rows[0]
    lines = [f"K models of one kind trained {first['steps']} steps each at batch {first['batch_size']} on {device}, "
             f"median of {first['repeats']}:", "",
             "| model | K | K solo runs, one after another | one stacked run of K | speed-up (solo / stacked) |",
             "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['model']} | {row['k']} | {row['solo_s']:.2f} s | {row['stacked_s']:.2f} s | "
                     f"{row['speedup']:.2f}x |")
    return "\n".join(lines)


def main(argv=None, doc=__doc__, measure=measure, table=table, results="stacked"):
    """The command line; benchmarks/together_speed.py runs it with its own doc, measure, table and file name."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of: {', '.join(MODELS)}")
    parser.add_argument("--k", type=int, default=4, help="models trained at once (default 4)")
    parser.add_argument("--steps", type=int, default=100, help="training steps of each run (default 100)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--data-dir", help="MNIST folder (default: $GENAI_DATA_DIR or ../shared/datasets/mnist)")
    parser.add_argument("--limit", type=int, default=10_000, help="training images to load (default 10,000)")
    parser.add_argument("--json", help=f"default: benchmarks/results/{results}-<date>.json")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.models.split(",")
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}: choose from {', '.join(MODELS)}")
    machine = machine_info(args.device)  # before the runs: the load average at the start
    dataset = load_dataset("mnist", data_dir=find_data_dir(args.data_dir), download=False, limit=args.limit)
    path = args.json or REPO / "benchmarks" / "results" / f"{results}-{date.today().isoformat()}.json"
    rows = []
    for name in names:
        rows.append(measure(name, dataset, args.k, args.steps, args.batch_size, args.repeats, args.device,
                            progress=lambda line: print(line, file=sys.stderr)))
        write_json({"machine": machine, "options": vars(args), "results": rows}, path)  # after each model: a
        # run cut short by a time limit keeps what it measured
    print(table(rows, args.device))
    print(f"\nWrote {path}")


if __name__ == "__main__":
    main()
