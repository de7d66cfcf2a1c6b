"""What one visitor's new sessions cost the server: its memory after every N raw API calls, and what holds it.

The app runs in this process (as `python app.py` runs it, behind one trusted proxy), so besides the
resident memory the script can count what the server keeps: Gradio's stored sessions (bounded by
GENAI_MAX_SESSIONS), Gradio's per-session message queues, the shared cache of sampled grids (bounded
by GENAI_SAMPLE_CACHE_MB) and the sessions the app's registry looks after. At the end glibc's
malloc_trim shows how much of the growth was free memory the allocator had kept.

    python benchmarks/session_memory.py                         # 400 grids from 400 new sessions
    python benchmarks/session_memory.py --mode cached           # new sessions, one seed: no new grid is drawn
    python benchmarks/session_memory.py --gradio-sessions       # Gradio's own sessions (before lean_state.py)

Each call is the abuse benchmark's (benchmarks/abuse.py, attack new_sessions): an 8x8 grid of
gan-conditional from a new session hash.
"""

import argparse
import ctypes
import gc
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import find_data_dir, machine_info, write_json  # noqa: E402
from benchmarks.load_test import RESULTS_DIR, free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def resident_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=400, help="API calls, each from a new session (default 400)")
    parser.add_argument("--every", type=int, default=50, help="measure after every this many calls (default 50)")
    parser.add_argument("--mode", choices=("new", "cached"), default="new",
                        help="new: a new seed each call (a new grid drawn and cached); cached: always one seed")
    parser.add_argument("--gradio-sessions", action="store_true",
                        help="keep Gradio's own SessionState and store (what the app used before lean_state.py)")
    parser.add_argument("--data-dir", help="MNIST folder (default: $GENAI_DATA_DIR, else ../shared/...)")
    parser.add_argument("--json", help="where to write the figures (default: benchmarks/results/session-memory-<date>-<time>.json)")
    args = parser.parse_args(argv)

    port = free_port()
    os.environ.update({"GENAI_TRUSTED_PROXY": "1", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"})
    data_dir = find_data_dir(args.data_dir)
    if data_dir:
        os.environ["GENAI_DATA_DIR"] = str(data_dir)
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    import app
    import gradio.routes
    import gradio.state_holder

    from benchmarks.abuse import ATTACKER, STUDENT, api
    from genai.ui import lean_state, sample_tab
    from genai.ui.session import SESSIONS

    app.cap_malloc_arenas()  # as `python app.py` does
    if args.gradio_sessions:
        gradio.state_holder.SessionState = lean_state.LeanSessionState.__bases__[0]
        gradio.routes.StateHolder = lean_state.LeanStateHolder.__bases__[0]
    demo = app.demo
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **app.server_options())
    url = f"http://127.0.0.1:{port}/"
    rows = []

    def measure(calls, seconds):
        gc.collect()
        queue = demo._queue
        row = {"calls": calls, "rss_mb": resident_mb(), "gradio_sessions": len(demo.state_holder.session_data),
               "gradio_message_queues": len(queue.pending_messages_per_session),
               "gradio_event_id_sets": len(queue.pending_event_ids_session),
               "grid_cache_mb": round(sample_tab.RESULTS.bytes / 2**20, 1), "registry_sessions": len(SESSIONS._sessions),
               "seconds": round(seconds, 1)}
        rows.append(row)
        print(" ".join(f"{key} {value}" for key, value in row.items()), flush=True)

    try:
        api(url, "sample", ["gan-conditional", 0, 8, "all", 1.0, None, None], STUDENT)  # the model loaded once
        started = time.perf_counter()
        measure(0, 0.0)
        for i in range(args.calls):
            seed = 5000 + (i if args.mode == "new" else 0)
            api(url, "sample", ["gan-conditional", seed, 8, "all", 1.0, None, None], ATTACKER)
            if (i + 1) % args.every == 0 or i + 1 == args.calls:
                measure(i + 1, time.perf_counter() - started)
        trimmed = time.perf_counter()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        after_trim = {"rss_mb": resident_mb(), "trim_ms": round((time.perf_counter() - trimmed) * 1000, 1)}
        print(f"after malloc_trim: rss_mb {after_trim['rss_mb']} ({after_trim['trim_ms']} ms)")
    finally:
        demo.close()
    result = {"benchmark": "session_memory", "command": " ".join(["benchmarks/session_memory.py",
                                                                 *(argv or sys.argv[1:])]),
              "machine": machine_info("cpu"), "mode": args.mode, "gradio_sessions": args.gradio_sessions,
              "state_session_capacity": demo.state_session_capacity, "rows": rows, "after_malloc_trim": after_trim}
    path = Path(args.json) if args.json else RESULTS_DIR / f"session-memory-{time.strftime('%Y-%m-%d-%H%M%S')}.json"
    write_json(result, path)
    print(f"Wrote {path}")
    return result


if __name__ == "__main__":
    main()
    os._exit(0)  # the server's threads (queue, sweeper) would keep the process alive
