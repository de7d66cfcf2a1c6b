"""Tests for genai.ui.session: what a visitor keeps is bounded, freed when unused, and found again
after a reload; a killed server's leftovers are removed by the next one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genai.models import create_model
from genai.ui import model_store, session as sessions
from genai.ui.errors import AppError
from genai.ui.session import SESSIONS, Session, end_session, restore_session

REPO = Path(__file__).resolve().parents[1]


def keep_models(session, count, family="vae"):
    names = []
    for _ in range(count):
        name = session.new_model_name(family, "mlp", False)
        model = create_model(family, "mlp", seed=0, latent_dim=4)
        model.train()
        model.training_step(torch.rand(4, 1, 28, 28), None, model.configure_optimizers(1e-3), torch.Generator())
        entry, dropped = session.keep(name, model, dataset="mnist", steps=1, training={})
        names.append((name, entry, dropped))
    return names


def test_a_session_keeps_at_most_n_models_dropping_the_oldest_with_its_files(monkeypatch):
    monkeypatch.setenv("GENAI_SESSION_MAX_MODELS", "2")
    session = Session()
    kept = keep_models(session, 3)
    (first, first_entry, _), _, (_, _, dropped) = kept
    assert dropped == [first] and list(session.models) == [kept[1][0], kept[2][0]]
    assert not first_entry.folder.exists() and not first_entry.archive.exists()
    assert all(p.grad is None and not p.requires_grad for p in kept[2][1].model.parameters())  # no gradients kept
    session.cleanup()


def test_a_kept_models_zip_is_made_only_when_it_is_downloaded_and_goes_with_the_model():
    import zipfile

    session = Session()
    (name, entry, _), = keep_models(session, 1)
    assert not entry.archive.exists()  # most models are never downloaded: no second copy of their weights
    archive = entry.zipped()
    assert archive == entry.archive and entry.zipped() == archive  # made once
    with zipfile.ZipFile(archive) as bundle:
        assert sorted(bundle.namelist()) == [f"{name}/config.json", f"{name}/model.safetensors"]
    assert not [p for p in archive.parent.iterdir() if p.name.startswith(".")]  # no half-written zip left
    session.drop(name)
    assert not archive.exists() and not entry.folder.exists()
    session.cleanup()


def test_a_session_is_bounded_in_bytes_too(monkeypatch):
    monkeypatch.setenv("GENAI_SESSION_MAX_MB", "5")  # one MLP VAE holds about 4 MB of weights
    session = Session()
    kept = keep_models(session, 2)
    assert list(session.models) == [kept[1][0]] and kept[1][2] == [kept[0][0]]
    session.cleanup()


def test_sessions_are_freed_after_their_tabs_close_or_when_unused_but_never_while_training(monkeypatch):
    monkeypatch.setenv("GENAI_SESSION_GRACE_SECONDS", "60")
    monkeypatch.setenv("GENAI_SESSION_TTL_SECONDS", "600")
    closed, api_client, training, reloaded = Session(), Session(), Session(), Session()
    for session in (closed, api_client, training, reloaded):
        keep_models(session, 1)
    restore_session(closed, None)
    end_session(closed)  # its only tab closed
    restore_session(reloaded, None)
    key = reloaded.key
    end_session(reloaded)  # a reload: the old tab closes ...
    assert restore_session(Session(), key)[0] is reloaded  # ... and the new tab finds the same session
    training.controls().busy.acquire()
    now = time.monotonic()
    SESSIONS.sweep(now + 30)
    assert not closed.expired
    SESSIONS.sweep(now + 120)
    assert closed.expired and not closed.models and not api_client.expired and not reloaded.expired
    SESSIONS.sweep(now + 1200)  # unused for longer than the time-to-live: the API client's too
    assert api_client.expired and not training.expired and training.models
    training.controls().busy.release()
    for session in (training, reloaded):
        session.cleanup()


def test_a_visitor_whose_session_was_freed_gets_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("GENAI_CHECKPOINTS_DIR", str(tmp_path))
    session = Session()
    name = keep_models(session, 1)[0][0]
    session.cleanup()
    session.expired = True
    with pytest.raises(AppError, match="is gone: this session's models were freed"):
        model_store.find(name, session)


def test_a_reload_key_that_is_unknown_or_not_a_key_starts_a_new_session():
    fresh = Session()
    for bad in (None, "", "0" * 32, 42, ["x"]):
        assert restore_session(fresh, bad)[0] is fresh
    fresh.cleanup()


def test_leftover_folders_of_dead_servers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = tmp_path / f"genai-app-{dead.stdout.strip()}-abc"
    mine = tmp_path / f"genai-app-{os.getpid()}-def"
    other = tmp_path / "genai-app-notes"
    for folder in (gone, mine, other):
        folder.mkdir()
    sessions.remove_leftovers(tmp_path)
    assert not gone.exists() and mine.exists() and other.exists()


def test_sigterm_stops_the_app_and_removes_its_temporary_folders(tmp_path, mnist_dir):
    """How a Space restarts the app: a run going on is told so, and its session folders and Gradio's files do
    not stay behind."""
    import socket

    from gradio_client import Client

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TMPDIR": str(tmp_path), "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
           "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "GENAI_DATA_DIR": str(mnist_dir),
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        client = None
        for _ in range(120):
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path / "client"))
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        assert client is not None, "the app did not start"
        client.submit("mnist", "vae", "mlp", False, 8, 5, 64, 1e-3, 1.0, 0, 2, 1.0, api_name="/train").result()
        assert list(tmp_path.glob("genai-app-*/session-*/my-vae-mlp-1/model.safetensors"))
        running = client.submit("mnist", "vae", "mlp", False, 8, 60, 64, 1e-3, 1.0, 0, 10**6, 1.0, api_name="/train")
        for _ in range(240):  # until it trains (it loads the data first)
            if any("Training:" in str(output) for output in running.outputs()):
                break
            time.sleep(0.25)
        server.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # a second SIGTERM while it cleans up (timeout, docker stop and a supervisor may all send one)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        # The run going on was told why it ended, in words, with its step (not a broken connection).
        assert "The server is restarting: your run stopped at step" in str(running.outputs()[-1][3])
    finally:
        if server.poll() is None:
            server.kill()
    errors = server.stderr.read()
    assert "Traceback" not in errors and "Exception ignored" not in errors, errors
    assert not list(tmp_path.glob("genai-app-*"))
    assert not list((tmp_path / "gradio").rglob("*.zip"))


def test_old_files_are_swept_from_the_apps_folders_and_new_ones_kept(tmp_path):
    from genai.ui.pictures import remove_old_files

    old, new = tmp_path / "a" / "image.png", tmp_path / "b" / "image.png"
    for path in (old, new):
        path.parent.mkdir()
        path.write_bytes(b"png")
    past = time.time() - 3600
    os.utime(old, (past, past))
    remove_old_files(tmp_path, 600)  # not recursive: only files directly in the folder
    assert old.exists()
    remove_old_files(tmp_path, 600, recursive=True)
    assert not old.exists() and new.exists()


def test_what_a_killed_server_left_is_removed_when_the_next_one_starts(tmp_path):
    """kill -9 leaves the app's folder behind; the next server removes it as it builds, before any request,
    even when GRADIO_TEMP_DIR is set (then the app's folder is not made for Gradio's files)."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f"genai-app-{dead.stdout.strip()}-killed"
    (left / "session-x").mkdir(parents=True)
    (left / "session-x" / "model.safetensors").write_bytes(b"\0" * 1024)
    env = {**os.environ, "TMPDIR": str(tmp_path), "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    built = subprocess.run([sys.executable, "-c", "import app"], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr
    assert not left.exists()


def test_streamed_previews_are_swept_from_a_gradio_temp_dir_the_app_was_given(tmp_path, monkeypatch):
    """With GRADIO_TEMP_DIR set, the app's sweeper deletes old files written since it started there (a run's
    live previews are in no temp set of Gradio's), and leaves older files alone (another app's, or the page's own)."""
    from genai.ui import session as sessions_module

    gradio_dir = tmp_path / "gradio"
    before, preview, fresh = (gradio_dir / name / "image.webp" for name in ("a" * 64, "b" * 64, "c" * 64))
    for path in (before, preview, fresh):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"webp")
    now = time.time()
    os.utime(before, (now - 7200, now - 7200))  # there before the server started
    os.utime(preview, (now - 1800, now - 1800))  # a preview of a run 30 minutes ago
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(gradio_dir))
    monkeypatch.setenv("GENAI_FILE_TTL_SECONDS", "600")
    sessions_module.sweep_files([], started=now - 3600)
    assert before.exists() and not preview.exists() and fresh.exists()


