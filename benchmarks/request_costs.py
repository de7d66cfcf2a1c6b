"""How well a request's cost is known before it runs (genai/ui/request_costs.py): predicted against measured.

For each shipped model the app times two small draws (its speed, once), then predicts the seconds of
grids of other sizes and sampling settings from it and from the network passes those settings take.
This script does the same, then draws each grid and times it: the ratio measured / predicted (1: exact)
is how far the compute slots' order and the request limit can trust the prediction before any grid
has corrected it. Prints a Markdown table and writes JSON.

    python benchmarks/request_costs.py                  # 1 CPU thread, as a request gets on a 2-core Space
    python benchmarks/request_costs.py --models diffusion --repeats 3
"""

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import REPO, load_average, machine_info, median, write_json  # noqa: E402
from genai.checkpoints import load_model  # noqa: E402
from genai.sampling import sample  # noqa: E402
from genai.ui import request_costs  # noqa: E402

MODELS = ("gan-conditional", "vae-mlp", "autoregressive", "diffusion-conditional", "diffusion")
# (images, sampling settings): the Sample tab's default grid, its largest, and more diffusion steps
REQUESTS = ((64, {}), (144, {}), (16, {}), (64, {"sampling_steps": 50}), (64, {"sampling_steps": 5}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="checkpoint folders under checkpoints/")
    parser.add_argument("--repeats", type=int, default=3, help="draws of each grid; the median is kept")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--json", help="default: benchmarks/results/request-costs-<date>-<time>.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.models.split(","):
        model, _ = load_model(REPO / "checkpoints" / name)
        speed = request_costs.speed(model)  # the app's own timing, once
        for images, options in REQUESTS:
            if any(option not in model.sampling_options for option in options):
                continue  # (a GAN has no sampling steps)
            predicted = request_costs.predicted_seconds(model, images, options)
            measured = []
            for repeat in range(args.repeats):
                start = time.perf_counter()
                sample(model, 1000 + repeat, images, **options)
                measured.append(time.perf_counter() - start)
            rows.append({"model": name, "images": images, "options": options, "passes": model.sampling_passes(**options),
                         "predicted_s": predicted, "measured_s": median(measured),
                         "ratio": median(measured) / predicted, "per_call_s": speed.per_call,
                         "per_image_s": speed.per_image})
    print(f"{args.threads} thread(s), median of {args.repeats} draws; load average before: {load_average()}\n")
    print("| model | images | settings | passes per image | predicted | measured | measured / predicted |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        settings = ", ".join(f"{k} {v}" for k, v in row["options"].items()) or "its own"
        print(f"| {row['model']} | {row['images']} | {settings} | {row['passes']} | {row['predicted_s']:.3f} s | "
              f"{row['measured_s']:.3f} s | {row['ratio']:.2f} |")
    ratios = [row["ratio"] for row in rows]
    print(f"\nmeasured / predicted: {min(ratios):.2f} to {max(ratios):.2f} over {len(rows)} requests")
    stamp = datetime.now().strftime("%Y-%m-%d-%H%M%S")
    path = write_json({"machine": machine_info("cpu"), "options": vars(args), "results": rows},
                      args.json or REPO / "benchmarks" / "results" / f"request-costs-{stamp}.json")
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
