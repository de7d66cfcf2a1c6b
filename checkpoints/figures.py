"""Print the table of the shipped checkpoints' figures in docs/models.md, read from their `eval --json` files;
with --cards, (re)write each checkpoint's README.md model card from the same files.

    python checkpoints/figures.py [checkpoints/eval]
    python checkpoints/figures.py --cards

Every figure comes from `python -m genai eval --checkpoint checkpoints/NAME --n 2000 --seed 0
--json checkpoints/eval/NAME.json` (run by checkpoints/train_all.sh), measured against the MNIST
test split; nothing here is typed by hand.
"""

import json
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "eval"


def percent(value):
    return "–" if value is None else f"{100 * value:.1f}%"


def number(value, digits):
    return "–" if value is None else f"{value:.{digits}f}"


def row(name, r):
    counts = r["class_counts"]
    least = min(counts) / sum(counts)
    kid = "–" if r.get("kid") is None else f"{r['kid']:.3g} ± {r['kid_std']:.2g}"
    return (f"| {name} | {r['model']} | {r['fid']:.1f} ({r['fid'] / r['fid_real_floor']:.1f}x floor) | {kid} | "
            f"{r['inception_score']:.2f} | {percent(r['recognizable_share'])} | {percent(least)} | "
            f"{percent(r.get('label_agreement'))} | {likelihood(r)} | {number(r.get('ssim'), 3)} |")


def kid_floor(r):
    return "" if r.get("kid_real_floor") is None else f" (KID {r['kid_real_floor']:.2g})"


def likelihood(r):
    """The family's likelihood figure in nats: exact NLL (autoregressive) or the -ELBO bound (VAE)."""
    given = ", given y" if r.get("conditional") else ""
    if r.get("nll_nats") is not None:
        return f"{r['nll_nats']:.1f} (exact{given})"
    return "–" if r.get("negative_elbo") is None else f"≤ {r['negative_elbo']:.1f} (−ELBO{given})"


def table(folder=FOLDER):
    results = {path.stem: json.loads(path.read_text()) for path in sorted(Path(folder).glob("*.json"))}
    if not results:
        raise SystemExit(f"No eval JSON files in {folder}: run bash checkpoints/train_all.sh first.")
    first = next(iter(results.values()))
    lines = [
        f"Measured against {first['dataset']}, {first['n_samples']:,} samples each (seed {first['seed']}); "
        f"real-vs-real FID floor {first['fid_real_floor']:.2f}{kid_floor(first)}, real test digits {percent(first['recognizable_share_real'])} "
        "recognizable. −log p(x): nats per test image binarized at 0.5, exact for the autoregressive model, "
        "a bound (the negative ELBO) for a VAE (published anchors, on stochastically binarized MNIST: "
        "PixelCNN 81.3, a plain VAE's bound 86.8); \"given y\": a conditional model told each test image's "
        "digit, so −log p(x | y).",
        "",
        "| checkpoint | model | classifier-FID | classifier-KID | IS | recognizable | rarest digit | label agreement | −log p(x) | SSIM |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(row(name, r) for name, r in results.items()),
    ]
    return "\n".join(lines)


EVAL_COMMAND = "python -m genai eval --checkpoint checkpoints/{name} --n {n} --seed {seed} --json checkpoints/eval/{name}.json"


def card_text(name, folder=FOLDER):
    """The model card of checkpoints/<name>: its config.json and the figures of its eval JSON."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from genai.model_card import model_card

    results = json.loads((Path(folder) / f"{name}.json").read_text())
    metadata = json.loads((Path(__file__).resolve().parent / name / "config.json").read_text())
    command = EVAL_COMMAND.format(name=name, n=results["n_samples"], seed=results["seed"])
    return model_card(name, metadata, results, command)


def write_cards(folder=FOLDER):
    for path in sorted(Path(folder).glob("*.json")):
        card = Path(__file__).resolve().parent / path.stem / "README.md"
        card.write_text(card_text(path.stem, folder))
        print(f"Wrote {card}")


if __name__ == "__main__":
    if "--cards" in sys.argv[1:]:
        write_cards()
    else:
        print(table(sys.argv[1] if len(sys.argv) > 1 else FOLDER))
