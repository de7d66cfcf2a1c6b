"""CPU contention: training speed with 1 or 2 torch threads, alone and beside one busy process.

On a small shared machine (a 2-vCPU Space, a laptop running other things) another
process often holds one core. PyTorch's CPU threads wait for each other at the end of
every operation; when one of them has no core, the others spin and wait, and many small
operations (the shape of MNIST training) can become many times slower.

    python -m benchmarks.cpu_contention            # about 30 s; prints a table

The busy neighbour is a second Python process running `while True: pass`, stopped at the end.
"""

import argparse
import subprocess
import sys
import time

import torch

if __package__ in (None, ""):
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.training_speed import ModelSpec  # noqa: E402

CONTENTION_MODELS = (ModelSpec("gan", "mlp"), ModelSpec("vae", "mlp"))


def steps_per_second(spec, threads, seconds=3.0, batch_size=64):
    """Training steps per second of a model on one fixed random batch (only compute, no data pipeline)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = spec.build("cpu", seed=0)
        optimizers = model.configure_optimizers(model.default_lr)
        images = torch.rand(batch_size, 1, 28, 28)
        labels = torch.randint(0, 10, (batch_size,))
        rng = torch.Generator().manual_seed(0)
        for _ in range(5):  # warm-up
            model.training_step(images, labels, optimizers, rng)
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model.training_step(images, labels, optimizers, rng)
            steps += 1
        return steps / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)


def busy_neighbour():
    """Start a process that keeps one core busy; the caller stops it."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run_contention(models=CONTENTION_MODELS, thread_counts=(1, 2), seconds=3.0):
    results = []
    for neighbour in (False, True):
        process = busy_neighbour() if neighbour else None
        try:
            time.sleep(0.5 if neighbour else 0)
            for spec in models:
                for threads in thread_counts:
                    rate = steps_per_second(spec, threads, seconds)
                    results.append({"model": spec.name, "threads": threads, "busy_neighbour": neighbour,
                                    "steps_per_sec": round(rate, 1)})
        finally:
            if process is not None:
                process.kill()
                process.wait()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu_contention", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement (default 3)")
    args = parser.parse_args(argv)
    results = run_contention(seconds=args.seconds)
    print("| model | threads | alone: steps/s | beside a busy process: steps/s | slowdown |")
    print("|---|---|---|---|---|")
    for alone in (r for r in results if not r["busy_neighbour"]):
        crowded = next(r for r in results if r["busy_neighbour"] and r["model"] == alone["model"]
                       and r["threads"] == alone["threads"])
        slowdown = alone["steps_per_sec"] / max(crowded["steps_per_sec"], 1e-9)
        print(f"| {alone['model']} | {alone['threads']} | {alone['steps_per_sec']:.0f} | "
              f"{crowded['steps_per_sec']:.1f} | {slowdown:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
