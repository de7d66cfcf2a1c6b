"""Abuse benchmark: one visitor attacks the server, another does its lesson meanwhile.

Each attack of issue 42 is replayed against `python app.py` on loopback (bounded in count and
time), while a well-behaved student draws a fresh 8x8 grid of gan-conditional every half second.
The app is started as a Space runs it, behind one proxy (GENAI_TRUSTED_PROXY=1): the attacker and
the student are two visitors, told apart by their X-Forwarded-For address, and every new session
of the attacker is still the same visitor.

For each attack it prints what the server paid (resident memory of the app and its children,
growth and peak; its temp folders) and what the student saw (p95 of its grids), and the answer the
attacker got (refused or not, how fast, the first words). At the end, after the files' time to
live, what is left on disk. Every call goes through the app's public HTTP API, as a script would.

    python benchmarks/abuse.py                      # every attack (about 8 minutes on 2 cores)
    python benchmarks/abuse.py --only upload_parts,big_text
"""

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import find_data_dir, machine_info, summarize_ms, write_json  # noqa: E402
from benchmarks.load_test import RESULTS_DIR, App, RssSampler, folder_usage, process_tree_rss  # noqa: E402

ATTACKER, STUDENT = "10.66.0.1", "10.0.0.7"
FILE_TTL_SECONDS = 60  # the app's files' time to live here (the least it takes), so "after the TTL" comes soon
MB = 2**20
LIMITS = {"rss_growth_mb": 150, "temp_mb_after_ttl": 50, "student_p95_s": 2.0, "step_spam_p95_s": 1.0,
          "refusal_s": 1.0}


# --- talking to the app as a script would ------------------------------------------------------


def session_id():
    return uuid.uuid4().hex[:11]


def api(url, name, data, visitor, session=None, timeout=120):
    """One call of /gradio_api/call/<name> as `visitor`: (worked, message or output, seconds, answer bytes)."""
    started, headers = time.perf_counter(), {"X-Forwarded-For": visitor, "Content-Type": "application/json"}
    body = json.dumps({"data": data, "session_hash": session or session_id()}).encode()
    try:
        request = urllib.request.Request(f"{url}gradio_api/call/{name}", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            event_id = json.loads(response.read())["event_id"]
        request = urllib.request.Request(f"{url}gradio_api/call/{name}/{event_id}", headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as stream:
            text = stream.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        answer = error.read()
        return False, f"HTTP {error.code}: {answer[:200].decode(errors='replace')}", time.perf_counter() - started, \
            len(answer)
    except (OSError, http.client.HTTPException) as error:  # refused, or an answer cut off mid-stream
        return False, f"{type(error).__name__}: {error}"[:200], time.perf_counter() - started, 0
    event = data_line = None
    for line in text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data_line = line.split(":", 1)[1].strip()
    return event == "complete", (data_line or "")[:300], time.perf_counter() - started, len(text)


def post_multipart(url, path, parts, part_bytes, visitor, fields=None, timeout=120):
    """A multipart POST of `parts` files of `part_bytes` each (plus form fields): (status, answer, seconds)."""
    boundary = uuid.uuid4().hex
    chunks = []
    for key, value in (fields or {}).items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    payload = b"\x89PNG" + b"\0" * (part_bytes - 4)
    for i in range(parts):
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="d{i}.png"\r\n'
                      f"Content-Type: image/png\r\n\r\n".encode() + payload + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    body = b"".join(chunks)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Forwarded-For": visitor}
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url + path, data=body, headers=headers),
                                    timeout=timeout) as response:
            return response.status, response.read()[:200].decode(errors="replace"), time.perf_counter() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read()[:200].decode(errors="replace"), time.perf_counter() - started
    except OSError as error:  # a server that closes the connection before reading it all
        return None, f"{type(error).__name__}: {error}"[:200], time.perf_counter() - started


class Student(threading.Thread):
    """A well-behaved visitor: a new 8x8 grid of gan-conditional (a seed never asked before) every 0.5 s."""

    def __init__(self, url, first_seed):
        super().__init__(daemon=True)
        self.url, self.seed, self.latencies, self.errors = url, first_seed, [], []
        self.stopping = threading.Event()

    def run(self):
        session = session_id()
        while not self.stopping.is_set():
            worked, message, seconds, _ = api(self.url, "sample", ["gan-conditional", self.seed, 8, "all", 1.0,
                                                                   None, None], STUDENT, session)
            (self.latencies if worked else self.errors).append(seconds if worked else message)
            self.seed += 1
            self.stopping.wait(0.5)

    def stop(self):
        self.stopping.set()
        self.join(timeout=180)
        return {"grids": len(self.latencies), "errors": len(self.errors),
                "p95_s": round(summarize_ms(self.latencies)["p95_ms"] / 1000, 3) if self.latencies else None,
                "first_error": self.errors[0] if self.errors else None}


