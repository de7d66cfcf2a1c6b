"""What one visitor owns: the models they trained or loaded, their files, and the Stop switch.

A Session lives in the visitor's gr.State, never shared with another visitor, so two people
training at the same time never see each other's models, losses or previews. gr.State
deep-copies its initial value for every new visitor; a threading.Event or Lock cannot be
copied, so those are made the first time this session needs them.

Sessions are bounded and freed (SessionRegistry below): a visitor (genai/ui/visitors.py: a client
address, however many sessions it makes) keeps at most GENAI_SESSION_MAX_MODELS models and
GENAI_SESSION_MAX_MB megabytes of weights across all its sessions (the oldest model goes first,
with a message, and a session of theirs left empty and without a tab is forgotten); kept models
hold no gradients; a session is freed when its last browser tab has been closed for
GENAI_SESSION_GRACE_SECONDS, or when nobody has used it for GENAI_SESSION_TTL_SECONDS (API
clients, which never close a tab, included); and at most GENAI_MAX_SESSIONS are kept in all, the
least recently used freed first. A browser
finds its session again after a reload through a random key kept in its localStorage
(gr.BrowserState), so a reload loses nothing.
"""

import atexit
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import uuid
import weakref
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..checkpoints import CONFIG_FILE, WEIGHTS_FILE, process_alive, read_metadata, save_model
from . import settings, visitors
from .gradio_files import forget_old_files
from .pictures import remove_old_files, write_once

log = logging.getLogger("genai.ui")

_MAKING_CONTROLS = threading.Lock()  # guards the one-time creation of a session's Event and Lock
_MAKING_FOLDER = threading.Lock()
_app_folder = None  # this server's temporary folder; each session gets a private folder inside it


def app_folder():
    """A temporary folder for this server process, deleted when the process exits.

    Its name carries the process id, so a server that was killed (a Space restarting sends
    SIGTERM; app.py turns it into a normal exit, but SIGKILL leaves no chance) has its
    leftovers removed by the next server that starts on the machine.
    """
    global _app_folder
    with _MAKING_FOLDER:
        if _app_folder is None or not _app_folder.is_dir():
            remove_leftovers(Path(tempfile.gettempdir()))
            _app_folder = Path(tempfile.mkdtemp(prefix=f"genai-app-{os.getpid()}-"))
            atexit.register(shutil.rmtree, _app_folder, ignore_errors=True)
        return _app_folder


def private_gradio_folder():
    """Gradio's file cache for this server, inside the app's own folder (set by build_demo unless
    GRADIO_TEMP_DIR is given). Gradio deletes the files it tracks after the file TTL, but keeps the
    outputs of streaming events (every live training preview) until the server stops; the sweeper
    removes old files from this folder, which no other app shares."""
    return app_folder() / "gradio"


def owns_gradio_folder():
    return Path(os.environ.get("GRADIO_TEMP_DIR", "")) == private_gradio_folder()


def pictures_folder():
    """Where the app writes the pictures it hands out (pictures.png_file); old ones are swept away."""
    SESSIONS.start_sweeping()
    return app_folder() / "pictures"


