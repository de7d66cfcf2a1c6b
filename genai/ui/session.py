"""What one browser tab owns: the models its user trained, their files, and the Stop switch.

A Session lives in that tab's gr.State, never in a global, so two people training at
the same time never see each other's models, losses or previews. gr.State deep-copies
its initial value for every new visitor; a threading.Event or Lock cannot be copied,
so those are made the first time this session needs them.
"""

import atexit
import shutil
import tempfile
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..checkpoints import CONFIG_FILE, WEIGHTS_FILE, read_metadata, save_model

_MAKING_CONTROLS = threading.Lock()  # guards the one-time creation of a session's Event and Lock
_MAKING_FOLDER = threading.Lock()
_app_folder = None  # this server's temporary folder; each session gets a private folder inside it


def app_folder():
    """A temporary folder for this server process, deleted when the process exits."""
    global _app_folder
    with _MAKING_FOLDER:
        if _app_folder is None or not _app_folder.is_dir():
            _app_folder = Path(tempfile.mkdtemp(prefix="genai-app-"))
            atexit.register(shutil.rmtree, _app_folder, ignore_errors=True)
        return _app_folder


@dataclass
class ModelEntry:
    """A model ready to sample from: the module (in eval mode), its config.json and where it came from."""

    name: str
    model: object
    metadata: dict
    source: str  # "pretrained" or "yours"
    folder: Path | None = None
    archive: Path | None = None  # the .zip to download (models trained in the app)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # names this model in the result cache


@dataclass
class TrainingControls:
    """Start/Stop bookkeeping of one session: at most one run at a time, stoppable, cancellable while queued."""

    stop: threading.Event = field(default_factory=threading.Event)  # set: stop after the current step
    busy: threading.Lock = field(default_factory=threading.Lock)  # held while a run trains
    waiting: bool = False  # Start was pressed and the run waits for a free training slot
    cancel_waiting: bool = False  # Stop was pressed while it waited: do not start it


class Session:
    """One visitor's models (name -> ModelEntry) and private temporary folder."""

    def __init__(self):
        self.models = {}
        self.trained_count = 0
        self.folder = None
        self._controls = None

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
        """Save a trained model into this session's folder, zip it for download, and list it as ours."""
        model.eval().requires_grad_(False)
        for parameter in model.parameters():
            parameter.grad = None  # a kept model only samples: its gradients would double its memory
        folder = save_model(model, self.private_folder() / name, dataset=dataset, steps=steps, training=training)
        archive = folder.parent / f"{name}.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for file_name in (CONFIG_FILE, WEIGHTS_FILE):
                bundle.write(folder / file_name, arcname=f"{name}/{file_name}")
        entry = ModelEntry(name, model, read_metadata(folder), "yours", folder, archive)
        self.models[name] = entry
        return entry

    def cleanup(self):
        """Delete this session's files (called by Gradio when the visitor's session ends)."""
        controls = self._controls
        if controls is not None:
            controls.stop.set()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.models.clear()


def end_session(session):
    """gr.State's delete_callback: runs when Gradio drops a closed session's state."""
    if isinstance(session, Session):
        session.cleanup()
