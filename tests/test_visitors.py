"""Limits count per visitor (a client address, the forwarded one behind a trusted proxy), not per session:
a student who opens many sessions or API clients gets no more than one who opens one.

The shared test server (tests/app_server.py) trusts X-Forwarded-For as a Space's proxy writes it, so each
test names its visitors' addresses; a second server, run as `python app.py` is by default, shows that
without that trust the header changes nothing.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import app_server

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from genai.ui import compute, settings, visitors  # noqa: E402
from genai.ui.errors import AppError as RefusedHere  # noqa: E402
from genai.ui.session import SESSIONS, Session  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ONE_RUN = "already have a run training or waiting"


@pytest.fixture(scope="module")
def server(mnist_dir):
    return app_server.start(mnist_dir)


def client_at(url, address, tmp_path):
    """A gradio_client Client (a session of its own) of the visitor at `address`."""
    return Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp_path),
                  headers={"X-Forwarded-For": address})


def long_run(client):
    """Start a GAN run that trains until stopped (30 s at most); returns its Job once it trains or waits."""
    job = client.submit("mnist", "gan", "mlp", False, 100, 30, 64, 2e-4, 1.0, 0, 1_000_000, 1.0, api_name="/train")
    next(iter(job))  # its first update: it holds its place
    return job


def stop(*clients_and_jobs):
    for client, job in clients_and_jobs:
        client.predict(api_name="/stop")
        job.result(timeout=90)


# ---------------------------------------------------------------------------------------------
# Who a visitor is
# ---------------------------------------------------------------------------------------------

def test_behind_a_trusted_proxy_the_visitor_is_the_address_the_proxy_wrote(monkeypatch):
    monkeypatch.setenv("GENAI_TRUSTED_PROXY", "1")
    assert visitors.visitor_of("10.16.3.80", "203.0.113.7") == "203.0.113.7"
    # What the client wrote itself is to the left of what the proxy appended: it never picks the visitor.
    assert visitors.visitor_of("10.16.3.80", "1.2.3.4, 203.0.113.7") == "203.0.113.7"
    monkeypatch.setenv("GENAI_TRUSTED_PROXY", "2")
    assert visitors.visitor_of("10.0.0.1", "1.2.3.4, 203.0.113.7, 10.0.0.9") == "203.0.113.7"
    assert visitors.visitor_of("10.0.0.1", "203.0.113.7") == "203.0.113.7"  # fewer hops than proxies: the first
    monkeypatch.setenv("GENAI_TRUSTED_PROXY", "0")
    assert visitors.visitor_of("198.51.100.2", "203.0.113.7") == "198.51.100.2"
    monkeypatch.delenv("GENAI_TRUSTED_PROXY")
    monkeypatch.setenv("SPACE_ID", "teacher/genai")  # on a Space: one proxy, trusted without being told
    assert visitors.visitor_of("10.16.3.80", "1.2.3.4, 203.0.113.7") == "203.0.113.7"
    assert len(visitors.visitor_of("10.16.3.80", "9" * 10_000)) <= visitors.LONGEST


# ---------------------------------------------------------------------------------------------
# One run per visitor
# ---------------------------------------------------------------------------------------------

def test_a_visitor_has_one_run_however_many_clients_it_makes(server, tmp_path):
    alice_tab, alice_api, bob = (client_at(server.url, address, tmp_path)
                                 for address in ("10.42.0.1", "10.42.0.1", "10.42.0.2"))
    run = long_run(alice_tab)
    try:
        started = time.monotonic()
        with pytest.raises(AppError, match=f"{ONE_RUN}.*press Stop there"):
            alice_api.submit("mnist", "vae", "mlp", False, 20, 10, 64, 1e-3, 1.0, 0, 5, 1.0,
                             api_name="/train").result(timeout=60)
        assert time.monotonic() - started < 10  # refused at once, not after waiting for a slot
        other = long_run(bob)  # another visitor trains meanwhile
        stop((bob, other))
    finally:
        stop((alice_tab, run))
    # Once the run is over, the same visitor may start one from any of its clients.
    final = alice_api.submit("mnist", "vae", "mlp", False, 20, 10, 64, 1e-3, 1.0, 0, 3, 1.0,
                             api_name="/train").result(timeout=120)
    assert final[4] == "my-vae-mlp-1"


@pytest.fixture(scope="module")
def untrusting_server(mnist_dir, tmp_path_factory):
    """`python app.py` as run by default: no proxy is trusted, so the visitor is the connection's address."""
    folder = tmp_path_factory.mktemp("untrusting")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TMPDIR": str(folder), "GRADIO_TEMP_DIR": str(folder / "gradio"),
           "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "GENAI_DATA_DIR": str(mnist_dir),
           "GENAI_CHECKPOINTS_DIR": str(folder / "no-checkpoints"), "GENAI_MAX_TRAIN_SECONDS": "30",
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    for name in ("GENAI_TRUSTED_PROXY", "SPACE_ID", "FORWARDED_ALLOW_IPS"):
        env.pop(name, None)
    log = open(folder / "server.log", "wb")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        app_server.wait_until_up(url, process, folder / "server.log")
        yield SimpleNamespace(url=url, folder=folder)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_without_a_trusted_proxy_a_forged_forwarded_address_changes_nothing(untrusting_server, tmp_path):
    first, forged = (client_at(untrusting_server.url, address, tmp_path) for address in ("10.7.0.1", "10.7.0.2"))
    run = long_run(first)
    try:
        with pytest.raises(AppError, match=ONE_RUN):  # both are 127.0.0.1, whatever the header says
            forged.submit("mnist", "vae", "mlp", False, 20, 10, 64, 1e-3, 1.0, 0, 5, 1.0,
                          api_name="/train").result(timeout=60)
    finally:
        stop((first, run))


