"""How the default recipes were chosen: candidate recipes measured like the defaults, up to the goal time.

    python -m benchmarks.recipe_search            # about 8 minutes on a 2-core CPU
    python -m benchmarks.recipe_search --threads 1
    python -m benchmarks.recipe_search --threads 1 --only "conditional DCGAN" --rounds 2

Each candidate trains from scratch on the MNIST train split for its family's goal time (GAN 60 s,
VAE 20 s of training), judged every 5 s like benchmarks/time_to_quality.py. Prints a Markdown
table and writes JSON to benchmarks/results/recipe-search-<date>.json.
"""

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, find_data_dir, machine_info  # noqa: E402
from benchmarks.run import markdown_table  # noqa: E402
from benchmarks.time_to_quality import REFERENCE, QualityRun, time_to_quality  # noqa: E402
from genai.data import load_dataset  # noqa: E402
from genai.recipes import RECIPES  # noqa: E402

MLP_GAN = REFERENCE["gan"]
DCGAN_32 = {**MLP_GAN, "arch": "dcgan", "channels": 32, "ema_decay": 0.999}
CANDIDATES = (
    QualityRun("MLP GAN (the seeds')", "gan", MLP_GAN),
    QualityRun("MLP GAN + EMA, lr 5e-4", "gan", {**MLP_GAN, "ema_decay": 0.999, "lr": 5e-4}),
    QualityRun("DCGAN-32 + EMA, lr 5e-4", "gan", {**DCGAN_32, "lr": 5e-4}),
    QualityRun("conditional DCGAN-32 + EMA, lr 5e-4", "gan", {**DCGAN_32, "conditional": True, "lr": 5e-4}),
    QualityRun("conditional DCGAN-32 + EMA, lr 1e-3 (default)", "gan", RECIPES["gan"]),
    QualityRun("MLP VAE (plain)", "vae", REFERENCE["vae"]),
    QualityRun("conditional MLP VAE", "vae", {**REFERENCE["vae"], "conditional": True}),
    QualityRun("conditional, latent 8, beta 2", "vae", {**REFERENCE["vae"], "conditional": True, "latent_dim": 8,
                                                        "beta": 2.0}),
    QualityRun("conditional, latent 16, beta 3, lr 2e-3 (default)", "vae", RECIPES["vae"]),
)


def chosen(only):
    """The candidates whose name contains one of the semicolon-separated parts of `only` (all for None)."""
    if not only:
        return CANDIDATES
    parts = [part.strip() for part in only.split(";") if part.strip()]
    return tuple(run for run in CANDIDATES if any(part in run.name for part in parts))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recipe_search", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", help="semicolon-separated parts of candidate names: run only the candidates "
                                        "whose name contains one of them (default: every candidate)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the chosen candidates this many times, in turn (A B, A B, ...): a noisy machine "
                             "then slows each alike")
    parser.add_argument("--data-dir")
    parser.add_argument("--json", help="where to write the results (default: "
                                       "benchmarks/results/recipe-search-DATE.json)")
    args = parser.parse_args(argv)
    candidates = chosen(args.only)
    if not candidates:
        parser.error(f"no candidate's name contains any of {args.only!r}; the candidates: "
                     + "; ".join(run.name for run in CANDIDATES))
    dataset = load_dataset("mnist", data_dir=find_data_dir(args.data_dir), split="train")
    results = []
    for round_ in range(1, args.rounds + 1):
        for run in candidates:
            result = time_to_quality(run, dataset, "cpu", max_seconds=run.goal[0], samples=1000, threads=args.threads,
                                     progress=lambda line: print(line, file=sys.stderr, flush=True))
            results.append({**result, "round": round_})
    rows = [[r["model"], r["round"], f"{r['goal_share']:.0%} at {r['goal_seconds']:.0f} s",
             "—" if r["share_at_goal"] is None else f"{r['share_at_goal']:.1%} ({r['digits_drawn_at_goal']} digits)",
             "met" if r["goal_met"] else "not met", r["steps"]] for r in results]
    print(markdown_table(["candidate", "round", "goal", "share at goal time", "goal", "steps"], rows))
    path = Path(args.json) if args.json else REPO / "benchmarks" / "results" / f"recipe-search-{datetime.now():%Y-%m-%d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine_info("cpu"), "command": " ".join(sys.argv), "threads": args.threads,
                                "runs": results}, indent=2) + "\n")
    print(f"\nResults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