def train_args(family="gan", arch="mlp", batch_size=64, seconds=600, max_steps=1_000_000):
    """/train's inputs, in the settings table's order."""
    latent = {"gan": 100, "vae": 20}.get(family, 784)
    return ["mnist", family, arch, False, latent, seconds, batch_size, 1e-3, 1.0, 0, max_steps, 1.0]


def browser_like(url, visitor):
    """A gradio_client Client as `visitor`: one session that can have several calls going at once, as a page
    does (the raw /call API streams a session's events together, so it suits one call per session only)."""
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, headers={"X-Forwarded-For": visitor},
                  download_files=tempfile.mkdtemp(prefix="genai-abuse-client-"))


def start_and_pause(client, seconds=300):
    """Start a GAN run and pause it as soon as it trains (the data loads first): the run's Job, or None."""
    job = client.submit(*train_args(seconds=seconds), api_name="/train")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not job.done():
        try:
            client.predict(api_name="/pause")
            return job
        except Exception:  # noqa: BLE001 - "Nothing is training" until the data is loaded
            time.sleep(0.3)
    return None


def end_run(client, job):
    client.predict(api_name="/stop")
    try:
        client.predict(api_name="/resume")
    except Exception:  # noqa: BLE001 - a run that already ended has nothing to resume
        pass
    job.result(timeout=120)


def timed(call):
    """(worked, message, seconds, 0) of a gradio_client call, like api()'s answer."""
    started = time.perf_counter()
    try:
        call()
        return True, "accepted", time.perf_counter() - started, 0
    except Exception as error:  # noqa: BLE001 - a refusal is an answer
        return False, str(error)[:300], time.perf_counter() - started, 0


# --- the attacks: each returns what the attacker got ----------------------------------------------


def new_sessions(url):
    """200 grids asked for from 200 new sessions: sessions are free, the visitor is not."""
    answers = [api(url, "sample", ["gan-conditional", 5000 + i, 8, "all", 1.0, None, None], ATTACKER)
               for i in range(200)]
    return summary(answers)


def refused_calls(url):
    """2,000 calls with a bad seed, each from a new session, 8 at a time: a refusal keeps nothing."""
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: api(url, "sample", ["gan-conditional", -1, 8, "all", 1.0, None, None],
                                              ATTACKER), range(2000)))
    return summary(answers)


def batch_bomb(url):
    """A PixelCNN at batch 4,096: refused before it costs memory, with the batch that fits."""
    return summary([api(url, "train", train_args("autoregressive", "pixelcnn", batch_size=4096), ATTACKER)])


def step_spam(url):
    """A paused run and 42 /step (100 steps) at once: one is taken, the rest refused, nothing blocks."""
    client = browser_like(url, ATTACKER)
    job = start_and_pause(client)
    if job is None:
        return {"calls": 0, "note": "the run did not start training within 120 s"}
    steps = [(time.perf_counter(), client.submit(100, api_name="/step")) for _ in range(42)]
    answers = []
    for started, step in steps:
        answer = timed(lambda: step.result(timeout=180))
        answers.append((answer[0], answer[1], time.perf_counter() - started, 0))
    end_run(client, job)
    return summary(answers)


def hammer(url):
    """12 threads drawing 12x12 grids of diffusion-conditional with 200 steps, back to back, for 30 s."""
    return hammer_with(url, grid_size=12, steps=200)


def hammer_within_limit(url):
    """12 threads drawing 6 rows of 0-9 of diffusion-conditional with 60 steps (about 3 s, within the limit), 30 s."""
    return hammer_with(url, grid_size=6, steps=60)


def hammer_with(url, grid_size, steps):
    """12 threads asking for diffusion-conditional grids of this size and these steps, back to back, for 30 s."""
    deadline, answers = time.monotonic() + 30, []

    def loop(thread):
        seed = 100_000 * (thread + 1)
        while time.monotonic() < deadline:
            answers.append(api(url, "sample", ["diffusion-conditional", seed, grid_size, "all", 1.0, steps, 2.0],
                               ATTACKER))
            seed += 1

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(loop, range(12)))
    return summary(answers)


