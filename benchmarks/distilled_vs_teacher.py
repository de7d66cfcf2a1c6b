"""Distilled few-step diffusion models against their 20-step teachers, side by side in one run
(issue 43 item 1): a 64-digit grid's time, and the quality figures, all measured here.

- grid: sampling.sample(model, seed, 64), teacher and student taken in turn (the machine is shared,
  so the ratio is the figure to trust), median of --repeats each, on --threads threads;
- eval: genai.metrics.evaluate against the MNIST test split (n samples, seed 0), as `python -m genai eval`;
- judge: benchmarks/independent_judge.py's MLP (trained once here, on the train split) on the same samples.

    python benchmarks/distilled_vs_teacher.py \
        --pairs diffusion:diffusion-fast,diffusion-conditional:diffusion-conditional-fast

It prints a table and writes JSON (benchmarks/results/distilled-<date>.json).
"""

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, find_data_dir, load_average, machine_info, write_json  # noqa: E402
from benchmarks.independent_judge import judged, train_judge  # noqa: E402
from genai import metrics, sampling  # noqa: E402
from genai.checkpoints import load_model  # noqa: E402
from genai.data import load_dataset, load_training_set  # noqa: E402


def grid_times(models, repeats, seed=0, n=64):
    """Each model's 64-digit grid time (s), the models taken in turn so that load hits them alike."""
    for model in models:  # warm-up
        sampling.sample(model, seed, n)
    times = [[] for _ in models]
    for _ in range(repeats):
        for i, model in enumerate(models):
            start = time.perf_counter()
            sampling.sample(model, seed, n)
            times[i].append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def remembered_samples():
    """metrics.generate_images, remembering each model's samples so the judge reuses eval's (a model is slow)."""
    original, kept = metrics.generate_images, {}

    def generate(model, n, seed=0, labels=None, batch_size=500, **options):  # options: e.g. on_batch (progress)
        key = (id(model), n, seed, None if labels is None else tuple(np.asarray(labels).ravel()))
        if key not in kept:
            kept[key] = original(model, n, seed, labels, batch_size, **options)
        return kept[key]
    return generate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", required=True, help="teacher:student checkpoint names, comma-separated")
    parser.add_argument("--checkpoints", default=str(REPO / "checkpoints"))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--judge-epochs", type=int, default=12)
    parser.add_argument("--data-dir")
    parser.add_argument("--json", help=f"default: benchmarks/results/distilled-{date.today()}.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data_dir = find_data_dir(args.data_dir)
    test_set = load_dataset("mnist", data_dir=data_dir, split="test")
    metrics.generate_images = remembered_samples()
    judge = None
    rows = []
    for pair in args.pairs.split(","):
        names = pair.split(":")
        models = [load_model(Path(args.checkpoints) / name)[0].eval() for name in names]
        load = load_average()
        times = grid_times(models, args.repeats)
        print(f"grid ms: {', '.join(f'{n} {1000 * t:.0f}' for n, t in zip(names, times))} (load {load})", flush=True)
        if judge is None:
            judge = train_judge(load_training_set("mnist", data_dir=data_dir), args.judge_epochs)
        for role, name, model, seconds in zip(("teacher", "student"), names, models, times):
            result = metrics.evaluate(model, test_set, n_samples=args.n, seed=0)
            share, digits = judged(judge, metrics.generate_images(model, args.n, seed=0))
            rows.append({"checkpoint": name, "role": role, "model": model.describe(),
                         "network_passes": passes(model), "grid_ms": round(1000 * seconds, 1),
                         "grid_vs_teacher": round(seconds / times[0], 4),
                         "load_average_during_timing": load,
                         "recognizable_share": result["recognizable_share"], "fid": result["fid"],
                         "fid_real_floor": result["fid_real_floor"], "judge_recognizable_share": share,
                         "judge_rarest_digit_share": float(digits.min())})
            print(row_text(rows[-1]), flush=True)
    results = {"measured_against": f"the MNIST test split ({len(test_set):,} images), {args.n} samples, seed 0",
               "grid": "64 digits, seed 0, median of the repeats, teacher and student in turn",
               "threads": args.threads, "repeats": args.repeats, "judge_epochs": args.judge_epochs,
               "rows": rows, "machine": machine_info("cpu")}
    print("\n" + table(rows))
    path = write_json(results, args.json or REPO / "benchmarks" / "results" / f"distilled-{date.today()}.json")
    print(f"\nWrote {path}")
    return results


def passes(model):
    """Network passes for one grid: steps, doubled where guidance runs a second network."""
    config = model.config
    steps = config.sampling_steps
    guided = sum(1 for i in range(steps, 0, -1) if config.guidance_t_min < i / steps <= config.guidance_t_max)
    extra = guided if config.guidance_scale != 1 and (model.conditional or model.guide is not None) else 0
    return f"{steps} + {extra} guide" if extra else str(steps)


def row_text(r):
    return (f"| {r['checkpoint']} | {r['network_passes']} | {r['grid_ms']:.0f} | {r['grid_vs_teacher']:.3f} | "
            f"{100 * r['recognizable_share']:.1f}% | {r['fid']:.2f} | {100 * r['judge_recognizable_share']:.1f}% |")


def table(rows):
    return "\n".join(["| checkpoint | network passes | grid ms (64 digits) | × teacher's time | recognizable (eval) | "
                      "classifier-FID | recognizable (judge) |", "|---|---|---|---|---|---|---|",
                      *(row_text(r) for r in rows)])


if __name__ == "__main__":
    main()
