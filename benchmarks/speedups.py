"""What larger batches buy the training step, beside a plain PyTorch loop.

    python -m benchmarks.speedups --device cuda                # on a GPU: every family, every variant
    python -m benchmarks.speedups --quick                      # a smoke test (a few minutes on a CPU)
    python -m benchmarks.speedups --models gan-dcgan --variants "engine fp32,batch 1024"
    python -m benchmarks.speedups --report benchmarks/results/speedups-cuda-2026-12-04-every-model.json

Part 1, speed. For each model, every variant trains the same model class from the same
starting weights, side by side in one process, in rotating order (A B C, B C A, ...), so a
noisy machine slows them all alike:

- reference loop   the plain PyTorch loop (DataLoader + .to(device); benchmarks/training_speed.py)
- engine fp32      genai's training loop as the app runs it (in float32): the baseline every ratio divides by
- batch 256, batch 1024: the same loop with larger batches (fewer, bigger kernels per image)

(bfloat16 and torch.compile were variants here too; they did not pay for these models and were
taken out of genai. Their figures stay in docs/benchmarks.md and benchmarks/results/, and
--report still prints those files.)

A variant's first run (warm-up) is timed on its own. Figures: median images/s, seconds per
60,000-image epoch (60,000 / images/s), and the median of the per-round ratios to "engine fp32".
A variant that fails (e.g. a batch the device has no memory for) is reported with its error
instead of stopping the benchmark.

Part 2, quality. Speed is worth nothing if the model learns worse per second. The default GAN
recipe (genai/recipes.py) trains from scratch with each quality variant, judged every few
seconds by the metrics classifier (benchmarks/time_to_quality.py): seconds of training until
>= 90% of samples are recognized with confidence >= 0.9 and every digit makes up >= 6%.
A larger batch uses the square-root rule for its learning rate (speedups.scaled_lr).

Results: benchmarks/results/speedups-<device>-<date>.json and Markdown tables on stdout. The JSON is
rewritten after every warm-up, timed round and quality run, so a run stopped by a time limit keeps
what it measured (--report prints its tables).
"""

import argparse
import gc
import json
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import LoadMonitor, Stopwatch, find_data_dir, load_average, machine_info, median, write_json  # noqa: E402
from benchmarks.run import RESULTS_DIR, markdown_table, number, parse_models, parse_names  # noqa: E402
from benchmarks.time_to_quality import QualityRun, time_to_quality  # noqa: E402
from benchmarks.training_speed import ALL_MODELS, reference_run  # noqa: E402
from genai.data import DatasetError, load_dataset  # noqa: E402
from genai.device import DEVICE_CHOICES, DeviceError, pick_device  # noqa: E402
from genai.recipes import recipe  # noqa: E402
from genai.speedups import scaled_lr  # noqa: E402
from genai.train import TrainSettings, TrainingError, train  # noqa: E402
from genai.__main__ import positive_float, positive_int  # noqa: E402

EPOCH_IMAGES = 60_000  # MNIST's train split: "seconds per epoch" = EPOCH_IMAGES / images per second
LOG_EVERY = TrainSettings().log_every
BASELINE = "engine fp32"
GPU_GOAL = (5.0, 0.90)  # issue 12's goal on an H100: the default GAN >= 90% recognizable within 5 s


@dataclass(frozen=True)
class Variant:
    """One way to run the training step."""

    name: str
    batch_size: int = 64
    loop: str = "engine"  # or "reference": the plain PyTorch loop
    lr_factor: float = 1.0  # quality runs: the square-root rule's learning rate times this
    d_lr_ratio: float | None = None  # quality runs: the GAN's D learns at this x G's rate (None: the recipe's)

    def lr(self, base_lr):
        """The learning rate at this batch size: the square-root rule from batch 64."""
        return scaled_lr(base_lr, self.batch_size)


VARIANTS = (
    Variant("reference loop", loop="reference"),
    Variant(BASELINE),
    Variant("batch 256", batch_size=256),
    Variant("batch 1024", batch_size=1024),
)
QUALITY_VARIANTS = (Variant(BASELINE), Variant("batch 256", batch_size=256), Variant("batch 1024", batch_size=1024))
QUALITY_CHOICES = QUALITY_VARIANTS + (
    Variant("batch 2048", batch_size=2048), Variant("batch 4096", batch_size=4096),
    # Fewer steps to 90% at batch 1024, counted on a CPU by benchmarks/steps_to_quality.py (docs/benchmarks.md):
    Variant("batch 1024 lr x2", batch_size=1024, lr_factor=2.0),
    Variant("batch 1024 D lr x2", batch_size=1024, d_lr_ratio=2.0),
    Variant("batch 1024 D lr x3", batch_size=1024, d_lr_ratio=3.0),
)