def slot_hold(url):
    """Two sessions of one visitor start 300 s runs and pause them: the second is refused (one run per
    visitor), and the student's own run still starts training."""
    first, second = browser_like(url, ATTACKER), browser_like(url, ATTACKER)
    job = start_and_pause(first)
    second_job, asked = second.submit(*train_args(seconds=300), api_name="/train"), time.perf_counter()
    while not second_job.done() and time.perf_counter() - asked < 20:
        time.sleep(0.2)
    if second_job.done():  # refused (or ended at once)
        answers = [timed(lambda: second_job.result())]
    else:
        answers = [(True, "accepted: a second run of the visitor trains or waits", time.perf_counter() - asked, 0)]
    student, started = browser_like(url, STUDENT), time.perf_counter()
    student_job = start_and_pause(student)
    waited = time.perf_counter() - started
    for client, running in ((first, job), (second, None if second_job.done() else second_job), (student, student_job)):
        if running is not None:
            end_run(client, running)
    result = summary(answers)
    result["student_run_training_after_s"] = round(waited, 2) if student_job is not None else None
    return result


def upload_parts(url):
    """One POST to /gradio_api/upload of 60 files of 4.9 MB."""
    status, answer, seconds = post_multipart(url, "gradio_api/upload", 60, int(4.9 * MB), ATTACKER)
    return {"calls": 1, "refused": int(status != 200), "first_answer": f"{status}: {answer}"[:160],
            "slowest_s": round(seconds, 2)}


def sketchpad_id(url):
    """The id of the page's sketchpad (an image editor), from the app's /config."""
    with urllib.request.urlopen(f"{url}config", timeout=60) as response:
        components = json.loads(response.read())["components"]
    return next(c["id"] for c in components if c.get("type") in ("imageeditor", "sketchpad"))


def blob_parts(url):
    """One POST to the sketchpad's accept_blobs (/gradio_api/component_server) with 100 parts of 4.9 MB."""
    fields = {"session_hash": session_id(), "component_id": sketchpad_id(url), "fn_name": "accept_blobs",
              "data": json.dumps({"type": "composite", "index": None, "id": "x"})}
    status, answer, seconds = post_multipart(url, "gradio_api/component_server", 100, int(4.9 * MB), ATTACKER, fields)
    return {"calls": 1, "refused": int(status != 200), "first_answer": f"{status}: {answer}"[:160],
            "slowest_s": round(seconds, 2)}


def big_text(url):
    """A 50 MB model name: refused without being echoed back."""
    answer = api(url, "sample", ["x" * (50 * MB), 0, 8, "all", 1.0, None, None], ATTACKER)
    result = summary([answer])
    result["answer_bytes"] = answer[3]
    return result


ATTACKS = {attack.__name__: attack for attack in (new_sessions, refused_calls, batch_bomb, step_spam, hammer,
                                                  hammer_within_limit, slot_hold, upload_parts, blob_parts, big_text)}


def summary(answers):
    """What the attacker got from its calls: how many, how many refused, the slowest, the first refusal."""
    refused = [a for a in answers if not a[0]]
    return {"calls": len(answers), "refused": len(refused),
            "slowest_s": round(max((a[2] for a in answers), default=0.0), 2),
            "first_answer": (refused[0][1] if refused else "accepted")[:160]}


# --- running and reporting -----------------------------------------------------------------------


def run_attack(name, url, pid, temp_dirs, seed):
    """One attack with the student drawing beside it; the server's memory and disk before and after."""
    before = process_tree_rss(pid)
    student = Student(url, seed)
    with RssSampler(pid) as rss:
        student.start()
        time.sleep(1.0)  # the student's first grids, before the attack
        started = time.perf_counter()
        attacker = ATTACKS[name](url)
        seconds = time.perf_counter() - started
        seen = student.stop()
    time.sleep(2.0)
    after = process_tree_rss(pid)
    return {"attack": name, "what": ATTACKS[name].__doc__.split("\n")[0], "seconds": round(seconds, 1),
            "attacker": attacker, "student": seen,
            "rss_before_mb": before and before["rss_mb"], "rss_after_mb": after and after["rss_mb"],
            "rss_peak_mb": rss.peak and rss.peak["rss_mb"],
            "rss_growth_mb": round(after["rss_mb"] - before["rss_mb"], 1) if before and after else None,
            "temp_after": folder_usage(temp_dirs),
            "load_average_1min_after": round(os.getloadavg()[0], 2)}  # other work on the machine skews the p95


def verdicts(row):
    """Which of the issue's limits the row keeps."""
    goal = LIMITS["step_spam_p95_s"] if row["attack"] == "step_spam" else LIMITS["student_p95_s"]
    p95 = row["student"]["p95_s"]
    checks = {"memory": row["rss_growth_mb"] is not None and row["rss_growth_mb"] <= LIMITS["rss_growth_mb"],
              "student": p95 is not None and p95 <= goal and row["student"]["errors"] == 0}
    if row["attack"] == "batch_bomb":
        checks["refusal"] = row["attacker"]["refused"] == 1 and row["attacker"]["slowest_s"] <= LIMITS["refusal_s"]
    return checks


