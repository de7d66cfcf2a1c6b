"""Web app latency: how long one `sample` call takes through gradio_client, end to end.

This is what a student feels when they move the seed slider: the request goes
through Gradio's queue, the model draws the grid, the PNG is written, and the client
downloads it. The script starts `python app.py` on a free port (or measures an app
already running, with --url), makes a few warm-up calls, then times --calls calls
with a new seed each, and prints a table (Markdown) and writes the figures as JSON.

    python benchmarks/ui_latency.py                       # shipped checkpoints, 50 calls
    python benchmarks/ui_latency.py --model vae-2d --grid 8 --calls 100
    python benchmarks/ui_latency.py --url http://127.0.0.1:7860/
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, LoadMonitor, machine_info, summarize_ms, write_json  # noqa: E402

RESULTS_DIR = REPO / "benchmarks" / "results"
STARTUP_SECONDS = 120


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(checkpoints_dir, log_path):
    """`python app.py` on a free port; returns (url, process, seconds until it answered)."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    if checkpoints_dir:
        env["GENAI_CHECKPOINTS_DIR"] = str(checkpoints_dir)
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    while time.perf_counter() - started < STARTUP_SECONDS:
        if process.poll() is not None:
            raise SystemExit(f"python app.py exited with code {process.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return url, process, time.perf_counter() - started
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"python app.py did not answer within {STARTUP_SECONDS} s; see {log_path}")


def measure(url, model, grid, calls, warmup, download_dir):
    """Seconds per `sample` call, one list entry per timed call."""
    from gradio_client import Client

    client = Client(url, verbose=False, analytics_enabled=False, download_files=str(download_dir))
    _, picker, *_ = client.predict("mnist", None, None, None, api_name="/refresh")
    names = [value for _, value in picker["choices"]]
    if not names:
        raise SystemExit("The app offers no model: put checkpoints in checkpoints/ or pass --checkpoints DIR.")
    model = model or names[0]
    if model not in names:
        raise SystemExit(f"No model {model!r} in the app; it has: {', '.join(names)}.")
    for seed in range(warmup):
        client.predict(model, 10_000 + seed, grid, "all", 1.0, api_name="/sample")
    seconds, baseline = [], []
    for seed in range(calls):
        start = time.perf_counter()
        client.predict(model, seed, grid, "all", 1.0, api_name="/sample")
        seconds.append(time.perf_counter() - start)
    for _ in range(calls):  # the same round trip with almost no work: what any call pays
        start = time.perf_counter()
        client.predict(model, api_name="/model_info")
        baseline.append(time.perf_counter() - start)
    return model, seconds, baseline


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="measure an app that is already running here (default: start python app.py)")
    parser.add_argument("--checkpoints", help="pretrained models folder for the app (default: checkpoints/)")
    parser.add_argument("--model", help="model name in the app (default: the first one it offers)")
    parser.add_argument("--grid", type=int, default=8, help="grid size, images per side (default 8: 64 images)")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", help="where to write the figures (default: benchmarks/results/ui-latency-<date>.json)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="genai-ui-latency-") as scratch:
        scratch = Path(scratch)
        process, startup = None, None
        url = args.url
        if url is None:
            url, process, startup = start_app(args.checkpoints, scratch / "app.log")
        try:
            with LoadMonitor() as load:
                model, seconds, baseline = measure(url, args.model, args.grid, args.calls, args.warmup, scratch)
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=10)

    stats, base = summarize_ms(seconds), summarize_ms(baseline)
    result = {
        "benchmark": "ui_latency",
        "what": "one /sample call through gradio_client (queue + sampling + PNG + download), new seed each call",
        "model": model,
        "grid": f"{args.grid}x{args.grid}",
        "app_startup_seconds": None if startup is None else round(startup, 2),
        "latency": stats,
        "baseline_model_info_latency": base,
        "load_average_1min": load.summary(),
        "machine": machine_info("cpu"),
    }
    print("| call | model | calls | p50 ms | p95 ms | mean ms | min ms | max ms |\n|---|---|---|---|---|---|---|---|")
    for name, row in ((f"/sample ({args.grid}x{args.grid} grid)", stats), ("/model_info (baseline)", base)):
        print(f"| {name} | {model} | {row['calls']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} "
              f"| {row['mean_ms']:.1f} | {row['min_ms']:.1f} | {row['max_ms']:.1f} |")
    print("\nThe baseline is a call that does almost nothing: the round trip through Gradio's queue and "
          "gradio_client that every call pays.")
    if startup is not None:
        print(f"\nApp startup (python app.py until it answered): {startup:.1f} s")
    if load.summary():
        print(f"Load average during the run: {load.summary()['median']} (machine has {result['machine']['cores']} cores)")
    path = Path(args.json) if args.json else RESULTS_DIR / f"ui-latency-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(result, path)
    print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
