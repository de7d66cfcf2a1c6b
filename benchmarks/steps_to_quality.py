"""Steps to quality: how many training steps the default GAN needs to draw >= 90% recognizable digits.

On a GPU these small models are bound by kernel launches: a step of 1,024 images costs about what
a step of 64 does (docs/benchmarks.md, "On an NVIDIA H200"). So the seconds a GPU needs to reach
readable digits are, roughly, (steps needed) x (time per step), and the steps needed do not depend
on the device. This benchmark counts them, on any machine (a CPU too, slowly), for the GAN recipe
at larger batches and learning rates: a candidate that needs fewer steps than the GPU recipe
(batch 1024, lr 4e-3) is worth timing on a GPU (python -m benchmarks.speedups --quality-variants).

Each variant trains the Train tab's GAN from the same seed (--seeds: several, each run apart, for
how much a result owes to luck); every --eval-every steps, 500 samples from seed 0 are judged as benchmarks/time_to_quality.py judges them (the metrics classifier,
trained on the train split, >= 90% sure; every digit >= 6% of the samples). Prints a table and
writes JSON:

    python -m benchmarks.steps_to_quality --json benchmarks/results/steps-to-quality-cpu-DATE.json
    python -m benchmarks.steps_to_quality --variants "batch 1024, lr 4e-3" --max-steps 100 --limit 8192
"""

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import find_data_dir, machine_info, write_json  # noqa: E402
from benchmarks.run import markdown_table  # noqa: E402
from benchmarks.time_to_quality import QualityRun, digits_drawn, judge, meets  # noqa: E402
from genai.classifier import default_classifier  # noqa: E402
from genai.data import load_training_set  # noqa: E402
from genai.recipes import recipe  # noqa: E402
from genai.speedups import scaled_lr  # noqa: E402
from genai.train import TrainSettings, train  # noqa: E402

GOAL_SHARE = 0.9


def gan_variant(batch_size, lr, **changes):
    """The Train tab's GAN recipe at another batch size and learning rate (and other changes)."""
    return {**recipe("gan"), "batch_size": batch_size, "lr": lr, **changes}


VARIANTS = {
    "batch 1024, lr 4e-3": gan_variant(1024, 4e-3),  # the recipe on a CUDA device until 2026-12-05
    "batch 1024, lr 8e-3": gan_variant(1024, 8e-3),
    "batch 2048, lr 5.7e-3": gan_variant(2048, round(scaled_lr(1e-3, 2048), 5)),  # the square-root rule
    "batch 4096, lr 8e-3": gan_variant(4096, scaled_lr(1e-3, 4096)),
    "batch 64, lr 1e-3": gan_variant(64, 1e-3),  # the recipe on a CPU
    "batch 64, lr 1e-3, D lr x2": gan_variant(64, 1e-3, d_lr_ratio=2.0),
    # Changes that might need fewer steps at the same batch (a GPU step of this size costs the same either way):
    "batch 1024, lr 4e-3, D lr x2": gan_variant(1024, 4e-3, d_lr_ratio=2.0),  # two time-scales (TTUR)
    "batch 1024, lr 4e-3, D lr x3": gan_variant(1024, 4e-3, d_lr_ratio=3.0),  # the CUDA recipe (genai/recipes.py)
    "batch 1024, lr 4e-3, D lr x4": gan_variant(1024, 4e-3, d_lr_ratio=4.0),
    "batch 1024, lr 8e-3, D lr x2": gan_variant(1024, 8e-3, d_lr_ratio=2.0),
    "batch 1024, lr 4e-3, 64 channels": gan_variant(1024, 4e-3, channels=64),  # a wider G and D
    # A wider G and D cost a launch-bound GPU step about the same time (the H200: 7.5 ms per step of
    # 1,024 for the 64-channel DCGAN, 8.6 ms for the recipe's 32 channels), so fewer steps would be fewer
    # seconds. Counted on 2026-12-05: more steps, not fewer (560 and 640 against 480 and 480; docs/benchmarks.md).
    "batch 1024, lr 4e-3, D lr x3, 64 channels": gan_variant(1024, 4e-3, d_lr_ratio=3.0, channels=64),
    "batch 1024, lr 6e-3": gan_variant(1024, 6e-3),
}