MODES = {
    "full": {"repeats": 3, "target_seconds": 1.0, "warmup_steps": 20, "quality_seconds": 30.0,
             "eval_every_seconds": 1.0, "samples": 500},
    "quick": {"repeats": 2, "target_seconds": 0.3, "warmup_steps": 3, "quality_seconds": 4.0,
              "eval_every_seconds": 2.0, "samples": 100},
}


# --- part 1: speed ----------------------------------------------------------------------------


def run_steps(model, dataset, variant, steps, lr, device):
    """Train `model` for `steps` steps the variant's way (engine or reference loop)."""
    if variant.loop == "reference":
        reference_run(model, dataset, steps, variant.batch_size, lr, 0, device)
        return
    settings = TrainSettings(max_steps=steps, batch_size=variant.batch_size, lr=lr, seed=0, preview_images=0)
    last = None
    for last in train(model, dataset, settings):
        pass
    if last.step != steps:
        raise RuntimeError(f"stopped after {last.step} of {steps} steps: {last.message}")


def timed(model, dataset, variant, steps, lr, device):
    """Seconds for `steps` steps (the device waited for before and after)."""
    with Stopwatch(device) as watch:
        run_steps(model, dataset, variant, steps, lr, device)
    return watch.seconds


def measure_speedups(spec, dataset, device, variants=VARIANTS, repeats=3, target_seconds=1.0, warmup_steps=20,
                     steps_per_run=None, progress=print, on_update=None):
    """Images/s of every variant for one model (see the module's docstring). Each variant keeps one model
    (the same starting weights for all), warmed up once.
    steps_per_run: steps of each timed run; None: as many as last about target_seconds.
    on_update: called with the result so far after the warm-ups and after every round, so that a run cut
    short by a time limit still leaves its first-run times and the rounds it finished."""
    base_lr = TrainSettings().lr or spec.build("cpu").default_lr
    models, steps, first_run, errors, speeds = {}, {}, {}, {}, {}
    measured = dict(spec=spec, variants=variants, base_lr=base_lr, errors=errors, speeds=speeds, first_run=first_run,
                    steps=steps, warmup_steps=warmup_steps, repeats=repeats)
    for variant in variants:
        if variant.batch_size > len(dataset):
            errors[variant.name] = f"batch {variant.batch_size} is larger than the dataset ({len(dataset)} images)"
            continue
        model = spec.build(device, seed=0)
        try:
            first_run[variant.name] = round(timed(model, dataset, variant, warmup_steps, variant.lr(base_lr), device), 3)
            if steps_per_run is None:  # how long LOG_EVERY steps take after the warm-up
                seconds = timed(model, dataset, variant, LOG_EVERY, variant.lr(base_lr), device)
        except Exception as error:  # noqa: BLE001  (a failed variant is a result too: report it, go on)
            errors[variant.name] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:300]
            del model
            continue
        models[variant.name] = model
        steps[variant.name] = steps_per_run or max(
            LOG_EVERY, int(round(target_seconds / (seconds / LOG_EVERY) / LOG_EVERY)) * LOG_EVERY)
        if progress:
            progress(f"  {spec.name} / {variant.name}: first run {first_run[variant.name]:.2f} s, "
                     f"{steps[variant.name]} steps per timed run")
        on_update and on_update(speed_result(**measured, rounds=0))

    working = [v for v in variants if v.name in models]
    speeds.update({v.name: [] for v in working})
    for round_index in range(repeats):
        shift = round_index % max(len(working), 1)
        for variant in working[shift:] + working[:shift]:
            gc.collect()
            seconds = timed(models[variant.name], dataset, variant, steps[variant.name], variant.lr(base_lr), device)
            speeds[variant.name].append(steps[variant.name] * variant.batch_size / seconds)
        if progress:
            progress(f"  {spec.name} round {round_index + 1}/{repeats}: "
                     + ", ".join(f"{name} {values[-1]:,.0f}" for name, values in speeds.items()) + " img/s")
        on_update and on_update(speed_result(**measured, rounds=round_index + 1))
    return speed_result(**measured, rounds=repeats)


