"""Where one training step's time goes: how many operations it runs, and whether the device waits for the host.

A small model's step on a GPU is a few hundred tiny kernels. Python and PyTorch's dispatcher need
microseconds to issue each one, so the GPU may sit idle between them: the step is "launch-bound",
and it costs about the same at batch 64 as at batch 1024 (docs/benchmarks.md, "On an NVIDIA H200").
What speeds up a launch-bound step is fewer launches per image (a larger batch; genai/speedups.py),
not faster kernels. This benchmark tells which case a model is in.

For the default model of each family (the Train tab's recipe, genai/recipes.py), at each batch size:
W warm-up steps, then runs of genai's training loop of S and of 2S steps, timed, then the same two
under torch.profiler. Each figure is (the 2S-step run's - the S-step run's) / S: what a run's setup
costs (the dataset moved to the device, a first snapshot of the weights) cancels out. Per step:

- operations: the ATen operators dispatched (forward, backward and optimizer; a host-side cost each)
- kernels (CUDA only): the kernels the GPU ran, and their summed duration (device busy ms)
- busy share = device busy ms / ms per step. Near 1: the GPU computes all the time (compute-bound).
  Far below 1: it waits for the host to issue the next kernel (launch-bound).

The models learn from the train split; nothing here is a quality figure. Prints a table, writes JSON:

    python -m benchmarks.step_profile --device cuda --json benchmarks/results/step-profile-cuda-DATE.json
    python -m benchmarks.step_profile --families gan --batches 64 --steps 5 --limit 2048   # a smoke test
"""

import argparse
import sys
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from benchmarks.common import Stopwatch, find_data_dir, machine_info, write_json  # noqa: E402
from benchmarks.run import markdown_table  # noqa: E402
from benchmarks.time_to_quality import QualityRun  # noqa: E402
from genai.data import load_training_set  # noqa: E402
from genai.recipes import RECIPES, recipe  # noqa: E402
from genai.train import TrainSettings, train  # noqa: E402

TOP = 8  # the operators (and kernels) listed per run, by time


def train_steps(model, dataset, steps, batch_size, lr):
    """`steps` steps of genai's training loop (no previews; the losses read back once, at the end)."""
    settings = TrainSettings(max_steps=steps, batch_size=batch_size, lr=lr, seed=0, preview_images=0,
                             log_every=steps)
    last = None
    for last in train(model, dataset, settings):
        pass
    if last.step != steps:
        raise RuntimeError(f"stopped after {last.step} of {steps} steps: {last.message}")


def is_operator(event):
    """An ATen operator called by Python or autograd, not one called inside another operator."""
    parent = event.cpu_parent
    return event.name.startswith("aten::") and (parent is None or not parent.name.startswith("aten::"))


def tally(events):
    """Operator calls, host microseconds per operator, kernels and device microseconds per kernel."""
    operators, host_us, kernels, kernel_us = Counter(), Counter(), Counter(), Counter()
    for event in events:
        if event.device_type.name == "CUDA":
            kernels[event.name] += 1
            kernel_us[event.name] += event.device_time_total
        elif is_operator(event):
            operators[event.name] += 1
            host_us[event.name] += event.cpu_time_total
    return operators, host_us, kernels, kernel_us


def per_step(short, long, steps):
    """Per-step figures from the tallies of a run of `steps` steps (short) and one of 2 x steps (long)."""
    operators, host_us, kernels, kernel_us = (longer - shorter for longer, shorter in zip(long, short))
    on_device = sum(long[2].values()) > 0
    return {
        "operators_per_step": round(sum(operators.values()) / steps, 1),
        "kernels_per_step": round(sum(kernels.values()) / steps, 1) if on_device else None,
        "device_busy_ms_per_step": round(sum(kernel_us.values()) / steps / 1000, 3) if on_device else None,
        "top_operators": [{"name": name, "calls_per_step": round(operators[name] / steps, 1),
                           "host_ms_per_step": round(us / steps / 1000, 3)} for name, us in host_us.most_common(TOP)],
        "top_kernels": [{"name": name[:80], "calls_per_step": round(kernels[name] / steps, 1),
                         "device_ms_per_step": round(us / steps / 1000, 3)} for name, us in kernel_us.most_common(TOP)],
    }


