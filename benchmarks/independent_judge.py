"""A second opinion on the shipped models: a judge that is not genai's own digit classifier.

Every figure genai reports (recognizable share, FID, KID, ...) comes from its CNN classifier in
checkpoints/classifier. A model tuned against one judge can learn to please that judge only, so
this script trains a different one from scratch, a plain MLP on the pixels (784 -> 512 -> 256 -> 10,
dropout, small random shifts, taught to be unsure of non-digits), on the 60,000 training images only, reports its accuracy on the
10,000 test images, and scores each shipped checkpoint's samples the way `eval` does: the share
of 2,000 samples (seed 0) it is at least 90% sure about, and the share of the rarest digit.

    python benchmarks/independent_judge.py                       # every shipped model, 12 epochs
    python benchmarks/independent_judge.py --models vae-mlp,gan-mlp --epochs 3

It prints a table and writes JSON (benchmarks/results/judge-<date>.json).
"""

import argparse
import sys
from datetime import date
from pathlib import Path

import numpy as np
import torch
from torch import nn

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, find_data_dir, machine_info, write_json  # noqa: E402
from genai.checkpoints import load_model  # noqa: E402
from genai.data import load_dataset, load_training_set  # noqa: E402
from genai.metrics import generate_images  # noqa: E402

SURE = 0.9  # the recognizable share's threshold, as in genai.metrics.confident_share
SAMPLES = 2000


def mlp_judge():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))


def non_digits(n, generator):
    """Pictures that are no digit, (n, 28, 28) in [0, 1]: pixel noise, and blobs (noise blurred to 7x7)."""
    noise = torch.rand(n, 28, 28, generator=generator) * torch.rand(n, 1, 1, generator=generator)
    blobs = nn.functional.interpolate(torch.rand(n, 1, 7, 7, generator=generator), size=28, mode="bilinear")[:, 0]
    pick = torch.rand(n, 1, 1, generator=generator) < 0.5
    return torch.where(pick, noise, (blobs > 0.6).float() * blobs)


def train_judge(train_set, epochs=12, seed=0, batch_size=128):
    """The MLP trained on the train split with Adam; each batch shifted by up to 2 pixels.

    A network trained on digits alone is often sure of itself on noise too; so each batch also
    shows it a quarter as many non-digits, for which it learns to say "no idea": the
    cross-entropy to the uniform distribution over the 10 digits ("outlier exposure",
    Hendrycks et al. 2019). Then "at least 90% sure" means a digit.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    judge = mlp_judge()
    optimizer = torch.optim.Adam(judge.parameters(), 1e-3)
    images, labels = train_set.images.float().div(255), train_set.labels.long()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), batch_size):
            index = order[start:start + batch_size]
            dy, dx = torch.randint(-2, 3, (2,), generator=generator).tolist()
            batch = torch.roll(images[index], (dy, dx), dims=(1, 2))
            outliers = judge(non_digits(len(index) // 4, generator)).log_softmax(dim=1)
            loss = nn.functional.cross_entropy(judge(batch), labels[index]) - outliers.mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return judge.eval()


@torch.no_grad()
def judged(judge, images):
    """The judge's reading of uint8 images (N, 28, 28): (recognizable share, shares of each digit)."""
    probabilities = judge(torch.as_tensor(np.asarray(images)).float().div(255)).softmax(dim=1)
    shares = np.bincount(probabilities.argmax(dim=1).numpy(), minlength=10) / len(probabilities)
    return float((probabilities.max(dim=1).values >= SURE).float().mean()), shares


def shipped_models(folder):
    return sorted(p.name for p in Path(folder).iterdir()
                  if p.is_dir() and p.name != "classifier" and (p / "config.json").is_file())


def run_judge(data_dir, folder, names, epochs, samples=SAMPLES, limit=None):
    """Train the judge (on the first `limit` training images, if given) and score each named checkpoint."""
    train_set = load_training_set("mnist", data_dir=data_dir, limit=limit)
    test_set = load_dataset("mnist", data_dir=data_dir, split="test")
    judge = train_judge(train_set, epochs)
    with torch.no_grad():
        accuracy = float((judge(test_set.images.float().div(255)).argmax(dim=1) == test_set.labels).float().mean())
    real_share, _ = judged(judge, test_set.images[:samples])
    rows = []
    for name in names:
        model, _ = load_model(Path(folder) / name)
        share, digits = judged(judge, generate_images(model, samples, seed=0))
        rows.append({"checkpoint": name, "recognizable_share": share, "rarest_digit_share": float(digits.min()),
                     "digit_shares": [round(float(s), 4) for s in digits]})
    return {"judge": "MLP 784-512-256-10 on pixels, trained here on the train split",
            "epochs": epochs, "train_images": len(train_set), "test_accuracy": accuracy,
            "real_test_digits_recognizable": real_share, "samples_per_model": samples, "models": rows}


def table(results):
    lines = [f"Independent judge ({results['judge']}, {results['epochs']} epochs): "
             f"{100 * results['test_accuracy']:.2f}% accurate on the 10,000 test images; "
             f"{100 * results['real_test_digits_recognizable']:.1f}% of real test digits recognizable (p >= {SURE}).",
             "", "| checkpoint | recognizable (judge) | rarest digit (judge) |", "|---|---|---|"]
    lines += [f"| {r['checkpoint']} | {100 * r['recognizable_share']:.1f}% | {100 * r['rarest_digit_share']:.1f}% |"
              for r in results["models"]]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated checkpoint names (default: every shipped model)")
    parser.add_argument("--checkpoints", default=str(REPO / "checkpoints"))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--data-dir")
    parser.add_argument("--json", help=f"default: benchmarks/results/judge-{date.today()}.json")
    args = parser.parse_args(argv)
    names = args.models.split(",") if args.models else shipped_models(args.checkpoints)
    results = run_judge(find_data_dir(args.data_dir), args.checkpoints, names, args.epochs, args.samples)
    results["machine"] = machine_info("cpu")
    print(table(results))
    path = write_json(results, args.json or REPO / "benchmarks" / "results" / f"judge-{date.today()}.json")
    print(f"\nWrote {path}")
    return results


if __name__ == "__main__":
    main()