# ---------------------------------------------------------------------------------------------
# Heavy requests: one at a time per visitor, in turns across visitors
# ---------------------------------------------------------------------------------------------

def test_a_visitors_heavy_requests_run_one_at_a_time_and_others_go_first(server, tmp_path):
    """While a visitor's evaluation computes, its own /sample waits; another visitor's does not, and a visitor
    with four requests waiting is refused a fifth at once."""
    alice, alice_again, bob = (client_at(server.url, address, tmp_path)
                               for address in ("10.43.0.1", "10.43.0.1", "10.43.0.2"))
    evaluation = alice.submit("tiny-vae", 1000, 1, api_name="/evaluate")  # seconds of computing
    deadline = time.monotonic() + 30
    while evaluation.status().code.name not in ("PROCESSING", "ITERATING"):  # it computes
        assert time.monotonic() < deadline and not evaluation.done()
        time.sleep(0.05)
    time.sleep(2.0)  # it has read the test digits and computes
    alice_samples = [alice_again.submit("tiny-vae", 7000 + n, 3, "all", 1.0, 20, 2.0, api_name="/sample")
                     for n in range(4)]
    time.sleep(1.0)
    started = time.monotonic()
    bob.predict("tiny-vae", 7100, 3, "all", 1.0, 20, 2.0, api_name="/sample")
    bob_seconds = time.monotonic() - started
    with pytest.raises(AppError, match="already have 5 requests .* waiting their turn"):
        alice.predict("tiny-vae", 7200, 3, "all", 1.0, 20, 2.0, api_name="/sample")
    assert not evaluation.done() and not any(job.done() for job in alice_samples), bob_seconds
    evaluation.result(timeout=120)
    assert all(job.result(timeout=60) for job in alice_samples)  # served once the evaluation is over
    assert bob_seconds < 5


def test_waiting_visitors_take_turns(monkeypatch):
    """One visitor asks for three computations, then two others ask for one each: with one slot, they are
    served in turns (A, B, C, A, A), not in the order they asked."""
    monkeypatch.setattr(compute, "_slots", compute.FairSlots(1, per_visitor=1, waiting_per_visitor=4))
    order, threads = [], []
    gate = threading.Event()
    holder = threading.Thread(target=lambda: compute_as("holder", gate.wait, monkeypatch))
    holder.start()
    time.sleep(0.2)
    for visitor in ["A", "A", "A", "B", "C"]:
        thread = threading.Thread(target=compute_as, args=(visitor, lambda v=visitor: order.append(v), monkeypatch))
        thread.start()
        threads.append(thread)
        time.sleep(0.1)  # in this order
    assert compute.slots().waiting() == 5
    gate.set()
    for thread in [holder, *threads]:
        thread.join(10)
    assert order == ["A", "B", "C", "A", "A"]


def test_a_cheap_request_goes_before_long_ones_that_asked_first(monkeypatch):
    """With one slot busy, long requests of A and B (seconds each) wait; C's cheap one (a GAN's grid:
    milliseconds) asks last and is served first, then the long ones in their turns."""
    monkeypatch.setattr(compute, "_slots", compute.FairSlots(1, per_visitor=1, waiting_per_visitor=4))
    order, threads, gate = [], [], threading.Event()
    holder = threading.Thread(target=lambda: compute_as("holder", gate.wait, monkeypatch))
    holder.start()
    time.sleep(0.2)
    for visitor, seconds in (("A", 2.0), ("B", 2.0), ("C", 0.005)):
        thread = threading.Thread(target=compute_as, args=(visitor, lambda v=visitor: order.append(v), monkeypatch,
                                                           seconds))
        thread.start()
        threads.append(thread)
        time.sleep(0.1)
    gate.set()
    for thread in [holder, *threads]:
        thread.join(10)
    assert order == ["C", "A", "B"]


def test_a_long_request_is_served_once_it_has_waited_long_enough(monkeypatch):
    """Highest response ratio next: A's 1 s request has waited 1 s (ratio 2); B's 0.5 s request has just asked
    (ratio 1), so A goes first. Had A waited only briefly, the cheaper B would (the test above)."""
    monkeypatch.setattr(compute, "_slots", compute.FairSlots(1, per_visitor=1, waiting_per_visitor=4))
    order, gate = [], threading.Event()
    holder = threading.Thread(target=lambda: compute_as("holder", gate.wait, monkeypatch))
    holder.start()
    time.sleep(0.1)
    a = threading.Thread(target=compute_as, args=("A", lambda: order.append("A"), monkeypatch, 1.0))
    a.start()
    time.sleep(1.0)
    b = threading.Thread(target=compute_as, args=("B", lambda: order.append("B"), monkeypatch, 0.5))
    b.start()
    time.sleep(0.05)
    gate.set()
    for thread in (holder, a, b):
        thread.join(10)
    assert order == ["A", "B"]


