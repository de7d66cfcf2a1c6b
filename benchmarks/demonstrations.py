"""What the Train tab's demonstrations (genai/presets.py) show, as the live-digits panel reads them.

    python benchmarks/demonstrations.py                      # every preset, at the steps its test trains
    python benchmarks/demonstrations.py --only mode-collapse --steps 600 --every 100
    python benchmarks/demonstrations.py --candidate 'gan:conditional=False,ema_decay=0,d_lr_ratio=0.1' --steps 600
    python benchmarks/demonstrations.py --candidate 'gan:conditional=False,latent_dim=1' --seeds 0 1 2 --threads 1
    python benchmarks/demonstrations.py --candidate 'gan:conditional=False,ema_decay=0' --turn 600:d_lr_ratio=0.001

Each run trains with seed 0 (or once with each of --seeds: the initial weights, batch order and
training noise) on the first 10,000 MNIST training images (as tests/test_presets.py does), and every
`--every` steps reads the 64-image preview grid (the fixed noise of seed 0, what the Train tab shows)
with the metrics classifier, as genai.ui.live_digits does: an image it is less than 90% sure of
counts as "?". Printed per reading: the two digits read most often and the share of the grid they
cover, the "?" share, how many distinct digits it reads confidently, and the pixel spread (the mean
over pixels of the standard deviation across the 64 images: near 0, copies of one picture).
--turn STEP:name=value turns a live setting during the run at that step, as a teacher turns a knob in the
Train tab (genai.knobs). Writes JSON to benchmarks/results/demonstrations-<date>.json.
"""

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, SHARED_MNIST, machine_info, write_json  # noqa: E402
from genai.data import load_dataset  # noqa: E402
from genai.knobs import LiveKnobs  # noqa: E402
from genai.metrics import classifier_probabilities  # noqa: E402
from genai.models import create_model  # noqa: E402
from genai.presets import PRESETS, preset  # noqa: E402
from genai.recipes import model_options, recipe  # noqa: E402
from genai.sampling import sample  # noqa: E402
from genai.train import TrainSettings, train  # noqa: E402

SURE = 0.9  # genai.ui.live_digits: below this, "?"
GRID = 64  # an unconditional model's preview grid


def read_grid(images):
    """What the live-digits panel shows for a grid: top-two digits and their share, "?" share, distinct digits."""
    probs = classifier_probabilities(images)
    sure = probs.max(axis=1) >= SURE
    counts = np.bincount(probs.argmax(axis=1)[sure], minlength=10)
    top = np.argsort(-counts, kind="stable")[:2]
    return {"top": [int(d) for d in top if counts[d]], "top_share": float(counts[top].sum() / len(images)),
            "unsure": float((~sure).mean()), "distinct": int((counts > 0).sum()),
            "counts": counts.tolist(),
            "spread": float(np.asarray(images, dtype=np.float32).std(axis=0).mean())}


def parse_candidate(text):
    """'gan:key=value,key=value' -> the family's recipe with those changes."""
    family, _, changes = text.partition(":")
    options = recipe(family)
    for item in filter(None, changes.split(",")):
        key, _, value = item.partition("=")
        options[key] = {"True": True, "False": False}.get(value, value)
        if isinstance(options[key], str):
            try:
                options[key] = int(value) if value.isdigit() else float(value)
            except ValueError:
                pass
    return options


def save_grid(images, path):
    """The 64 images as one 8 x 8 PNG, to look at what the classifier read."""
    from PIL import Image
    grid = np.asarray(images).reshape(8, 8, 28, 28).transpose(0, 2, 1, 3).reshape(8 * 28, 8 * 28)
    Image.fromarray(grid).resize((448, 448), Image.NEAREST).save(path)


def parse_turns(texts):
    """['600:d_lr_ratio=0.001', ...] -> {600: {"d_lr_ratio": 0.001}, ...}"""
    turns = {}
    for text in texts:
        step, _, change = text.partition(":")
        name, _, value = change.partition("=")
        turns.setdefault(int(step), {})[name] = float(value)
    return turns


def run(options, dataset, steps, every, save=None, seed=0, turns=None):
    """One seeded run of `steps` steps; the grid read every `every` steps (and at the end): a list of readings.
    The grid is always the fixed noise of seed 0 (what the Train tab shows), whatever the run's seed.
    turns: {step: {live setting: value}}, turned once the run has taken that many steps."""
    family = options["family"]
    model = create_model(family, options["arch"], seed=seed, **model_options(options, family, options["arch"]))
    settings = TrainSettings(max_steps=steps, batch_size=options["batch_size"], lr=options["lr"], seed=seed,
                             preview_images=0)
    knobs, waiting = LiveKnobs(), dict(sorted((turns or {}).items()))
    readings, start = [], time.perf_counter()
    for event in train(model, dataset, settings, knobs=knobs):
        for step in [step for step in waiting if event.step >= step]:
            knobs.turn(**waiting.pop(step))
        if event.step and (event.step % every == 0 or event.step == steps) and \
                not any(r["step"] == event.step for r in readings):
            seconds = time.perf_counter() - start
            images = sample(model, 0, GRID)
            reading = read_grid(images)
            if save:
                save_grid(images, f"{save}-{event.step}.png")
            readings.append({"step": event.step, "train_seconds": round(seconds, 1), **reading})
            print(f"  step {event.step:5d} {seconds:6.1f}s  top {reading['top']} {reading['top_share']:.0%}  "
                  f"? {reading['unsure']:.0%}  distinct {reading['distinct']}  spread {reading['spread']:.1f}",
                  flush=True)
            start = time.perf_counter() - seconds  # the clock counts training only, not reading the grid
    return readings


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help="presets to run (default: all)")
    parser.add_argument("--candidate", action="append", default=[], help="family:key=value,... (a recipe changed)")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--every", type=int, default=100, help="read the grid every N steps (a multiple of 20)")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0], help="train each run once per seed (default: 0)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--save", default=None, help="write each reading's grid as PNG files starting with this path")
    parser.add_argument("--turn", action="append", default=[], metavar="STEP:NAME=VALUE",
                        help="turn a live setting at that step, as a knob in the Train tab (repeatable)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load_dataset("mnist", data_dir=SHARED_MNIST, download=False, limit=10_000)
    runs = [(text, parse_candidate(text)) for text in args.candidate]
    if not args.candidate:
        runs += [(name, preset(name)) for name in (args.only or PRESETS)]
    results = []
    for label, options in runs:
        for seed in args.seeds:
            print(label, f"seed {seed}", {k: v for k, v in options.items() if k not in ("dataset", "seed")}, flush=True)
            save = args.save and f"{args.save}{len(results)}"
            results.append({"name": label, "seed": seed, "options": {**options, "seed": seed}, "turns": args.turn,
                            "readings": run(options, dataset, args.steps, args.every, save, seed,
                                            parse_turns(args.turn))})
    path = REPO / "benchmarks" / "results" / f"demonstrations-{datetime.now():%Y-%m-%d-%H%M%S}.json"
    write_json({"machine": machine_info("cpu"), "steps": args.steps, "seeds": args.seeds, "runs": results}, path)
    print("wrote", path)


if __name__ == "__main__":
    main()