def report(result):
    out = ["| attack | attacker's calls (refused) | first answer | server RSS growth MB (peak) | "
           "student grids, p95 s (errors) | within limits |", "|---|---|---|---|---|---|"]
    for row in result["attacks"]:
        a, s = row["attacker"], row["student"]
        answer = a.get("first_answer", a.get("note", "")).replace("|", "/").replace("\n", " ")[:90]
        checks = verdicts(row)
        out.append(f"| {row['attack']} | {a['calls']} ({a.get('refused', 0)}) | {answer} | "
                   f"{row['rss_growth_mb']} ({row['rss_peak_mb']}) | {s['grids']}, {s['p95_s']} ({s['errors']}) | "
                   + ("yes" if all(checks.values()) else "NO: " + ", ".join(k for k, ok in checks.items() if not ok))
                   + " |")
    end = result.get("temp_after_ttl")
    if end:
        out.append(f"\nTemp folders {FILE_TTL_SECONDS} s after the last attack (the files' time to live): "
                   f"{end['mb']} MB in {end['files']} files (limit {LIMITS['temp_mb_after_ttl']} MB); largest: "
                   + ", ".join(f"{f['path']} ({f['mb']} MB)" for f in result.get("largest_files_after_ttl", [])[:3]))
        kept = result.get("kept_models_after_ttl")
        if kept:
            out.append(f"Of which models kept in live sessions (the visitors' runs, until their sessions end): "
                       f"{kept['mb']} MB in {kept['files']} files; everything else: "
                       f"{round((end['bytes'] - kept['bytes']) / MB, 2)} MB in {end['files'] - kept['files']} files.")
    out.append(f"Limits: RSS growth <= {LIMITS['rss_growth_mb']} MB per attack; the student's p95 <= "
               f"{LIMITS['student_p95_s']} s ({LIMITS['step_spam_p95_s']} s under step spam); "
               f"a refused /train within {LIMITS['refusal_s']} s.")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help=f"comma-separated attacks (default all: {', '.join(ATTACKS)})")
    parser.add_argument("--data-dir", help="MNIST folder for the app (default: $GENAI_DATA_DIR, else ../shared/...)")
    parser.add_argument("--json", help="where to write the figures (default: benchmarks/results/abuse-<date>-<time>.json)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in (args.only or ",".join(ATTACKS)).split(",") if n.strip()]
    unknown = [n for n in names if n not in ATTACKS]
    if unknown:
        parser.error(f"unknown attack {', '.join(unknown)}: choose from {', '.join(ATTACKS)}")
    scratch = Path(tempfile.mkdtemp(prefix="genai-abuse-"))
    result = {"benchmark": "abuse", "command": " ".join(["benchmarks/abuse.py", *(argv or sys.argv[1:])]),
              "machine": machine_info("cpu"), "limits": LIMITS, "attacks": []}
    app = App(scratch, find_data_dir(args.data_dir), trust_forwarded=True,
              extra_env={"GENAI_FILE_TTL_SECONDS": str(FILE_TTL_SECONDS)})
    try:
        api(app.url, "sample", ["gan-conditional", 0, 8, "all", 1.0, None, None], STUDENT)  # loaded once
        for number, name in enumerate(names):
            print(f"{name}: {ATTACKS[name].__doc__.splitlines()[0]}", flush=True)
            result["attacks"].append(run_attack(name, app.url, app.pid, app.temp_dirs, seed=10_000 * (number + 1)))
        time.sleep(FILE_TTL_SECONDS + 35)  # the files' time to live, and one sweep of the sweeper (every 30 s)
        result["temp_after_ttl"] = folder_usage(app.temp_dirs)
        # What is left in sessions' private folders is the models visitors trained, kept (weights and download
        # zip) until their session ends (GENAI_SESSION_TTL_SECONDS unused, an hour by default), not the TTL
        # of handed-out files: counted apart, so both are seen.
        result["kept_models_after_ttl"] = folder_usage(sorted(app.tmp.glob("genai-app-*/session-*")))
        files = [f for folder in app.temp_dirs if folder.is_dir() for f in folder.rglob("*") if f.is_file()]
        result["largest_files_after_ttl"] = [  # what is left, by size: where the disk goes
            {"path": str(f.relative_to(scratch)), "mb": round(f.stat().st_size / MB, 2)}
            for f in sorted(files, key=lambda f: -f.stat().st_size)[:8]]
        result["server_log_tail"] = app.log_tail(20)
    finally:
        app.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n" + report(result))
    path = Path(args.json) if args.json else RESULTS_DIR / f"abuse-{time.strftime('%Y-%m-%d-%H%M%S')}.json"
    write_json(result, path)
    print(f"\nWrote {path}")
    return result


if __name__ == "__main__":
    main()
