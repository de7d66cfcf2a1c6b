"""Which digit each category of an InfoGAN (`--categories K`) draws, as genai's classifier reads it.

    python benchmarks/gan_categories.py checkpoints/gan-mlp

The GAN learned its K categories without labels, so nothing makes category 3 a "3". For each
category c this draws 200 samples with the category fixed (the noise's first K numbers set so that
c is their largest; the rest random, seed 1) and prints the two digits the classifier sees most
often, with their shares: a category that found one digit draws it (almost) every time. Prints a
table and writes JSON (benchmarks/results/gan-categories-<date>.json).
"""

import argparse
import sys
from datetime import date
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, machine_info, write_json  # noqa: E402
from benchmarks.run import markdown_table  # noqa: E402
from genai import metrics  # noqa: E402
from genai.checkpoints import load_model  # noqa: E402
from genai.sampling import decode  # noqa: E402

PER_CATEGORY = 200


def noise_for_category(category, categories, n, latent_dim, generator):
    """n noise vectors whose first `categories` numbers pick `category` (it is 5, the others -5)."""
    z = torch.randn(n, latent_dim, generator=generator)
    z[:, :categories] = -5.0
    z[:, category] = 5.0
    return z


def category_digits(model, per_category=PER_CATEGORY, seed=1):
    """One row per category: how many of its samples the classifier reads as each digit 0-9."""
    k = model.config.categories
    if not k:
        raise SystemExit(f"{model.describe()} has no categories (trained without --categories).")
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for category in range(k):
        z = noise_for_category(category, k, per_category, model.latent_dim, generator)
        with torch.no_grad():
            images = decode(model, z)
        counts = metrics.class_histogram(metrics.classifier_probabilities(images))
        rows.append({"category": category, "digit_counts": [int(c) for c in counts]})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / f"gan-categories-{date.today()}.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, _ = load_model(args.checkpoint)
    rows = category_digits(model)
    table = []
    for row in rows:
        counts = np.array(row["digit_counts"])
        first, second = np.argsort(-counts, kind="stable")[:2]
        table.append([row["category"], f"{first} ({counts[first] / counts.sum():.0%})",
                      f"{second} ({counts[second] / counts.sum():.0%})"])
    print(f"{model.describe()}: {PER_CATEGORY} samples per category (seed 1), read by genai's classifier")
    print(markdown_table(["category", "most often", "second"], table))
    results = {"machine": machine_info("cpu"), "checkpoint": args.checkpoint, "model": model.describe(),
               "per_category": PER_CATEGORY, "seed": 1, "rows": rows}
    print(f"JSON: {write_json(results, args.json)}")


if __name__ == "__main__":
    main()
