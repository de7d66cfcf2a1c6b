"""Is the training loop as fast as it was? This working tree's genai beside an older revision's, side by side.

A change to genai/train.py (a new option, a check per step) must not slow the CPU path that
every teacher without a GPU uses. This benchmark exports genai/ at a git revision (--against)
into a temporary folder and trains the same models with both copies, in alternating order
(this tree first in even rounds, the old one first in odd rounds), each run in a fresh Python
process that imports only its own copy. A run builds the model from the same seed, takes
--warmup steps (not timed), then times a fresh run of --steps steps of genai.train.train
(previews off), optimizer set-up included. The ratio is the median of the per-round ratios
new / old images per second: above 1 the working tree is faster.

    python -m benchmarks.loop_versions --against b3a1069^ --device cpu \
        --json benchmarks/results/loop-versions-cpu-DATE.json

Only APIs that both copies have are used (create_model, load_training_set, TrainSettings, train).
"""

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, find_data_dir, machine_info, median, write_json  # noqa: E402
from benchmarks.run import markdown_table  # noqa: E402

# name: (family, arch, conditional, extra options); the default GAN is the Train tab's recipe.
MODELS = {
    "gan-dcgan-conditional-32ch": ("gan", "dcgan", True, {"channels": 32, "ema_decay": 0.999}),
    "gan-mlp": ("gan", "mlp", False, {}),
    "vae-mlp-conditional": ("vae", "mlp", True, {"latent_dim": 16, "beta": 3.0}),
    "diffusion-unet-conditional-16ch": ("diffusion", "unet", True, {"channels": 16, "ema_decay": 0.999}),
}

# Runs in a fresh process with one copy of genai first on sys.path; prints one JSON line.
CHILD = r"""
import json, sys, time
tree, spec = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, tree)
import torch
torch.set_num_threads(spec["threads"])
import genai
from genai.data import load_training_set
from genai.models import create_model
from genai.train import TrainSettings, train
assert genai.__file__.startswith(tree), genai.__file__
dataset = load_training_set(data_dir=spec["data_dir"], download=False, limit=spec["limit"])
model = create_model(spec["family"], spec["arch"], seed=0, conditional=spec["conditional"], **spec["options"])
model = model.to(spec["device"])

def run(steps):
    settings = TrainSettings(max_steps=steps, batch_size=spec["batch_size"], lr=spec["lr"], seed=0,
                             preview_images=0)
    last = None
    for last in train(model, dataset, settings):
        pass
    if last.step != steps:
        raise SystemExit(f"stopped after {last.step} of {steps} steps: {last.message}")

run(spec["warmup"])
if spec["device"].startswith("cuda"):
    torch.cuda.synchronize()
start = time.perf_counter()
run(spec["steps"])
if spec["device"].startswith("cuda"):
    torch.cuda.synchronize()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "images_per_sec": spec["steps"] * spec["batch_size"] / seconds}))
"""


def export_revision(revision, folder):
    """genai/ as it was at `revision`, unpacked into folder (git archive: the working tree is not touched)."""
    exported = subprocess.run(["git", "archive", "--format=tar", revision, "genai"], cwd=REPO, capture_output=True)
    if exported.returncode:
        raise SystemExit(f"Cannot export genai/ at revision {revision!r}: {exported.stderr.decode().strip()}\n"
                         "Give a commit of this repository, e.g. HEAD~3 or b3a1069^.")
    archive = exported.stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    commit = subprocess.run(["git", "rev-parse", "--short", revision], cwd=REPO, check=True, capture_output=True,
                            text=True).stdout.strip()
    return commit


def timed_run(tree, spec):
    """One child process training with the genai in `tree`; returns its images per second."""
    env = dict(os.environ, PYTHONPATH="", OMP_NUM_THREADS=str(spec["threads"]))
    done = subprocess.run([sys.executable, "-c", CHILD, str(tree), json.dumps(spec)], capture_output=True,
                          text=True, env=env, cwd=tempfile.gettempdir())
    if done.returncode:
        raise RuntimeError(f"run with {tree} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["images_per_sec"]


def compare(trees, names, args, progress=print):
    """{model: {"new": [img/s per round], "old": [...], "ratios": [...]}} over args.rounds alternating rounds."""
    results = {}
    for name in names:
        family, arch, conditional, options = MODELS[name]
        spec = {"family": family, "arch": arch, "conditional": conditional, "options": options,
                "device": args.device, "threads": args.threads, "data_dir": str(args.data_dir), "limit": args.limit,
                "batch_size": args.batch_size, "lr": 1e-3, "warmup": args.warmup, "steps": args.steps}
        rounds = {"new": [], "old": []}
        for round_number in range(args.rounds):
            order = ("new", "old") if round_number % 2 == 0 else ("old", "new")
            for which in order:
                rounds[which].append(timed_run(trees[which], spec))
            progress(f"  {name} round {round_number + 1}: this tree {rounds['new'][-1]:,.0f} img/s, "
                     f"old {rounds['old'][-1]:,.0f} img/s")
        ratios = [new / old for new, old in zip(rounds["new"], rounds["old"])]
        results[name] = {**rounds, "ratios": ratios, "new_median": median(rounds["new"]),
                         "old_median": median(rounds["old"]), "ratio": median(ratios)}
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", required=True, help="the git revision to compare with, e.g. b3a1069^")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated, from: " + ", ".join(MODELS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run (2: a free Space)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    args.data_dir = find_data_dir(args.data_dir)
    args.data_dir = args.data_dir and args.data_dir.resolve()  # the runs start in another folder
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}: choose from {', '.join(MODELS)}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as old_tree:
        commit = export_revision(args.against, old_tree)
        head = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()
        print(f"This tree ({head}) against {args.against} ({commit}), {args.rounds} alternating rounds, "
              f"{args.steps} steps of {args.batch_size}, {args.threads} threads, {args.device}")
        results = compare({"new": REPO, "old": Path(old_tree)}, names, args)
    rows = [[name, f"{r['new_median']:,.0f}", f"{r['old_median']:,.0f}", f"{r['ratio']:.3f}x",
             f"{min(r['ratios']):.2f}-{max(r['ratios']):.2f}"] for name, r in results.items()]
    print()
    print(markdown_table(["model", f"this tree ({head}) img/s", f"{args.against} ({commit}) img/s",
                          "ratio (median of rounds)", "ratio range"], rows))
    if args.json:
        write_json({"machine": machine_info(args.device), "command": " ".join(sys.argv), "this_tree": head,
                    "against": args.against, "against_commit": commit, "settings": {
                        key: (str(value) if key == "data_dir" else value) for key, value in vars(args).items()},
                    "seconds": round(time.perf_counter() - started, 1), "results": results}, args.json)
        print(f"\nWrote {args.json}")


if __name__ == "__main__":
    main()