def steps_to_quality(name, options, dataset, device, max_steps, eval_every, samples=500, classifier=None,
                     stop_at_goal=True, progress=print, seed=0):
    """Train one variant, judging it every eval_every steps; the first step that meets the goal (or None)."""
    classifier = default_classifier(device) if classifier is None else classifier
    run = QualityRun(name, "gan", options)
    model = run.build(device, seed=seed)
    settings = TrainSettings(seed=seed, batch_size=options["batch_size"], lr=options["lr"], max_steps=max_steps,
                             log_every=eval_every, preview_images=0)
    evaluations, reached, start = [], None, time.perf_counter()
    events = train(model, dataset, settings)
    try:
        for event in events:
            due = event.step % eval_every == 0 or event.done
            judged_already = evaluations and evaluations[-1]["step"] == event.step  # (the last event repeats it)
            if due and not judged_already:
                share, counts = judge(model, classifier, samples, 0)
                evaluation = {"step": event.step, "images": event.step * options["batch_size"],
                              "share": round(share, 4), "digits_drawn": digits_drawn(counts), "class_counts": counts}
                evaluations.append(evaluation)
                if progress:
                    progress(f"  {name}: step {event.step:5d}: {share:.1%} recognizable, "
                             f"{evaluation['digits_drawn']} digits at >= 6%")
                if reached is None and meets(evaluation, GOAL_SHARE):
                    reached = event.step
                    if stop_at_goal:
                        break
            if event.done:
                break
    finally:
        events.close()
    return {"variant": name, "seed": seed, "recipe": options, "goal_share": GOAL_SHARE, "steps_to_goal": reached,
            "images_to_goal": reached and reached * options["batch_size"], "eval_every": eval_every,
            "max_steps": max_steps, "samples": samples, "evaluations": evaluations,
            "wall_seconds": round(time.perf_counter() - start, 1)}


def table(results):
    rows = []
    for result in results:
        last = result["evaluations"][-1] if result["evaluations"] else None
        reached = result["steps_to_goal"]
        rows.append([result["variant"], result.get("seed", 0), f"{reached:,}" if reached else f"> {last and last['step']:,}",
                     f"{result['images_to_goal']:,}" if reached else "-",
                     f"{last['share']:.1%} at step {last['step']:,}" if last else "-"])
    return markdown_table(["variant", "seed", "steps to >= 90%", "images seen", "last evaluation"], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default=None,
                        help="semicolon-separated names (default: all): " + "; ".join(VARIANTS))
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=40, help="steps between evaluations")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N training images only")
    parser.add_argument("--keep-going", action="store_true", help="train to --max-steps even after the goal")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds (weights, batches, noise)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    names = list(VARIANTS) if args.variants is None else [n.strip() for n in args.variants.split(";") if n.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}: choose from {'; '.join(VARIANTS)}")
    torch.set_num_threads(args.threads)
    dataset = load_training_set(data_dir=find_data_dir(args.data_dir), download=False, limit=args.limit)
    classifier = default_classifier(args.device)
    try:
        seeds = [int(value) for value in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds takes whole numbers separated by commas, e.g. 0,1 (not {args.seeds!r})")
    results = []
    for name in names:
        for seed in seeds:
            results.append(steps_to_quality(name, VARIANTS[name], dataset, args.device, args.max_steps, args.eval_every,
                                            args.samples, classifier, stop_at_goal=not args.keep_going, seed=seed))
            if args.json:  # after every run: a long benchmark cut short keeps what it measured
                write_json({"machine": machine_info(args.device), "command": " ".join(sys.argv),
                            "dataset": f"{len(dataset):,} training images", "results": results}, args.json)
    print()
    print(table(results))
    if args.json:
        print(f"\nWrote {args.json}")
    return results


if __name__ == "__main__":
    main()