_who = threading.local()


def compute_as(visitor, work, monkeypatch, seconds=0.0):
    _who.visitor = visitor
    with compute.compute_slot(seconds):
        work()


@pytest.fixture(autouse=True)
def _visitor_per_thread(monkeypatch):
    """In the tests above that call compute_slot directly, the thread's visitor is whatever compute_as set."""
    monkeypatch.setattr(visitors, "current", lambda: getattr(_who, "visitor", None))


def test_a_visitor_holds_one_compute_slot_even_when_more_are_free(monkeypatch):
    monkeypatch.setattr(compute, "_slots", compute.FairSlots(2, per_visitor=1, waiting_per_visitor=4))
    inside, gate = [], threading.Event()
    threads = [threading.Thread(target=compute_as, args=(v, lambda v=v: inside.append(v) or gate.wait(), monkeypatch))
               for v in ("A", "A", "B")]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    assert sorted(inside) == ["A", "B"]  # the second A waits, though a slot was free when it asked
    gate.set()
    for thread in threads:
        thread.join(10)
    assert sorted(inside) == ["A", "A", "B"]


# ---------------------------------------------------------------------------------------------
# What a visitor keeps, and what all of them keep together
# ---------------------------------------------------------------------------------------------

def picker_names(client):
    _, _, sample_picker, *_ = client.predict("mnist", [], None, None, None, api_name="/refresh")
    return [value for _, value in sample_picker["choices"]]


def test_a_visitor_keeps_at_most_the_session_limit_in_models_across_all_its_clients(server, tmp_path):
    """Each new client loading a Hub model added its own copy (100 raw calls: +1.4 GB). Now the visitor's oldest
    copy goes once it keeps GENAI_SESSION_MAX_MODELS (5) of them, whichever client holds it."""
    folder = Path(server.folder) / "checkpoints" / "tiny-vae"
    server.hub.plant("teacher/many-copies", {name: (folder / name).read_bytes()
                                             for name in ("config.json", "model.safetensors")})
    clients = [client_at(server.url, "10.44.0.1", tmp_path) for _ in range(settings.session_max_models() + 1)]
    for client in clients:
        client.predict("teacher/many-copies", 0, 3, "all", 1.0, 20, 2.0, api_name="/sample")
    assert "teacher/many-copies" not in picker_names(clients[0])  # the oldest copy went
    assert all("teacher/many-copies" in picker_names(client) for client in clients[1:])
    other = client_at(server.url, "10.44.0.2", tmp_path)  # another visitor's copy costs this visitor nothing
    other.predict("teacher/many-copies", 0, 3, "all", 1.0, 20, 2.0, api_name="/sample")
    assert "teacher/many-copies" in picker_names(clients[1])


def test_the_sessions_of_all_visitors_are_bounded_least_recently_used_first(monkeypatch):
    monkeypatch.setenv("GENAI_MAX_SESSIONS", "3")
    monkeypatch.setattr(SESSIONS, "_sessions", {})
    made = [Session() for _ in range(3)]
    for session in made:
        SESSIONS.register(session)
        time.sleep(0.01)
    made[0].touch()  # used again: the second one is now the least recently used
    newest = Session()
    SESSIONS.register(newest)
    assert made[1].expired and made[1].key is None
    assert set(SESSIONS._sessions.values()) == {made[0], made[2], newest}


def test_a_refused_training_keeps_no_place(monkeypatch):
    """A Start refused for the visitor leaves nothing behind: the visitor's next Start is not refused."""
    from genai.ui.training_slots import TrainingSlots

    slots = TrainingSlots(2, runs_per_visitor=1)
    first = slots.lease("10.45.0.1")
    for _ in range(3):
        with pytest.raises(RefusedHere, match=ONE_RUN):
            slots.lease("10.45.0.1")
    first.end()
    first.end()  # ended once, whatever happens after
    slots.lease("10.45.0.1").end()
    assert slots.free == 2


def test_a_visitor_sending_many_canvases_pushes_out_only_its_own(monkeypatch):
    """Any visitor could push out another's unsent drawing by sending 64 tiny ones; now a visitor keeps 4."""
    from genai.ui.drawing import PendingDrawings

    store = PendingDrawings()
    _who.visitor = "10.46.0.2"
    store["bobs-drawing"] = SimpleNamespace(background=None, layers=[], composite=b"png")
    _who.visitor = "10.46.0.1"
    sent = [f"spam-{n}" for n in range(store.max_count + 10)]
    for key in sent:
        store[key] = SimpleNamespace(background=None, layers=[], composite=b"png")
    _who.visitor = None
    assert "bobs-drawing" in store
    assert [key for key in store if key.startswith("spam")] == sent[-store.per_visitor:]  # its newest
