"""What training together saves in the app's own shape: K runs of one model, each the one training loop in
a thread of its own (as K students' request handlers), with GENAI_STACK_RUNS=0 (each takes its own steps,
side by side) against GENAI_STACK_RUNS=1 (the steps they are ready to take at the same moment are
batched: genai/training_together.py).

benchmarks/stacked_speed.py times genai.stacked.train_stacked, a loop of its own that marches K runs
in step; this times the path the web app takes, leader, waits and weight copies included. Rounds
alternate (side by side first, then together first, ...) after a warm-up; the median over --repeats
is reported with the speed-up (side by side / together: above 1, training together saves time) and
how many runs the batched steps held on average (K at best). Prints a Markdown table and writes JSON.

    python -m benchmarks.together_speed                                   # on the GPU if there is one
    python -m benchmarks.together_speed --device cpu --threads 1 --k 3 --steps 20 --models gan-mlp,vae-mlp
"""

import gc
import os
import sys
import threading
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import stacked_speed  # noqa: E402
from benchmarks.common import Stopwatch, median  # noqa: E402
from benchmarks.stacked_speed import fresh_models, run_settings  # noqa: E402
from genai import training_together  # noqa: E402
from genai.train import train  # noqa: E402

batched = []  # the number of runs in each batched step of the current measurement


def count_batched(step_together):
    def counted(models, *rest):
        batched.append(len(models))
        return step_together(models, *rest)
    return counted


def threaded_seconds(name, dataset, k, steps, batch_size, device, together):
    """K runs started at once, each train() in a thread of its own; stacking on or off."""
    os.environ["GENAI_STACK_RUNS"] = "1" if together else "0"
    models, settings = fresh_models(name, k, device), run_settings(k, steps, batch_size)
    errors = []

    def run(model, settings):
        try:
            for _ in train(model, dataset, settings):
                pass
        except Exception as error:  # noqa: BLE001 - reported after the round
            errors.append(error)

    gc.collect()
    batched.clear()
    threads = [threading.Thread(target=run, args=pair) for pair in zip(models, settings)]
    with Stopwatch(device) as watch:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return watch.seconds


def measure(name, dataset, k, steps, batch_size, repeats, device, progress=print):
    """{"side_by_side_s", "together_s", "speedup", "runs_per_step", ...}: medians over alternating rounds."""
    for together in (False, True):  # warm-up: first calls allocate, pick kernels
        threaded_seconds(name, dataset, k, 2, batch_size, device, together)
    apart, joint, per_step = [], [], []
    for round_index in range(repeats):
        ways = [(apart, False), (joint, True)]
        for times, together in ways if round_index % 2 == 0 else ways[::-1]:  # neither always goes first
            times.append(threaded_seconds(name, dataset, k, steps, batch_size, device, together))
            if together:  # runs per step: K runs of `steps` steps, over the steps computed (batched or alone)
                per_step.append(k * steps / (k * steps - sum(batched) + len(batched)))
        progress(f"  {name} round {round_index + 1}/{repeats}: {k} side by side {apart[-1]:.2f} s, "
                 f"together {joint[-1]:.2f} s ({per_step[-1]:.2f} runs per step)")
    speedups = [s / t for s, t in zip(apart, joint)]
    return {"model": name, "k": k, "steps": steps, "batch_size": batch_size, "repeats": repeats,
            "side_by_side_s": round(median(apart), 3), "together_s": round(median(joint), 3),
            "speedup": round(median(speedups), 2), "runs_per_step": round(median(per_step), 2),
            "runs_side_by_side_s": [round(s, 3) for s in apart], "runs_together_s": [round(s, 3) for s in joint]}


def table(rows, device):
    first = rows[0]
    lines = [f"K runs of one model, each train() in its own thread, {first['steps']} steps each at batch "
             f"{first['batch_size']} on {device}, median of {first['repeats']}:", "",
             "| model | K | side by side (GENAI_STACK_RUNS=0) | together (=1) | speed-up | runs per step together |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['model']} | {row['k']} | {row['side_by_side_s']:.2f} s | {row['together_s']:.2f} s | "
                     f"{row['speedup']:.2f}x | {row['runs_per_step']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    training_together.step_together = count_batched(training_together.step_together)
    stacked_speed.main(argv, __doc__, measure, table, results="together")  # its options, data and JSON


if __name__ == "__main__":
    main()
