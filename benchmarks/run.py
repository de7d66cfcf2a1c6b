"""Run genai's benchmarks and print the tables; the figures also go to a JSON file.

    python -m benchmarks.run                      # everything, ~15 min on a 2-core CPU
    python -m benchmarks.run --quick              # a smoke test, ~2 min
    python -m benchmarks.run --device cuda --only train,sample
    python benchmarks/run.py --help               # the same script, run as a file

Parts (--only):
    train    training images/s: genai's loop vs the usual PyTorch loops, plus peak memory
    quality  recognizable share against training time of the default GAN / VAE recipes beside plain
             reference runs (2 threads); also a PNG plot beside the JSON
    sample   latency of a 64-image grid and of a 16-frame interpolation (strip + GIF)

Results: benchmarks/results/<device>-<date>.json unless --json PATH is given.
A separate, shorter check of CPU thread contention: python -m benchmarks.cpu_contention
Progress goes to stderr; the tables (Markdown) to stdout.
"""

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, LoadMonitor, find_data_dir, load_average, machine_info, write_json  # noqa: E402
from benchmarks.sampling_latency import run_sampling_latency  # noqa: E402
from benchmarks.time_to_quality import plot, run_time_to_quality  # noqa: E402
from benchmarks.training_speed import ALL_MODELS, PIPELINES, CheckpointSpec, UNCONDITIONAL_MODELS, run_training_speed  # noqa: E402
from genai.checkpoints import CheckpointError  # noqa: E402
from genai.data import DatasetError, load_dataset  # noqa: E402
from genai.device import DEVICE_CHOICES, DeviceError, pick_device  # noqa: E402
from genai.models import ModelError  # noqa: E402
from genai.train import TrainingError  # noqa: E402
from genai.__main__ import positive_float, positive_int  # noqa: E402  (the CLI's argument checks)

PARTS = ("train", "quality", "sample")
RESULTS_DIR = REPO / "benchmarks" / "results"

# How much work each mode does. Full: about 15 minutes on a 2-core CPU; quick: about 2.
MODES = {
    "full": {
        "train": {"repeats": 5, "target_seconds": 1.5, "warmup_steps": 10},
        "train_models": ALL_MODELS,
        "quality": {"eval_every_seconds": 5.0, "samples": 1000},
        "sample": {"calls": 100, "warmup": 5},
    },
    "quick": {
        "train": {"repeats": 2, "target_seconds": 0.4, "warmup_steps": 3},
        "train_models": UNCONDITIONAL_MODELS,
        "quality": {"max_seconds": 10.0, "eval_every_seconds": 5.0, "samples": 200},
        "sample": {"calls": 10, "warmup": 1},
    },
}


def parse_parts(text):
    parts = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(PARTS)} (comma-separated), not {text!r}")
    return parts


def parse_names(text, known):
    """Comma-separated names of `known` (a dict name -> thing): the things, in the order given."""
    chosen = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in known]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(known)} (comma-separated), not {text!r}")
    return tuple(known[n] for n in chosen)


def parse_models(text):
    """Model names (see ALL_MODELS) or checkpoint folders (holding a config.json), comma-separated."""
    known = {spec.name: spec for spec in ALL_MODELS}
    known.update({name.strip(): CheckpointSpec(name.strip()) for name in text.split(",")
                  if (Path(name.strip()) / "config.json").is_file()})
    return parse_names(text, known)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark genai: training speed vs the usual PyTorch loops, time to recognizable digits, "
                    "sampling latency, peak memory.",
    )
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="where to run (default: auto)")
    parser.add_argument("--quick", action="store_true", help="a ~2-minute smoke test with fewer, shorter runs")
    parser.add_argument("--only", type=parse_parts, default=list(PARTS), metavar="PARTS",
                        help=f"comma-separated parts to run: {', '.join(PARTS)} (default: all)")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="where to write the results (default: benchmarks/results/<device>-<date>.json)")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (default: env GENAI_DATA_DIR, "
                        "else ../shared/datasets/mnist if present, else the app's usual search)")
    parser.add_argument("--models", type=parse_models, metavar="NAMES",
                        help="models for the training and sampling benchmarks, e.g. gan-mlp,vae-conv, or checkpoint "
                             "folders such as checkpoints/diffusion, timed with their own settings "
                             "(default: depends on mode; sampling: one model of every family)")
    parser.add_argument("--repeats", type=positive_int, help="timed rounds per model in the training benchmark")
    parser.add_argument("--batch-size", type=positive_int, help="batch size for the training benchmark (default: the app's)")
    parser.add_argument("--cap", type=positive_float,
                        help="seconds of training per run in 'quality' (default: twice the family's goal time)")
    parser.add_argument("--threads", type=positive_int, default=2, help="CPU threads for the 'quality' part (default 2)")
    parser.add_argument("--calls", type=positive_int, help="calls per action in the 'sample' part (default 100)")
    return parser