def speed_result(spec, variants, base_lr, errors, speeds, first_run, steps, warmup_steps, rounds, repeats):
    """One model's table as JSON, after `rounds` of `repeats` timed rounds (a variant whose warm-up failed
    carries its error; one not yet timed, only its first run; one not yet warmed up, its settings only)."""
    rows = []
    for variant in variants:
        row = {"variant": variant.name, "batch_size": variant.batch_size, "loop": variant.loop, "lr": variant.lr(base_lr)}
        if variant.name in errors:
            row["error"] = errors[variant.name]
        elif variant.name in first_run and not speeds.get(variant.name):
            row.update(first_run_seconds=first_run[variant.name], first_run_steps=warmup_steps)
        elif variant.name in first_run:
            ips = median(speeds[variant.name])
            row.update(images_per_sec=round(ips, 1), seconds_per_epoch=round(EPOCH_IMAGES / ips, 3),
                       runs_images_per_sec=[round(x, 1) for x in speeds[variant.name]],
                       first_run_seconds=first_run[variant.name], first_run_steps=warmup_steps,
                       steps_per_run=steps[variant.name])
            if BASELINE in speeds:  # per-round ratios (the runs closest in time), then their median
                row["vs_engine_fp32"] = round(median([a / b for a, b in zip(speeds[variant.name], speeds[BASELINE])]), 3)
        rows.append(row)
    return {"model": spec.name, "family": spec.family, "arch": spec.arch, "conditional": spec.conditional,
            "repeats": repeats, "rounds_done": rounds, "variants": rows}


# --- part 2: quality --------------------------------------------------------------------------


def quality_runs(variants=QUALITY_VARIANTS, goal=GPU_GOAL):
    """The default GAN recipe, once per variant (a larger batch with its square-root learning rate)."""
    base = recipe("gan")
    runs = []
    for variant in variants:
        lr = scaled_lr(base["lr"], variant.batch_size, base["batch_size"]) * variant.lr_factor
        options = dict(base, batch_size=variant.batch_size, lr=lr)
        if variant.d_lr_ratio is not None:
            options["d_lr_ratio"] = variant.d_lr_ratio
        runs.append(QualityRun(f"default GAN, {variant.name}", "gan", options, target=goal))
    return runs


def seconds_to_share(evaluations, share):
    """Training seconds of the first evaluation with >= share recognizable and every digit >= 6%, or None."""
    return next((e["seconds"] for e in evaluations if e["share"] >= share and e["digits_drawn"] == 10), None)


# --- the script --------------------------------------------------------------------------------


