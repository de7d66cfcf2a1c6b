"""The first Start: how long a learner waits for the first live preview in a freshly started app.

The first training run of a process pays one-off costs (genai/warm_up.py): PyTorch's compiler
import when the first optimizer is built and, on a GPU, the CUDA context, kernel loading and
cuDNN's choice of algorithms. `python app.py` now pays them as it starts (genai.warm_up, in the
background). This benchmark measures what that buys. Each run is a fresh Python process that
first starts like one of these (not timed), then takes one timed Start:

- "app": builds the web app's page as `python app.py` does (`import app`: the shipped checkpoints
  are checked too), without the warm-up: the app before genai/warm_up.py.
- "app + warm-up": the same, then warm_up() (its own seconds are reported apart): the app now.
- "app + a first run": the same, then a first Start, not timed: the floor a warm-up aims at.
- "bare process" and "bare + warm-up": genai imported, no page (a CLI run, or an app whose
  checkpoints folder is empty), without and with warm_up().
- "bare + compiler import": genai and torch._dynamo imported. Building the app's page imports the
  compiler already (checking the shipped checkpoints initialises layers on the meta device), so
  this over "bare + warm-up" is what the warm-up buys the app beyond that import: on a GPU, the
  CUDA context, kernels and cuDNN's choices.

The "app" modes need gradio; where it is missing (a GPU machine with torch only) they are skipped.
Start is what the Train tab does: build the default GAN (its recipe for the device), then train
with the tab's preview settings. Timed: seconds to the first preview (step 20) and to the end of
--steps steps (a final preview included). The modes rotate round by round, since a machine's
speed drifts; a ratio "X / X + warm-up" is the median of the rounds' ratios.

    python -m benchmarks.cold_start --device cpu --json benchmarks/results/cold-start-cpu-DATE.json
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, find_data_dir, machine_info, median, write_json  # noqa: E402
from benchmarks.run import markdown_table, parse_names  # noqa: E402

# mode: (build the app's page first?, what comes before the timed Start)
MODES = {"app": (True, None), "app + warm-up": (True, "warm-up"), "app + a first run": (True, "a first run"),
         "bare process": (False, None), "bare + compiler import": (False, "compiler import"),
         "bare + warm-up": (False, "warm-up")}
# What a warm-up buys: the first Start of each pair's first mode over its second's.
PAIRS = (("app", "app + warm-up"), ("bare process", "bare + warm-up"), ("bare + compiler import", "bare + warm-up"))

# One run in a fresh process; prints one JSON line.
CHILD = r"""
import json, sys, time
spec = json.loads(sys.argv[1])
if spec["app"]:
    import app  # the page, built as `python app.py` builds it (its __main__ part, with the warm-up, does not run)
import torch
from genai.data import load_training_set
from genai.device import pick_device
from genai.models import create_model
from genai.recipes import model_options, recipe
from genai.train import TrainSettings, preview_count, train
from genai.warm_up import warm_up

device = pick_device(spec["device"])
dataset = load_training_set(data_dir=spec["data_dir"], download=False, limit=spec["limit"])
options = recipe("gan", device)
preview_images = preview_count(options["conditional"])  # as the Train tab draws them

def start():
    # The Train tab's Start: build the default GAN, then train it with live previews.
    began = time.perf_counter()
    model = create_model("gan", options["arch"], seed=0, **model_options(options, "gan", options["arch"])).to(device)
    settings = TrainSettings(batch_size=options["batch_size"], lr=options["lr"], max_steps=spec["steps"],
                             log_every=20, preview_seconds=2.0, preview_images=preview_images)
    first_preview = None
    for event in train(model, dataset, settings):  # a preview is a uint8 CPU tensor: the GPU's work is done
        if first_preview is None and event.preview is not None:
            first_preview = {"step": event.step, "seconds": time.perf_counter() - began}
    return {"first_preview": first_preview, "seconds": time.perf_counter() - began, "steps": event.step}

warm_up_seconds = None
if spec["before"] == "warm-up":
    warm_up_seconds = warm_up(device, preview_images=preview_images)
elif spec["before"] == "a first run":
    start()
elif spec["before"] == "compiler import":
    import torch._dynamo  # the one-off cost that is the same on every device (the app pays it as it starts)
