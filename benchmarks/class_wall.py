"""The teacher's wall: how much of the server's CPU it adds while a class trains.

    python -m benchmarks.class_wall                       # 30 students, replayed runs (about 3 minutes)
    python -m benchmarks.class_wall --students 60
    python -m benchmarks.class_wall --real --students 6   # 6 real tiny runs training in the app

The server (`app.py`, in a subprocess) is measured from /proc: its user + system CPU time over windows
of --seconds, alternately without the wall (nobody polls it) and with the wall open (a teacher's client
asks /class_wall once a second, as the wall's gr.Timer does). The wall's cost is the difference, as a
percentage of one core.

Two kinds of students:
- replayed (default): N sessions inside the server, each showing a run that adds a new live grid (64 real
  MNIST digits, as a PNG) every 2 s, as a training run does, but without training: 30 real runs would
  need 30 training slots and far more than this machine's 2 cores. The server then has only the wall's
  work to add, so its cost stands out from the noise.
- real (--real): N gradio clients each train a tiny MLP VAE in the app (N training slots). On 2 cores
  training takes all the CPU either way, so the difference is within the noise; it is a check that the
  wall does nothing odd beside real runs, not a precise figure.
"""

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, find_data_dir, write_json  # noqa: E402

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PREVIEW_SECONDS = 2.0  # a run's live grid changes this often (genai/ui/settings.py PREVIEW_SECONDS)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--real", action="store_true", help="students train real tiny runs (use a few: 6-10)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measured window")
    parser.add_argument("--rounds", type=int, default=2, help="windows without and with the wall, alternating")
    parser.add_argument("--data-dir", help="MNIST folder (default: $GENAI_DATA_DIR or the shared copy)")
    parser.add_argument("--json", help="where to write the figures (default: benchmarks/results/class-wall-<date>.json)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # (inside the server: replay this many)
    return parser.parse_args(argv)


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


# Inside the server: students whose runs are replayed

def replay_students(count, data_dir):
    """Wait for the teacher's class, join `count` sessions to it, and give each a run whose live grid changes
    every PREVIEW_SECONDS (staggered), as a training run's does. Runs in a thread of the server process."""
    from genai.classroom import CLASSES
    from genai.data import load_dataset
    from genai.models import create_model
    from genai.timelapse import Timelapse
    from genai.ui.session import SESSIONS, Session

    digits = load_dataset("mnist", data_dir=data_dir, limit=64 * 50).images.numpy()
    model = create_model("gan", "mlp", seed=0)
    while True:
        lessons = CLASSES.live_classes()
        if lessons:
            break
        time.sleep(0.2)
    students = []
    for number in range(count):
        session = Session()
        SESSIONS.register(session)
        CLASSES.join(session, lessons[0].code, "", address=f"replayed-{number}")
        controls = session.controls()
        controls.busy.acquire()  # "training"
        controls.slot, controls.model, controls.live_values = "replayed", model, {"lr": 2e-4}
        controls.timelapse = Timelapse()
        students.append(session)
    start, step = time.monotonic(), 0
    while True:
        step += 1
        for number, session in enumerate(students):
            first = (step * 64 + number * 64) % (len(digits) - 64)
            event = SimpleNamespace(preview=digits[first:first + 64], preview_columns=8, step=step * 20,
                                    elapsed_seconds=time.monotonic() - start,
                                    losses={"L_D": 1.0 + number / 100, "L_G": 0.7})
            session.controls().timelapse.add(event)
            session.touch()
            time.sleep(PREVIEW_SECONDS / count)


def serve(count, data_dir):
    import app  # builds the page
    from genai.ui import launch_options
    from genai.ui import visitors

    threading.Thread(target=replay_students, args=(count, data_dir), daemon=True).start()
    visitors.keep_real_addresses()
    app.demo.launch(**launch_options(), **app.server_options())


# The measuring side

def start_server(args, port, data_dir):
    env = {**os.environ, "GENAI_DATA_DIR": str(data_dir), "GENAI_TRUSTED_PROXY": "1",
           "GENAI_TRAIN_CONCURRENCY": str(max(args.students, 2)), "GENAI_MAX_TRAIN_SECONDS": "3600",
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [sys.executable, "app.py"] if args.real else \
        [sys.executable, "-m", "benchmarks.class_wall", "--serve", str(args.students), "--data-dir", str(data_dir)]
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"class-wall-server-{port}.log", "wb")  # (for a failure)
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(url, seconds=120):
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the app did not answer on {url}")


def client(url, number):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False,
                  headers={"X-Forwarded-For": f"10.1.{number // 256}.{number % 256}"})