def progress(message):
    print(message, file=sys.stderr, flush=True)


def run(args):
    """Run the chosen parts while watching the machine's load; returns the results dict."""
    mode = MODES["quick" if args.quick else "full"]
    device = pick_device(args.device)
    results = {"machine": machine_info(device), "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]),
               "mode": "quick" if args.quick else "full", "parts": list(args.only)}
    started = time.perf_counter()
    with LoadMonitor() as load:
        run_parts(args, mode, device, results)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_1min_at_end"] = load_average()
    results["machine"]["load_average_1min_during"] = load.summary()
    return results


def run_parts(args, mode, device, results):
    if "train" in args.only or "quality" in args.only:
        dataset = load_dataset("mnist", data_dir=find_data_dir(args.data_dir), split="train")  # models learn from it
        results["dataset"] = dataset.describe()
        progress(f"{dataset.describe()}; device {device}")

    if "train" in args.only:
        options = dict(mode["train"])
        if args.repeats:
            options["repeats"] = args.repeats
        if args.batch_size:
            options["batch_size"] = args.batch_size
        results["train"] = run_training_speed(dataset, device, models=args.models or mode["train_models"],
                                              progress=progress, **options)

    if "quality" in args.only:
        options = dict(mode["quality"], threads=args.threads)
        if args.cap:
            options["max_seconds"] = args.cap
        results["quality"] = run_time_to_quality(dataset, device, progress=progress, **options)

    if "sample" in args.only:
        options = dict(mode["sample"])
        if args.calls:
            options["calls"] = args.calls
        if args.models:
            options["models"] = args.models
        results["sample"] = run_sampling_latency(device, progress=progress, **options)


# --- tables ------------------------------------------------------------------------------------