def test_only_a_session_with_a_tab_models_or_a_run_is_worth_keeping_in_gradios_store():
    anonymous, tab, trained = Session(), Session(), Session()
    restore_session(tab, None)  # a tab opened the page: the registry looks after it
    keep_models(trained, 1)
    assert not sessions.worth_keeping(anonymous) and not sessions.worth_keeping(None)
    assert sessions.worth_keeping(tab) and sessions.worth_keeping(trained)
    running = Session()
    with running.controls().busy:  # a run training
        assert sessions.worth_keeping(running)
    for session in (tab, trained):
        end_session(session)
        session.cleanup()


def resident_mb():
    return int(next(line for line in open("/proc/self/status") if line.startswith("VmRSS")).split()[1]) / 1024


def test_the_sweeper_hands_free_memory_back_to_the_system():
    if not Path("/proc/self/status").exists():
        pytest.skip("malloc_trim is glibc's, and resident memory is read from Linux's /proc")
    chunks = [bytes(4000) for _ in range(20_000)]  # 80 MB of malloc'd chunks (over pymalloc's 512 bytes)
    pin = bytes(4000)  # made last, near the heap's top, and kept: glibc cannot shrink the heap past it by itself
    del chunks
    freed = resident_mb()
    assert sessions.give_back_free_memory() is True
    assert resident_mb() < freed - 40, "the 80 MB freed stayed resident"
    del pin
