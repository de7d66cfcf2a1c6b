"""A server that is told to end (SIGTERM: a Space restarting, `docker stop`) tells its trainers first.

app.py calls stop_every_run() when SIGTERM arrives, before the server closes. Every run going on
is stopped after its current step (a paused one too, a waiting one never starts), and its tab is
told why, in words instead of a broken connection: "The server is restarting: your run stopped at
step N." The model is not kept: a restart clears the server's memory and its temporary folders,
so the message says so (and that a model downloaded before is safe on the visitor's computer).
"""

import threading
import time

RESTARTING = threading.Event()  # set once the server is ending: no new run starts
_RUNS = {}  # id -> the TrainingControls of each run going on (training or waiting for a slot)
_LOCK = threading.Lock()


def run_started(controls):
    with _LOCK:
        _RUNS[id(controls)] = controls


def run_ended(controls):
    with _LOCK:
        _RUNS.pop(id(controls), None)


def runs_going_on():
    with _LOCK:
        return len(_RUNS)


def stop_every_run(wait_seconds=5.0):
    """Stop every run and wait (at most wait_seconds) until each has told its visitor. Returns how many ran."""
    RESTARTING.set()
    with _LOCK:
        runs = list(_RUNS.values())
    for controls in runs:
        controls.stop.set()
    deadline = time.monotonic() + wait_seconds
    while runs_going_on() and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(runs)


def restart_message(step=None):
    """What a run's tab says when the server ends under it."""
    where = "before it started" if step is None else f"at step {step:,}"
    return (f"**The server is restarting: your run stopped {where}.** It was not kept (a restart clears the "
            "server's memory; models you downloaded are safe). Reload the page in a minute and press Start again.")