def window(pid, seconds, teacher=None):
    """The server's CPU (% of one core) over `seconds`; with a teacher, the wall is polled once a second."""
    sent, latencies = [], []
    before, start = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - start < seconds:
        tick = time.monotonic()
        if teacher is not None:
            html = teacher.predict(api_name="/class_wall")[0]
            latencies.append(time.monotonic() - tick)
            sent.append(len(html) if isinstance(html, str) else 0)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    elapsed = time.monotonic() - start
    result = {"cpu_percent": round(100 * (cpu_seconds(pid) - before) / elapsed, 2), "seconds": round(elapsed, 1)}
    if teacher is not None:
        result.update(ticks=len(sent), changed_ticks=sum(1 for size in sent if size),
                      kb_per_tick=round(sum(sent) / max(len(sent), 1) / 1024, 1),
                      tick_ms_median=round(1000 * sorted(latencies)[len(latencies) // 2], 1))
    return result


def main(argv=None):
    args = parse_args(argv)
    data_dir = find_data_dir(args.data_dir)
    if args.serve is not None:
        serve(args.serve, data_dir)
        return
    from benchmarks.common import machine_info

    with socket.socket() as sock:  # a free port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    server = start_server(args, port, data_dir)
    try:
        wait_for(url)
        teacher = client(url, 0)
        code = teacher.predict(api_name="/class_start")[0].split("`")[1]
        jobs = []
        if args.real:
            for number in range(1, args.students + 1):
                student = client(url, number)
                student.predict(code, "", api_name="/class_join")
                total = 5 + 2 * args.rounds * args.seconds + 30
                jobs.append(student.submit("mnist", "vae", "mlp", False, 20, total, 64, 1e-3, 1.0, 0, None, 1.0,
                                           api_name="/train"))
        deadline = time.monotonic() + 120
        while True:  # every student's tile is on the wall
            html = teacher.predict(api_name="/class_wall")[0]
            if isinstance(html, str) and html.count('class="genai-tile"') == args.students and \
                    html.count("step ") == args.students:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the students' tiles never all showed a step")
            time.sleep(1)
        time.sleep(5)  # runs settle (real ones: past their first, slower steps)
        rows = []
        for round_number in range(args.rounds):
            rows.append({"round": round_number + 1, "wall": "closed", **window(server.pid, args.seconds)})
            rows.append({"round": round_number + 1, "wall": "open", **window(server.pid, args.seconds, teacher)})
            for row in rows[-2:]:
                print(row, flush=True)
        closed = [row["cpu_percent"] for row in rows if row["wall"] == "closed"]
        opened = [row["cpu_percent"] for row in rows if row["wall"] == "open"]
        added = sum(opened) / len(opened) - sum(closed) / len(closed)
    finally:
        server.terminate()
        server.wait(timeout=30)

    kind = "real tiny runs (MLP VAE)" if args.real else "replayed runs (a new 64-digit grid every 2 s each)"
    print(f"\nThe wall's cost with {args.students} students, {kind}; server CPU in % of one core, "
          f"{args.seconds:.0f} s windows")
    print("| round | wall | server CPU | wall ticks | ticks that sent the wall | KB per tick | tick (median) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['round']} | {row['wall']} | {row['cpu_percent']:.1f}% | {row.get('ticks', '')} | "
              f"{row.get('changed_ticks', '')} | {row.get('kb_per_tick', '')} | "
              + (f"{row['tick_ms_median']} ms |" if "tick_ms_median" in row else " |"))
    print(f"\nThe wall added {added:.1f}% of one core (mean open - mean closed).")
    result = {"benchmark": "class_wall", "students": args.students, "kind": kind, "window_seconds": args.seconds,
              "rows": rows, "wall_added_percent_of_one_core": round(added, 2), "machine": machine_info("cpu"),
              "command": "python -m benchmarks.class_wall " + " ".join(argv if argv is not None else sys.argv[1:])}
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    path = Path(args.json or REPO / "benchmarks" / "results" /
                f"class-wall-{'real' if args.real else 'replayed'}-{args.students}-{stamp}.json")
    print(f"Wrote {write_json(result, path)}")


if __name__ == "__main__":
    main()