def build_parser():
    variants = {v.name: v for v in VARIANTS}
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speedups",
                                     description="What larger batches buy, per model family, "
                                                 "beside a plain PyTorch loop.")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs (a smoke test)")
    parser.add_argument("--models", type=parse_models, metavar="NAMES",
                        help=f"comma-separated, from {', '.join(spec.name for spec in ALL_MODELS)} (default: all)")
    parser.add_argument("--variants", type=lambda t: parse_names(t, variants), metavar="NAMES",
                        help=f"comma-separated, from {', '.join(variants)} (default: all)")
    parser.add_argument("--repeats", type=positive_int, help="timed rounds per model")
    parser.add_argument("--quality-seconds", type=positive_float,
                        help="seconds of training per quality run (default: 30; --quick: 4)")
    parser.add_argument("--no-quality", action="store_true", help="skip part 2 (time to 90%% recognizable)")
    quality = {v.name: v for v in QUALITY_CHOICES}
    parser.add_argument("--quality-variants", type=lambda t: parse_names(t, quality), metavar="NAMES",
                        help=f"part 2's runs, comma-separated, from {', '.join(quality)} "
                             f"(default: {', '.join(v.name for v in QUALITY_VARIANTS)})")
    parser.add_argument("--limit", type=positive_int, help="learn from the first N training images only")
    parser.add_argument("--data-dir", help="MNIST IDX files (default: $GENAI_DATA_DIR, else ../shared/datasets/mnist)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="where to write the results")
    parser.add_argument("--report", type=Path, metavar="PATH",
                        help="measure nothing: print the tables of a results JSON written before (one cut short too)")
    return parser


def progress(message):
    print(message, file=sys.stderr, flush=True)


def run(args, device, path=None):
    """Both parts; with a path, the results so far are written there after each variant's warm-up, each
    round and each quality run (marked "complete": false until the end), so a run cut short still leaves
    what it measured."""
    mode = dict(MODES["quick" if args.quick else "full"])
    dataset = load_dataset("mnist", data_dir=find_data_dir(args.data_dir), split="train", limit=args.limit).to(device)
    results = {"machine": machine_info(device), "command": " ".join(["python -m benchmarks.speedups", *sys.argv[1:]]),
               "mode": "quick" if args.quick else "full", "dataset": dataset.describe(),
               "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None}
    progress(f"{dataset.describe()}; device {device}")
    started = time.perf_counter()
    with LoadMonitor() as load:
        results["speed"], results["complete"] = [], False
        for spec in args.models or ALL_MODELS:
            def save_so_far(model_so_far):
                path and write_json(dict(results, speed=[*results["speed"], model_so_far]), path)
            results["speed"].append(measure_speedups(
                spec, dataset, device, args.variants or VARIANTS, repeats=args.repeats or mode["repeats"],
                target_seconds=mode["target_seconds"], warmup_steps=mode["warmup_steps"], progress=progress,
                on_update=save_so_far))
            path and write_json(results, path)
        if not args.no_quality:
            results["quality"] = []
            for run_ in quality_runs(args.quality_variants or QUALITY_VARIANTS):
                progress(f"time to 90%: {run_.name}")
                result = time_to_quality(run_, dataset, device, max_seconds=args.quality_seconds or mode["quality_seconds"],
                                         eval_every_seconds=mode["eval_every_seconds"], samples=mode["samples"],
                                         progress=progress)
                result["seconds_to_90"] = seconds_to_share(result["evaluations"], 0.90)
                results["quality"].append(result)
                path and write_json(results, path)
    results["complete"] = True
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_1min_at_end"] = load_average()
    results["machine"]["load_average_1min_during"] = load.summary()
    return results


def report(results):
    machine = results["machine"]
    where = machine["gpu"] or f"{machine['cpu']}, {machine['cores']} cores, {machine['torch_threads']} torch threads"
    length = (f"{results['total_seconds']:.0f} s in all" if results.get("complete")
              else "cut short: the models measured before it stopped")
    sections = [f"genai speed-ups ({results['mode']}) on {machine['device']}: {where}; torch {machine['torch']}, "
                f"CUDA {results['cuda']}; {results['dataset']}; {length}"]
    for model in results["speed"]:
        rows = [[v["variant"], number(v.get("images_per_sec")), number(v.get("seconds_per_epoch"), 2),
                 number(v.get("vs_engine_fp32"), 2) + ("x" if "vs_engine_fp32" in v else ""),
                 number(v.get("first_run_seconds"), 2), v["batch_size"], v.get("error", "")]
                for v in model["variants"]]
        rounds = model.get("rounds_done", model["repeats"])  # results written before 2026-12-05 lack it
        planned = "" if rounds == model["repeats"] else f", cut short: {rounds} of {model['repeats']} planned"
        sections.append(f"{model['model']} (median of {rounds} rounds{planned}; ratio: median of per-round ratios "
                        f"to {BASELINE})\n\n" + markdown_table(
                            ["variant", "img/s", "s per 60k epoch", f"vs {BASELINE}", "first run s", "batch", "error"],
                            rows))
    if results.get("quality"):
        rows = [[r["model"], r["recipe"]["batch_size"], f"{r['recipe']['lr']:.2g}", f"{r['recipe'].get('d_lr_ratio', 1.0):g}",
                 "—" if r["seconds_to_90"] is None else f"{r['seconds_to_90']:.1f} s",
                 f"{r['final_share']:.1%} at {r['training_seconds']:.0f} s" if r["final_share"] is not None else "—",
                 r["steps"]] for r in results["quality"]]
        sections.append("Time to quality (default GAN recipe; training seconds until >= 90% of samples are recognized "
                        "with confidence >= 0.9 and every digit >= 6%; models learn from the train split)\n\n"
                        + markdown_table(["run", "batch", "lr", "D lr ratio", "to 90%", "last share", "steps"], rows))
    return "\n\n".join(sections)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.report:
        try:
            print(report(json.loads(args.report.read_text())))
        except (OSError, ValueError, KeyError) as error:
            print(f"error: {args.report} is not a results file of this benchmark ({error})", file=sys.stderr)
            return 2
        return 0
    try:
        device = pick_device(args.device)
        path = args.json or RESULTS_DIR / f"speedups-{device.type}-{datetime.now():%Y-%m-%d-%H%M%S}.json"
        results = run(args, device, path)
    except (DatasetError, DeviceError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    path = write_json(results, path)
    print(report(results))
    print(f"\nResults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
