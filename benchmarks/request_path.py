"""Where a /sample call's time goes on the server (issue 43 item 3).

Starts `python app.py`, then one client (the light raw-HTTP client of load_test.py, as a browser tab
calls the API) asks /sample for gan-conditional grids back to back: first each a new seed (the model
draws), then one seed again and again (the shared result cache answers). Meanwhile py-spy samples the
server's threads, and the script sorts what it saw by the part of the request path each stack is in.

It prints, per kind of call, the client's median and p95 seconds and the server's CPU milliseconds per
call (from /proc), then the share of the server's samples in each part, and writes both as JSON.

    python benchmarks/request_path.py                  # 150 calls of each kind, about 2 minutes
    python benchmarks/request_path.py --calls 300 --no-profile

py-spy (pip install py-spy) is needed for the profile; without it only the timings are measured.
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import find_data_dir, machine_info, summarize_ms, write_json  # noqa: E402
from benchmarks.load_test import RESULTS_DIR, App, RawHttpClient  # noqa: E402

MODEL = "gan-conditional"

# Parts of the request path, in the order a call meets them; a stack belongs to the first part whose words
# it holds (file and function names as py-spy writes them, "function (file.py:line)").
PARTS = [
    ("the model's forward pass", ("torch/nn/", "draws_together", "draw_together", "sample (sampling.py",
                                  "generate (")),
    ("making the grid picture", ("grid (sampling.py", "enlarge (pictures.py", "to_uint8")),
    ("writing the PNG", ("png_file", "PngImagePlugin", "Image.py:")),
    ("Gradio moving the file into its cache", ("move_resource_to_block_cache", "save_file_to_cache",
                                               "hash_file", "shutil.py", "processing_utils")),
    ("Gradio's pre/postprocessing", ("postprocess", "preprocess", "data_model", "pydantic")),
    ("Gradio's queue and event stream", ("queueing.py", "route_utils.py", "sse", "server_messages")),
    ("the app's checks and session", ("genai/ui/", "session.py")),
    ("the web server (uvicorn, starlette)", ("uvicorn", "starlette", "h11", "httptools", "fastapi", "anyio")),
    ("asyncio", ("asyncio",)),
]


def part_of(stack):
    for name, words in PARTS:
        if any(word in stack for word in words):
            return name
    return "other"


def cpu_seconds(pid):
    """User + system CPU seconds of a process and its children (from /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_calls(client, seeds, timeout=60):
    times = []
    for seed in seeds:
        started = time.perf_counter()
        client.submit(MODEL, seed, 8, "all", 1.0, 20, 2.0, api_name="/sample").result(timeout)
        times.append(time.perf_counter() - started)
    return times


def profile_parts(path):
    """{part: share of samples} from py-spy's collapsed stacks ("frame;frame;frame count" per line)."""
    counts = collections.Counter()
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "idle" in stack or not count.isdigit():
            continue
        counts[part_of(stack)] += int(count)
    total = sum(counts.values()) or 1
    return {part: round(count / total, 3) for part, count in counts.most_common()}


def png_levels(repeats=30):
    """The grid's PNG encoding at Pillow's default zlib level (6) and at the app's (1), taken in turn in this
    process: {level: {"ms": median, "kb": size}}."""
    import io

    import numpy as np

    from genai.checkpoints import load_model
    from genai.sampling import grid, sample
    from genai.ui.pictures import enlarge
    from genai.ui.sample_tab import DISPLAY_SCALE

    model, _ = load_model(Path(__file__).resolve().parents[1] / "checkpoints" / MODEL)
    picture = enlarge(grid(sample(model, 3, 64), columns=8), DISPLAY_SCALE)
    times, sizes = {6: [], 1: []}, {}
    for _ in range(repeats):
        for level in times:
            buffer = io.BytesIO()
            started = time.perf_counter()
            picture.save(buffer, format="PNG", compress_level=level)
            times[level].append(time.perf_counter() - started)
            sizes[level] = len(buffer.getvalue())
    return {level: {"ms": round(1000 * float(np.median(t)), 2), "kb": round(sizes[level] / 1024, 1)}
            for level, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=150, help="calls of each kind (default 150)")
    parser.add_argument("--no-profile", action="store_true", help="timings only, without py-spy")
    parser.add_argument("--data-dir", help="MNIST folder (default: $GENAI_DATA_DIR, else ../shared/...)")
    parser.add_argument("--keep", help="a folder to keep py-spy's collapsed stacks in (one file per kind of call)")
    parser.add_argument("--json", help="where to write the figures (default: benchmarks/results/request-path-<date>.json)")
    args = parser.parse_args()
    spy = None if args.no_profile else shutil.which("py-spy")
    scratch = Path(tempfile.mkdtemp(prefix="genai-request-path-"))
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
    results = {"machine": machine_info("cpu"), "model": MODEL, "calls": args.calls, "kinds": {}}
    app = App(scratch, data_dir=find_data_dir(args.data_dir))
    try:  # from here on, whatever happens, the app is stopped
        client = RawHttpClient(app.url)
        run_calls(client, range(10_000, 10_010))  # warm: the model loaded, the first grids drawn
        kinds = {"new seed each call (drawn)": range(args.calls),
                 "one seed again and again (cached)": [7] * args.calls}
        for kind, seeds in kinds.items():
            profile = Path(args.keep or scratch) / f"profile-{len(results['kinds'])}.txt"
            recorder = None
            if spy:
                recorder = subprocess.Popen([spy, "record", "--pid", str(app.pid), "--format", "raw", "--rate", "200",
                                             "--output", str(profile), "--nonblocking"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.0)
            cpu_before = cpu_seconds(app.pid)
            times = run_calls(client, seeds)
            cpu = cpu_seconds(app.pid) - cpu_before
            if recorder is not None:
                recorder.send_signal(2)  # SIGINT: py-spy writes what it has and exits
                recorder.wait(timeout=60)
            row = {"client": summarize_ms(times), "server_cpu_ms_per_call": round(1000 * cpu / len(times), 1)}
            if recorder is not None and profile.exists():
                row["profile"] = profile_parts(profile)
            results["kinds"][kind] = row
    finally:
        app.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"{MODEL}, 8x8 grids, one client back to back, {args.calls} calls of each kind")
    print(f"{'calls':38s} {'p50 ms':>10s} {'p95 ms':>8s} {'server CPU ms/call':>19s}")
    for kind, row in results["kinds"].items():
        print(f"{kind:38s} {row['client']['p50_ms']:10.1f} {row['client']['p95_ms']:8.1f} "
              f"{row['server_cpu_ms_per_call']:19.1f}")
    for kind, row in results["kinds"].items():
        if "profile" in row:
            print(f"\nwhere the server's samples were, {kind}:")
            for part, share in row["profile"].items():
                print(f"  {100 * share:5.1f}%  {part}")
    results["png"] = png_levels()
    print("\nthe 64-digit grid's PNG (484x484 px), median of 30 taken in turn:")
    for level, row in results["png"].items():
        print(f"  zlib level {level}{' (Pillow default)' if level == 6 else ' (the app)'}: {row['ms']:.2f} ms, "
              f"{row['kb']:.1f} KB")
    path = write_json(results, args.json or RESULTS_DIR / f"request-path-{time.strftime('%Y-%m-%d')}.json")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