result = start()
print(json.dumps(dict(result, warm_up_seconds=warm_up_seconds, batch_size=options["batch_size"])))
"""


def timed_run(spec):
    """One fresh process: returns its JSON line as a dict."""
    env = dict(os.environ, PYTHONPATH=str(REPO), GENAI_CPU_THREADS=str(spec["threads"]))
    env.pop("OMP_NUM_THREADS", None)  # genai.device sets the threads, as in the app
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True, env=env,
                          cwd=tempfile.gettempdir())
    if done.returncode:
        raise RuntimeError(f"the {spec['mode']} run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def progress_line(message):
    print(message, file=sys.stderr, flush=True)


def measure(args, modes, progress=progress_line, after_round=None):
    """{mode: [run, ...]} over args.rounds rounds, the modes in a rotated order each round;
    after_round(runs so far) is called after each (to save a run that may be cut short)."""
    spec = {"device": args.device, "threads": args.threads, "data_dir": str(args.data_dir) if args.data_dir else None,
            "limit": args.limit, "steps": args.steps}
    runs = {mode: [] for mode in modes}
    for round_number in range(args.rounds):
        shift = round_number % len(modes)
        for mode in modes[shift:] + modes[:shift]:
            app, before = MODES[mode]
            runs[mode].append(timed_run(dict(spec, mode=mode, app=app, before=before)))
        progress(f"round {round_number + 1}: first preview after " + ", ".join(
            f"{runs[mode][-1]['first_preview']['seconds']:.2f} s ({mode})" for mode in modes))
        if after_round is not None:
            after_round(runs)
    return runs


def summary(runs):
    """Medians per mode, and for each pair in PAIRS measured, the per-round ratios of the first previews."""
    rows = {}
    for mode, results in runs.items():
        warm = [r["warm_up_seconds"] for r in results if r["warm_up_seconds"] is not None]
        rows[mode] = {"first_preview_seconds": median([r["first_preview"]["seconds"] for r in results]),
                      "first_preview_step": results[0]["first_preview"]["step"],
                      "run_seconds": median([r["seconds"] for r in results]), "steps": results[0]["steps"],
                      "warm_up_seconds": median(warm) if warm else None}
    ratios = {f"{without} / {with_}": [a["first_preview"]["seconds"] / b["first_preview"]["seconds"]
                                       for a, b in zip(runs[without], runs[with_])]
              for without, with_ in PAIRS if without in runs and with_ in runs}
    return rows, ratios


def table(rows, ratios, batch_size):
    lines = [[mode, f"{row['first_preview_seconds']:.2f}", f"{row['run_seconds']:.2f}",
              "" if row["warm_up_seconds"] is None else f"{row['warm_up_seconds']:.2f}"] for mode, row in rows.items()]
    any_row = next(iter(rows.values()))
    headers = ["process", f"Start to first preview (step {any_row['first_preview_step']}), s",
               f"Start to step {any_row['steps']} (batch {batch_size}), s", "the warm-up itself, s"]
    notes = [f"{pair}, first preview: {median(values):.2f}x (median of {len(values)} rounds; "
             f"range {min(values):.2f}-{max(values):.2f})" for pair, values in ratios.items()]
    return "\n\n".join([markdown_table(headers, lines), *notes])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="CPU training threads (the app uses 1 on 2 cores)")
    parser.add_argument("--steps", type=int, default=60, help="steps per timed run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modes", type=lambda text: list(parse_names(text, {mode: mode for mode in MODES})),
                        default=list(MODES), metavar="NAMES",
                        help=f"comma-separated, from: {', '.join(MODES)} (default: all)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.steps < 20 or args.rounds < 1 or args.threads < 1:
        parser.error("--steps must be at least 20 (the first preview comes at step 20), --rounds and --threads at least 1")
    args.data_dir = find_data_dir(args.data_dir)
    args.data_dir = args.data_dir and args.data_dir.resolve()  # the runs start in another folder
    modes, skipped = args.modes, []
    if importlib.util.find_spec("gradio") is None:  # no web app here: its modes cannot run
        skipped = [mode for mode in modes if MODES[mode][0]]
        modes = [mode for mode in modes if not MODES[mode][0]]
        progress_line(f"gradio is not installed: skipping {', '.join(skipped)}")
        if not modes:
            raise SystemExit("Nothing to measure: every mode asked for builds the app's page, which needs gradio.")
    started = time.perf_counter()
    print(f"The default GAN's first Start in a fresh process, {args.rounds} rounds, {args.steps} steps, {args.device}"
          + (f", {args.threads} CPU thread(s)" if args.device == "cpu" else "")
          + (f"; skipped for want of gradio: {', '.join(skipped)}" if skipped else ""))
    machine = machine_info(args.device)

    def save(runs, complete=False):
        """The JSON so far: rewritten after every round, so a run stopped by a time limit keeps its rounds."""
        rows, ratios = summary(runs)
        write_json({"machine": machine, "command": " ".join(["python -m benchmarks.cold_start", *(argv or sys.argv[1:])]),
                    "settings": {key: (str(value) if key == "data_dir" else value) for key, value in vars(args).items()},
                    "skipped": skipped, "complete": complete, "batch_size": next(iter(runs.values()))[0]["batch_size"],
                    "seconds": round(time.perf_counter() - started, 1), "summary": rows, "ratios": ratios,
                    "runs": runs}, args.json)

    runs = measure(args, modes, after_round=save if args.json else None)
    rows, ratios = summary(runs)
    print()
    print(table(rows, ratios, next(iter(runs.values()))[0]["batch_size"]))
    if args.json:
        save(runs, complete=True)
        print(f"\nWrote {args.json}")


if __name__ == "__main__":
    main()
