"""How soon a PixelCNN's grid starts to show (issue 43 item 2): the first rows against the whole grid.

A PixelCNN draws a grid pixel by pixel, about a second of a core for 64 digits, so the Sample tab shows
the grid as it fills in (genai/ui/sample_tab.py: the rows drawn so far, first after 0.05 s). This script
starts `python app.py` and asks /sample for new 8x8 grids through the raw HTTP API, as a browser tab
does: POST the call, read the event stream, fetch the picture each event names. It times the first
picture (the first rows) and the last (the whole grid), from the moment the call was posted, beside the
same app sending each grid in one piece (as before), the two in turn. Prints a Markdown table and
writes JSON.

    python benchmarks/streamed_grid.py                 # 10 grids per model
    python benchmarks/streamed_grid.py --grids 30 --models autoregressive
"""

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import find_data_dir, load_average, machine_info, summarize_ms, write_json  # noqa: E402
from benchmarks.load_test import RESULTS_DIR, App  # noqa: E402

MODELS = ("autoregressive", "autoregressive-conditional")
# The same app with the grid sent in one piece only (the first part never due): what a student waited before.
ONE_PIECE = ("-c", "import runpy, genai.ui.sample_tab as tab; tab.FIRST_PART_SECONDS = float('inf'); "
                   "runpy.run_path('app.py', run_name='__main__')")


def streamed_call(url, data, session_hash):
    """(seconds to the first picture, seconds to the last, pictures received) of one /sample call."""
    base = f"{url}gradio_api/call/sample"
    started = time.perf_counter()
    body = json.dumps({"data": data, "session_hash": session_hash}).encode()
    request = urllib.request.Request(base, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        event_id = json.loads(response.read())["event_id"]
    first = last = None
    pictures, event = set(), None
    with urllib.request.urlopen(f"{base}/{event_id}", timeout=120) as stream:
        for raw in stream:  # line by line, as the events arrive
            line = raw.decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("generating", "complete"):
                outputs = json.loads(line.split(":", 1)[1])
                picture = outputs[0] if outputs else None
                if isinstance(picture, dict) and picture.get("url") and picture["url"] not in pictures:
                    with urllib.request.urlopen(picture["url"], timeout=120) as file:  # ("complete" repeats the last)
                        file.read()
                    pictures.add(picture["url"])
                    last = time.perf_counter() - started
                    first = last if first is None else first
            elif line.startswith("data:") and event == "error":
                raise RuntimeError(line[:300])
    return first, last, len(pictures)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="shipped models to ask (comma-separated)")
    parser.add_argument("--grids", type=int, default=10, help="new grids asked for per model, one after another")
    parser.add_argument("--data-dir", help="MNIST folder for the app (default: $GENAI_DATA_DIR, else ../shared/...)")
    parser.add_argument("--json", help="default: benchmarks/results/streamed-grid-<date>-<time>.json")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="genai-stream-") as scratch:
        apps = {"streamed": App(Path(scratch) / "streamed", data_dir=find_data_dir(args.data_dir)),
                "one piece": App(Path(scratch) / "one-piece", data_dir=find_data_dir(args.data_dir),
                                 python_args=ONE_PIECE)}
        try:
            for name in args.models.split(","):
                times = {way: ([], [], []) for way in apps}
                for seed in range(args.grids + 1):
                    for way, app in apps.items():  # in turn: the two apps see the same machine
                        first, last, pictures = streamed_call(app.url, [name, 50_000 + seed, 8, "all", 1.0, None,
                                                                        None], f"stream{seed:06d}")
                        if seed > 0:  # the first call also times the model (request_costs.py): not counted
                            for kept, value in zip(times[way], (first, last, pictures)):
                                kept.append(value)
                for way, (firsts, lasts, counts) in times.items():
                    rows.append({"model": name, "way": way, "grids": args.grids, "first_picture": summarize_ms(firsts),
                                 "whole_grid": summarize_ms(lasts), "pictures_per_grid": sum(counts) / len(counts)})
        finally:
            for app in apps.values():
                app.stop()
    print(f"{args.grids} new 8x8 grids per model and way, one after another, the two apps in turn, raw HTTP on "
          f"this machine; load average after: {load_average()}\n")
    print("| model | sent | first picture, p50 / p95 | whole grid, p50 / p95 | pictures per grid |")
    print("|---|---|---|---|---|")
    for row in rows:
        f, w = row["first_picture"], row["whole_grid"]
        print(f"| {row['model']} | {row['way']} | {f['p50_ms']:.0f} / {f['p95_ms']:.0f} ms | "
              f"{w['p50_ms']:.0f} / {w['p95_ms']:.0f} ms | {row['pictures_per_grid']:.1f} |")
    stamp = datetime.now().strftime("%Y-%m-%d-%H%M%S")
    path = write_json({"machine": machine_info("cpu"), "options": vars(args), "results": rows},
                      args.json or RESULTS_DIR / f"streamed-grid-{stamp}.json")
    print(f"\nWrote {path}")


if __name__ == "__main__":
    main()
