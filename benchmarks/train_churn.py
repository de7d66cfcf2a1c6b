"""One visitor training 1-step models back to back: do the server's memory and disk stay bounded?

A student (or a script) may press Start again and again. Each run saves a model into the
visitor's session folder and hands out a .zip; the session keeps at most
GENAI_SESSION_MAX_MODELS models (the oldest are deleted), and the files handed out are
deleted after GENAI_FILE_TTL_SECONDS. This script starts `python app.py` (its own temp
folders), trains 1-step models through the API for --minutes, and every --every seconds
records the server's resident memory and the size of its temp folders. It prints a table and
writes JSON.

    python benchmarks/train_churn.py                  # 10 minutes, default model (conditional DCGAN)
    python benchmarks/train_churn.py --minutes 3 --family gan --arch mlp
"""

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, find_data_dir, machine_info, write_json  # noqa: E402
from benchmarks.load_test import App, folder_usage, process_tree_rss  # noqa: E402

ARCH_OPTIONS = {("gan", "dcgan"): (True, 100, 1e-3), ("gan", "mlp"): (True, 100, 2e-4), ("vae", "mlp"): (True, 16, 2e-3)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to keep training (default 10)")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between measurements (default 30)")
    parser.add_argument("--family", default="gan", choices=("gan", "vae"))
    parser.add_argument("--arch", default="dcgan", choices=("dcgan", "mlp"))
    parser.add_argument("--file-ttl", type=int, default=600, help="the app's GENAI_FILE_TTL_SECONDS (default 600)")
    parser.add_argument("--data-dir", help="MNIST folder (default: $GENAI_DATA_DIR, else ../shared/...)")
    parser.add_argument("--json", help="where to write the figures (default: benchmarks/results/churn-<date>.json)")
    return parser.parse_args(argv)


def main(argv=None):
    import os

    from gradio_client import Client

    args = parse_args(argv)
    conditional, latent, lr = ARCH_OPTIONS[(args.family, args.arch)]
    os.environ["GENAI_FILE_TTL_SECONDS"] = str(args.file_ttl)
    scratch = Path(tempfile.mkdtemp(prefix="genai-churn-"))
    app = App(scratch, find_data_dir(args.data_dir))
    rows, runs, errors = [], 0, 0
    try:
        client = Client(app.url, verbose=False, download_files=str(scratch / "downloads"))
        started = next_measure = time.monotonic()
        end = started + 60 * args.minutes
        while True:
            now = time.monotonic()
            if now >= next_measure or now >= end:
                rows.append({"minutes": round((now - started) / 60, 2), "runs": runs, "errors": errors,
                             "server": process_tree_rss(app.pid), "temp": folder_usage(app.temp_dirs)})
                print(f"{rows[-1]['minutes']:5.1f} min  {runs:4d} runs  RSS {rows[-1]['server']['rss_mb']:.0f} MB  "
                      f"temp {rows[-1]['temp']['mb']:.0f} MB, {rows[-1]['temp']['files']} files", flush=True)
                next_measure += args.every
                if now >= end:
                    break
            try:
                client.submit("mnist", args.family, args.arch, conditional, latent, 30, 64, lr, 1.0, runs, 1, 1.0,
                              api_name="/train").result(timeout=120)
                runs += 1
            except Exception:  # noqa: BLE001 - counted, and the loop goes on
                errors += 1
    finally:
        app.stop()
    result = {"benchmark": "train_churn", "command": " ".join(["benchmarks/train_churn.py", *(argv or sys.argv[1:])]),
              "model": f"{args.family} {args.arch}", "file_ttl_seconds": args.file_ttl, "machine": machine_info("cpu"),
              "rows": rows}
    path = Path(args.json or REPO / "benchmarks" / "results" /
                f"churn-{datetime.now(timezone.utc).strftime('%Y-%m-%d')}.json")
    write_json(result, path)
    peak_rss = max(r["server"]["rss_mb"] for r in rows)
    peak_temp = max(r["temp"]["mb"] for r in rows)
    print(f"\n{runs} one-step trainings in {args.minutes:g} min, {errors} errors; server RSS at most {peak_rss:.0f} MB, "
          f"temp folders at most {peak_temp:.0f} MB. Wrote {path}")


if __name__ == "__main__":
    main()