def markdown_table(headers, rows):
    """A Markdown table, readable as plain text too: columns padded to the same width."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])


def number(value, digits=0):
    return "—" if value is None else f"{value:,.{digits}f}"


def rss_cell(memory):
    """"412 (+31)": the peak, and how much the run added to what the process already held."""
    growth = memory.get("rss_growth_mb")
    return number(memory["rss_peak_mb"]) + ("" if growth is None else f" ({round(growth):+d})")


def training_tables(results):
    rows, memory_rows = [], []
    for r in results:
        speeds = r["images_per_sec"]
        rows.append([r["model"], *(number(speeds.get(p)) for p in PIPELINES),
                     number(r.get("engine_vs_reference"), 2) + "x", number(r.get("engine_vs_tutorial"), 2) + "x",
                     r["batch_size"], r["steps_per_run"], r["repeats"]])
        mem = r["memory"]
        memory_rows.append([r["model"], *(rss_cell(mem[p]) for p in PIPELINES),
                            *(number(mem[p]["cuda_peak_allocated_mb"], 1) for p in PIPELINES)])
    speed = markdown_table(
        ["model", "engine img/s", "reference img/s", "tutorial img/s", "engine/reference", "engine/tutorial",
         "batch", "steps/run", "rounds"], rows)
    memory = markdown_table(
        ["model", "engine RSS MB", "reference RSS MB", "tutorial RSS MB",
         "engine CUDA MB", "reference CUDA MB", "tutorial CUDA MB"], memory_rows)
    scope = results[0]["memory"]["engine"]["rss_scope"] if results else ""
    return (f"Training speed (median images/s over rounds; ratio = median of per-round ratios)\n\n{speed}\n\n"
            f"Peak memory (RSS: the process's peak resident memory, measured over {scope}, and in brackets how much "
            f"the run added; "
            f"CUDA: torch.cuda.max_memory_allocated; highest over the rounds)\n\n{memory}")


def quality_table(results):
    rows = []
    for r in results:
        at_goal = "—" if r["share_at_goal"] is None else f"{r['share_at_goal']:.1%} ({r['digits_drawn_at_goal']} digits)"
        verdict = "met" if r["goal_met"] else "not met"
        to_share = "—" if r["seconds_to_goal_share"] is None else f"{r['seconds_to_goal_share']:.1f} s"
        recipe = r["recipe"]
        settings = (f"{recipe['arch']}{' cond.' if recipe.get('conditional') else ''}, batch {recipe['batch_size']}, "
                    f"lr {recipe['lr']:g}" + (f", EMA {recipe['ema_decay']:g}" if recipe.get("ema_decay") else "")
                    + (f", beta {recipe['beta']:g}" if "beta" in recipe else ""))
        rows.append([r["model"], settings, f"{r['goal_share']:.0%} at {r['goal_seconds']:.0f} s", at_goal, verdict,
                     to_share, f"{r['final_share']:.1%} at {r['training_seconds']:.0f} s",
                     number(r["final_digits_drawn"]), r["steps"], number(r["epochs"], 1), r["threads"]])
    table = markdown_table(["run", "recipe", "goal", "share at goal time", "goal", "time to goal share",
                            "last share", "digits >= 6%", "steps", "epochs", "threads"], rows)
    samples = results[0]["samples"] if results else 0
    return (f"Time to quality (share of {samples} samples the classifier recognizes with confidence >= 0.9; "
            f"training time only, models learn from the train split; a goal is met when the share is reached AND "
            f"every digit makes up at least 6% of the samples; digits >= 6%: at the last evaluation)\n\n{table}")


def latency_table(results):
    rows = [[r["model"], r["action"], number(r["p50_ms"], 1), number(r["p95_ms"], 1), number(r["mean_ms"], 1),
             number(r["max_ms"], 1), ", ".join(f"{k} {v:.1f}" for k, v in r["parts_p50_ms"].items()), r["calls"]]
            for r in results]
    table = markdown_table(["model", "action", "p50 ms", "p95 ms", "mean ms", "max ms", "parts (p50 ms)", "calls"], rows)
    return f"Sampling latency (fresh random weights; grid = 64 images, interpolate = 16 frames + strip + GIF)\n\n{table}"


def report(results):
    machine = results["machine"]
    where = machine["gpu"] or f"{machine['cpu']}, {machine['cores']} cores, {machine['torch_threads']} torch threads"
    load = machine.get("load_average_1min_during") or {}
    during = f" (min {load['min']}, median {load['median']}, max {load['max']} during the run)" if load else ""
    sections = [f"genai benchmarks ({results['mode']}) on {machine['device']}: {where}; torch {machine['torch']}; "
                f"{results['total_seconds']:.0f} s in all; 1-minute load average "
                f"{machine['load_average_1min_at_start']} at start{during}"]
    if "train" in results:
        sections.append(training_tables(results["train"]))
    if "quality" in results:
        sections.append(quality_table(results["quality"]))
    if "sample" in results:
        sections.append(latency_table(results["sample"]))
    return "\n\n".join(sections)


def default_json_path(device_name):
    """benchmarks/results/<device>-<date>.json; a second run on the same day gets the time added, not an overwrite."""
    now = datetime.now()
    path = RESULTS_DIR / f"{device_name}-{now:%Y-%m-%d}.json"
    if path.exists():
        path = RESULTS_DIR / f"{device_name}-{now:%Y-%m-%d-%H%M%S}.json"
    return path


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        results = run(args)
    except (CheckpointError, DatasetError, DeviceError, ModelError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    path = write_json(results, args.json or default_json_path(results["machine"]["device"].split(":")[0]))
    print(report(results))
    print(f"\nResults written to {path}")
    if results.get("quality"):
        print(f"Plot written to {plot(results['quality'], path.with_suffix('.png'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