def profile_model(family, options, dataset, device, batch_size, steps, warmup_steps):
    """One model at one batch size: its ms per step, then its operations and kernels per step."""
    model = QualityRun(family, family, options).build(device, seed=0)
    lr = options["lr"]
    train_steps(model, dataset, warmup_steps, batch_size, lr)  # first-call costs: allocations, cuDNN's choices
    seconds = []
    for length in (steps, 2 * steps):
        with Stopwatch(device) as watch:
            train_steps(model, dataset, length, batch_size, lr)
        seconds.append(watch.seconds)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.device(device).type == "cuda" else [])
    tallies = []
    for length in (steps, 2 * steps):
        with profile(activities=activities) as profiler:
            train_steps(model, dataset, length, batch_size, lr)
        tallies.append(tally(profiler.events()))
    counts = per_step(*tallies, steps)
    # The difference of the two runs cancels the setup; on a busy machine the shorter run can take longer,
    # and then the longer run's own average (setup included, so an upper bound) is what is left.
    extra = seconds[1] - seconds[0]
    ms = (extra / steps if extra > 0 else seconds[1] / (2 * steps)) * 1000
    busy = counts["device_busy_ms_per_step"]
    return {"family": family, "model": model.describe(), "batch_size": batch_size, "steps": steps,
            "ms_per_step": round(ms, 3), "images_per_second": round(batch_size / (ms / 1000)),
            "busy_share": round(busy / ms, 3) if busy is not None else None, **counts}


def table(results):
    rows = [[r["family"], r["batch_size"], f"{r['ms_per_step']:.2f}", f"{r['images_per_second']:,}",
             f"{r['operators_per_step']:,.0f}",
             "-" if r["kernels_per_step"] is None else f"{r['kernels_per_step']:,.0f}",
             "-" if r["device_busy_ms_per_step"] is None else f"{r['device_busy_ms_per_step']:.2f}",
             "-" if r["busy_share"] is None else f"{r['busy_share']:.0%}"] for r in results]
    return markdown_table(["family (default model)", "batch", "ms per step", "img/s", "operators per step",
                           "kernels per step", "device busy ms", "busy share"], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default=",".join(RECIPES), help="comma-separated (default: all)")
    parser.add_argument("--batches", default="64,1024", help="comma-separated batch sizes")
    parser.add_argument("--steps", type=int, default=30, help="S: runs of S and 2S steps are timed, then profiled")
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads on a CPU (default: torch's)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N training images only")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    families = [name.strip() for name in args.families.split(",") if name.strip()]
    unknown = [name for name in families if name not in RECIPES]
    if unknown:
        parser.error(f"unknown famil{'ies' if len(unknown) > 1 else 'y'} {unknown}: choose from {', '.join(RECIPES)}")
    try:
        batches = [int(value) for value in args.batches.split(",")]
    except ValueError:
        parser.error(f"--batches takes whole numbers separated by commas, e.g. 64,1024 (not {args.batches!r})")
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load_training_set(data_dir=find_data_dir(args.data_dir), download=False, limit=args.limit)
    too_big = [batch for batch in batches if batch > len(dataset)]
    if too_big:
        parser.error(f"batch {too_big[0]} is larger than the {len(dataset):,} training images: pick a smaller one")
    results = []
    for family in families:
        for batch_size in batches:
            result = profile_model(family, recipe(family), dataset, args.device, batch_size, args.steps, args.warmup_steps)
            print(f"  {family} batch {batch_size}: {result['ms_per_step']:.2f} ms per step, "
                  f"{result['operators_per_step']:.0f} operators", flush=True)
            results.append(result)
    print()
    print(table(results))
    if args.json:
        write_json({"machine": machine_info(args.device), "command": " ".join(sys.argv),
                    "dataset": f"{len(dataset):,} training images", "results": results}, args.json)
        print(f"\nWrote {args.json}")
    return results


if __name__ == "__main__":
    main()
