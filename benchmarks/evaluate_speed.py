"""How long the Evaluate tab takes for each shipped model: seconds per 1,000 samples.

For every generative checkpoint in checkpoints/, on 2 torch threads (a free Space's size):
- evaluate: metrics.evaluate(model, test split, n_samples=1000) end to end, as the tab runs it
  (drawing the samples, the classifier's features and probabilities, FID/KID/IS, and the
  family's likelihood figure and reconstructions where it has them);
- sampling: generate_images(model, 1000) alone, the part that differs most between models;
- estimate: what the Evaluate tab's hint says before the first evaluation (genai/ui/evaluate_time.py:
  two small draws of the model timed, plus the judging timed once on random pictures), to see how
  well it predicts.

    .venv/bin/python -m benchmarks.evaluate_speed --threads 1 --json benchmarks/results/evaluate-speed-cpu-<date>.json

The table goes to stdout (Markdown); the figures live in docs/benchmarks.md.
"""

import argparse
import json
import os
import time
from pathlib import Path

import torch

from genai import metrics
from genai.checkpoints import is_checkpoint, load_model
from genai.data import load_dataset
from genai.sampling import sample

from .common import REPO, SHARED_MNIST



def shipped_models(root):
    """name -> folder of every generative checkpoint under root (not the metrics classifier)."""
    return {folder.name: folder for folder in sorted(Path(root).iterdir())
            if folder.is_dir() and folder.name != "classifier" and is_checkpoint(folder)}


def timed(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(name, model, test, samples=1000):
    """{estimate, sampling, evaluate}: seconds for 1,000 samples each."""
    from genai.ui import evaluate_time
    from genai.ui.session import ModelEntry

    sample(model, 0, 4)  # first call: one-off set-up (kernels, caches)
    entry = ModelEntry(name, model, {}, "pretrained", None)
    estimate = (evaluate_time.drawing_seconds(entry) + evaluate_time.judging_seconds()
                + evaluate_time.figures_seconds(entry))
    sampling = timed(lambda: metrics.generate_images(model, samples, seed=2))
    evaluate = timed(lambda: metrics.evaluate(model, test, n_samples=samples, seed=0))
    return {"estimate_s": round(estimate, 2), "sampling_s": round(sampling, 2), "evaluate_s": round(evaluate, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", default=str(REPO / "checkpoints"))
    parser.add_argument("--data-dir", default=os.environ.get("GENAI_DATA_DIR") or str(SHARED_MNIST))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="", help="comma-separated names (default: every shipped model)")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test = load_dataset("mnist", data_dir=args.data_dir, split="test")
    metrics.evaluate(load_model(shipped_models(args.checkpoints)["gan-mlp"])[0].eval(), test, n_samples=100)  # warm-up
    wanted = [name for name in args.models.split(",") if name]
    results = {}
    print("| model | evaluate, s per 1,000 | drawing the samples | the tab's estimate | load average |")
    print("|---|---|---|---|---|")
    for name, folder in shipped_models(args.checkpoints).items():
        if wanted and name not in wanted:
            continue
        model = load_model(folder)[0].eval().requires_grad_(False)  # as the app shares its pretrained models
        figures = measure(name, model, test)
        figures["load_average"] = round(os.getloadavg()[0], 2)
        results[name] = figures
        print(f"| {name} | {figures['evaluate_s']:.1f} | {figures['sampling_s']:.1f} | {figures['estimate_s']:.1f} | "
              f"{figures['load_average']} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"threads": args.threads, "samples": 1000, "models": results}, indent=1))


if __name__ == "__main__":
    main()