def remove_leftovers(temp_root):
    """Delete genai-app-<pid>-* folders whose server process is no longer running."""
    for folder in temp_root.glob("genai-app-*-*"):
        pid = folder.name.split("-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class ModelEntry:
    """A model ready to sample from: the module (in eval mode), its config.json and where it came from."""

    name: str
    model: object
    metadata: dict
    source: str  # "pretrained" or "yours"
    folder: Path | None = None
    archive: Path | None = None  # where the .zip to download goes (models trained in the app), made when asked for
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # names this model in the result cache
    timelapse: object = None  # genai.timelapse.Timelapse of the run that trained it (models trained in the app)
    added: float = field(default_factory=time.monotonic)  # the oldest of a visitor's models goes first

    def weight_bytes(self):
        return sum(t.numel() * t.element_size() for t in self.model.state_dict().values())

    def zipped(self):
        """The model's folder as a .zip (config.json + model.safetensors), made the first time it is downloaded:
        most trained models are never downloaded, and a zip of weights is nearly their size again."""
        def write(file):
            with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
                for file_name in (CONFIG_FILE, WEIGHTS_FILE):
                    bundle.write(Path(self.folder) / file_name, arcname=f"{self.name}/{file_name}")

        return Path(write_once(Path(self.archive), write))  # whole or not at all: a download never sees half a zip


@dataclass
class TrainingControls:
    """Start/Stop bookkeeping of one session: at most one run at a time, stoppable, cancellable while queued."""

    stop: threading.Event = field(default_factory=threading.Event)  # set: stop after the current step
    busy: threading.Lock = field(default_factory=threading.Lock)  # held while a run trains
    waiting: bool = False  # Start was pressed and the run waits for a free training slot
    cancel_waiting: bool = False  # Stop was pressed while it waited: do not start it
    timelapse: object = None  # the preview frames of the current (or last) run, replayable while it trains
    knobs: object = None  # genai.knobs.LiveKnobs of the run going on (None between runs)
    model: object = None  # the model of the run going on (what the knobs are checked against)
    live_values: dict = field(default_factory=dict)  # the run's live settings now (lr, beta, ...): only a change turns
    fixed_values: dict = field(default_factory=dict)  # the run's batch size and seed (a class's wall shows them)
    stepper: object = None  # genai.stepping.StepControl of the run going on: pause it, step it
    slot: object = None  # training_slots.SlotLease of the run going on (lent while it is paused)
    stepping: threading.Lock = field(default_factory=threading.Lock)  # held while a /step waits: one at a time


class Session:
    """One visitor's models (name -> ModelEntry) and private temporary folder."""

    def __init__(self):
        self.models = {}
        self.trained_count = 0
        self.folder = None
        self._controls = None
        self.key = None  # set when the registry starts looking after this session
        self.last_used = time.monotonic()
        self.open_tabs = 0  # browser tabs showing this session (a reload closes one and opens another)
        self.page_url = ""  # the page's address, when a browser opened it (links to runs start with it)
        self.closed_at = None  # when its last tab closed
        self.expired = False  # freed by the registry: its models are gone
        self.visitor = None  # who made it (visitors.current() when the registry started looking after it)

    def touch(self):
        """Note that the visitor used this session just now."""
        self.last_used = time.monotonic()

    def busy(self):
        return self._controls is not None and (self._controls.busy.locked() or self._controls.waiting)

    def controls(self):
        """The Stop switch and the "already training" lock of this session, made on first use."""
        with _MAKING_CONTROLS:
            if self._controls is None:
                self._controls = TrainingControls()
            return self._controls

    def new_model_name(self, family, arch, conditional, taken=()):
        """A fresh, readable name such as "my-vae-mlp-1" or "my-gan-mlp-cond-2"."""
        while True:
            self.trained_count += 1
            name = f"my-{family}-{arch}{'-cond' if conditional else ''}-{self.trained_count}"
            if name not in self.models and name not in taken:
                return name

    def private_folder(self):
        if self.folder is None or not Path(self.folder).is_dir():
            self.folder = Path(tempfile.mkdtemp(prefix="session-", dir=app_folder()))
        return Path(self.folder)

    def keep(self, name, model, dataset, steps, training):
        """Save a trained model into this session's folder and list it as ours (its .zip is made when downloaded).

        Returns (entry, names of older models removed to stay within the session's limits).
        """
        model.eval().requires_grad_(False)
        for parameter in model.parameters():
            parameter.grad = None  # a kept model only samples: its gradients would double its memory
        folder = save_model(model, self.private_folder() / name, dataset=dataset, steps=steps, training=training)
        entry = ModelEntry(name, model, read_metadata(folder), "yours", folder, folder.parent / f"{name}.zip")
        return entry, self.add(entry)

    def add(self, entry):
        """List a model as this session's; drop the visitor's oldest ones beyond the limits. Returns the dropped names."""
        SESSIONS.register(self)
        self.touch()
        self.models[entry.name] = entry
        return SESSIONS.keep_within_limits(self, entry)

    def drop(self, name):
        """Forget one model and delete its files."""
        entry = self.models.pop(name)
        if entry.source == "yours" and entry.folder is not None:
            shutil.rmtree(entry.folder, ignore_errors=True)
            if entry.archive is not None:
                Path(entry.archive).unlink(missing_ok=True)

    def weight_bytes(self):
        return sum(entry.weight_bytes() for entry in self.models.values())

    def cleanup(self):
        """Delete this session's files (called by Gradio when the visitor's session ends)."""
        controls = self._controls
        if controls is not None:
            controls.stop.set()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.models.clear()


def worth_keeping(value):
    """Whether a gr.State value holds something of a visitor's: a Session the registry looks after (a tab that
    opened the page, or one that kept a model), or one with models, or one training. Gradio's store, when
    full, forgets the sessions that hold nothing first (lean_state.py)."""
    return isinstance(value, Session) and (value.key is not None or bool(value.models) or value.busy())


def end_session(session):
    """gr.State's delete_callback: a browser tab showing this session was closed (or reloaded).

    A session the registry looks after waits for its grace time (a reload finds it again);
    one it does not know (nothing kept in it) is cleaned up at once.
    """
    if not isinstance(session, Session):
        return
    if session.key is None:
        session.cleanup()
        return
    session.open_tabs = max(0, session.open_tabs - 1)
    if session.open_tabs == 0:
        session.closed_at = time.monotonic()


class SessionRegistry:
    """Every session that holds something, by a random key; frees the ones nobody uses any more."""

    def __init__(self):
        self._sessions = {}
        self._lock = threading.Lock()
        self._sweeper = None
        # Weak references to the Blocks whose handed-out files the sweeper forgets after the file TTL:
        # watching an app must not keep it alive once nothing else uses it.
        self._apps = []

    def watch_files_of(self, blocks):
        """Have the sweeper delete the files blocks hands out once they are older than the file TTL."""
        with self._lock:
            self._apps = [ref for ref in self._apps if ref() is not None] + [weakref.ref(blocks)]
        self.start_sweeping()

    def watched_apps(self):
        """The watched Blocks that still exist."""
        return [blocks for blocks in (ref() for ref in list(self._apps)) if blocks is not None]

    def register(self, session):
        """Look after session (once); returns its key. Beyond GENAI_MAX_SESSIONS the least recently used
        session that is not training is freed."""
        with self._lock:
            if session.key is None:
                session.key = secrets.token_hex(16)
                session.visitor = visitors.current()
                self._sessions[session.key] = session
            overflow = len(self._sessions) - settings.max_sessions()
            idle = sorted((s for s in self._sessions.values() if s is not session and not s.busy()),
                          key=lambda s: s.last_used)[:max(0, overflow)]
            for old in idle:
                del self._sessions[old.key]
        for old in idle:
            old.cleanup()
            old.expired, old.key = True, None
        if idle:
            log.info("Freed %d least recently used session(s): %d sessions at most.", len(idle), settings.max_sessions())
        self.start_sweeping()
        return session.key

    def keep_within_limits(self, session, newest):
        """Drop the oldest models of session's visitor, in any of their sessions, while they keep more than
        GENAI_SESSION_MAX_MODELS models or GENAI_SESSION_MAX_MB of weights (never `newest`); forget their other
        sessions left empty, with no tab open and not training. Returns the dropped names."""
        with self._lock:
            mine = [s for s in self._sessions.values()
                    if s is session or (session.visitor is not None and s.visitor == session.visitor)]
        kept = sorted(((entry.added, id(s), name, s, entry) for s in mine for name, entry in list(s.models.items())),
                      key=lambda item: item[:2])
        count, size = len(kept), sum(item[4].weight_bytes() for item in kept)
        dropped = []
        for _, _, name, owner, entry in kept:
            if count <= settings.session_max_models() and size <= settings.session_max_mb() * 2**20:
                break
            if entry is newest or owner.models.get(name) is not entry:
                continue
            owner.drop(name)
            dropped.append(name)
            count, size = count - 1, size - entry.weight_bytes()
        empty = [s for s in mine if s is not session and not s.models and s.open_tabs == 0 and not s.busy()]
        with self._lock:
            for old in empty:
                self._sessions.pop(old.key, None)
        for old in empty:
            old.cleanup()
            old.key = None  # looked after again if it keeps a model again
        return dropped

    def find(self, key):
        """The live session with this key, or None (unknown, expired, or not a key at all)."""
        if not isinstance(key, str):
            return None
        with self._lock:
            return self._sessions.get(key)

    def sweep(self, now=None):
        """Free sessions whose tabs are all closed for the grace time, or unused for the time-to-live.

        A session that is training is never freed. Returns how many were freed.
        """
        now = time.monotonic() if now is None else now
        grace, ttl = settings.session_grace_seconds(), settings.session_ttl_seconds()
        with self._lock:
            done = [key for key, session in self._sessions.items() if not session.busy() and (
                (session.open_tabs == 0 and session.closed_at is not None and now - session.closed_at > grace)
                or now - session.last_used > ttl)]
            freed = [self._sessions.pop(key) for key in done]
        for session in freed:
            session.cleanup()
            session.expired = True
        if freed:
            log.info("Freed %d idle session(s); %d remain.", len(freed), len(self._sessions))
        return len(freed)

    def start_sweeping(self, every_seconds=30):
        """Sweep in a background thread for the life of the server (started once, by build_demo)."""
        with self._lock:
            if self._sweeper is not None:
                return

            started = time.time()

            def loop():
                while True:
                    time.sleep(every_seconds)
                    try:
                        self.sweep()
                        sweep_files(self.watched_apps(), started)
                        give_back_free_memory()
                    except Exception:  # noqa: BLE001 - the sweeper must outlive any one bad session
                        log.exception("Sweeping sessions failed")

            self._sweeper = threading.Thread(target=loop, name="genai-session-sweeper", daemon=True)
            self._sweeper.start()


def sweep_files(apps, started):
    """Delete the files handed out (pictures, Gradio's copies, streamed previews) once older than the file TTL.

    Streamed outputs (a run's live previews) are in no temp set of Gradio's: in the app's own Gradio
    folder every old file goes; in a folder given by GRADIO_TEMP_DIR, which may hold files of another
    app or ones this page was built with, only those written since the sweeper started (`started`, a
    time.time()) are swept.
    """
    ttl = settings.file_ttl_seconds()
    remove_old_files(pictures_folder(), ttl)
    for blocks in apps:
        forget_old_files(blocks, ttl)
    if owns_gradio_folder():
        remove_old_files(private_gradio_folder(), ttl, recursive=True)
    elif os.environ.get("GRADIO_TEMP_DIR"):
        remove_old_files(os.environ["GRADIO_TEMP_DIR"], ttl, recursive=True, newer_than=started)


def give_back_free_memory():
    """Hand the heap's free pages back to the system (glibc's malloc_trim); True where it did.

    glibc returns memory by itself only from the top of the heap. A server whose caches replace grids
    all day, and whose sessions come and go, frees memory in the middle of it, which stays counted in
    its resident size: after 1,200 grids from new sessions, 40 of the server's 567 MB were free memory
    only malloc_trim gave back (about 1 ms; docs/benchmarks.md, "Abuse: one visitor against the class").
    The sweeper calls it every 30 s. A no-op where glibc is not the C library.
    """
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - musl and macOS have no malloc_trim: AttributeError
        except (OSError, AttributeError):
            _LIBC = False
    if not _LIBC:
        return False
    _LIBC.malloc_trim(0)  # 1 if it released some memory, 0 if there was none to release: both are fine
    return True


_LIBC = None  # glibc, once loaded; False where there is none
SESSIONS = SessionRegistry()


def restore_session(session, browser_key):
    """On page load: the session this browser had before a reload (found by its key), else this new one.

    Returns (the session for the tab's gr.State, the key for the browser's localStorage).
    """
    previous = SESSIONS.find(browser_key)
    if previous is not None and previous is not session:
        session = previous
    key = SESSIONS.register(session)
    session.open_tabs += 1
    session.closed_at = None
    session.touch()
    return session, key


@dataclass(frozen=True)
class RunSnapshot:
    """A read-only look at a visitor's current or last run, for the wall of a class they joined (class_tab.py).

    Taken from what the Train tab already keeps for the run (its TrainingControls and Timelapse), so a
    run does no extra work for the wall: the preview is the PNG its timelapse stored anyway.
    """

    state: str  # "none" (no run yet), "waiting" (for a training slot), "training" or "done"
    family: str = ""
    about: str = ""  # the model in words: "conditional MLP GAN, latent 100, 0.30M parameters"
    settings: dict = field(default_factory=dict)  # the run's settings the wall shows (lr, beta, batch size, seed)
    step: int = 0
    losses: dict = field(default_factory=dict)
    preview_png: bytes | None = None  # the newest live grid
    model_name: str = ""  # a finished run's model, kept in this session


def run_snapshot(session):
    """The current or last run of this session, as a RunSnapshot (never changes the session)."""
    controls = session._controls
    if controls is None:
        return RunSnapshot("none")
    timelapse, model = controls.timelapse, controls.model
    frames = timelapse.frames() if timelapse is not None else []
    frame = frames[-1] if frames else None
    shown = {"step": frame.step, "losses": dict(frame.losses), "preview_png": frame.png} if frame else {}
    if controls.waiting or (controls.busy.locked() and controls.slot is None):
        return RunSnapshot("waiting")
    if model is not None:
        chosen = {**controls.live_values, **controls.fixed_values}
        return RunSnapshot("training", model.family, model.describe(), chosen, **shown)
    kept = next((entry for entry in reversed(list(session.models.values()))
                 if timelapse is not None and entry.timelapse is timelapse), None)
    if kept is None:
        return RunSnapshot("training" if controls.busy.locked() else "none", **shown)
    record = kept.metadata.get("training", {})
    chosen = {name: record[name] for name in ("lr", "batch_size", "seed") if record.get(name) is not None}
    return RunSnapshot("done", kept.model.family, kept.model.describe(), chosen, model_name=kept.name, **shown)
