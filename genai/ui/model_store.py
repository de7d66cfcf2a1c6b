"""Which models a visitor can pick: the shipped pretrained ones plus the ones they trained.

Pretrained checkpoints (checkpoints/<name>/, or $GENAI_CHECKPOINTS_DIR) are found by
reading their small config.json files; the weights are loaded the first time someone
uses a model and then shared, read-only, by every visitor. Models a visitor trained
live in their own Session (genai/ui/session.py), never here.
"""

import logging
import threading
from pathlib import Path

from ..checkpoints import CheckpointError, is_checkpoint, load_model, read_metadata
from ..data import DISPLAY_NAMES
from ..device import pick_device
from ..models import FAMILIES
from . import settings
from .errors import AppError
from .session import ModelEntry

log = logging.getLogger("genai.ui")

NOT_GENERATIVE = {"classifier"}  # checkpoints/classifier holds the metrics classifier, not a generator

_lock = threading.Lock()
_loaded = {}  # (folder, weights mtime) -> ModelEntry, shared read-only by every session
_device = None


def app_device():
    """The device the app runs models on (CUDA, then Apple MPS, then the CPU), picked once."""
    global _device
    if _device is None:
        _device = pick_device("auto")
    return _device


def pretrained_folders(root=None):
    """name -> folder of every generative checkpoint under root, in name order.

    Skips the metrics classifier, hidden folders and anything that is not a GAN or VAE checkpoint.
    """
    root = Path(root) if root is not None else settings.checkpoints_dir()
    if not root.is_dir():
        return {}
    found = {}
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith(".") or folder.name in NOT_GENERATIVE:
            continue
        if not is_checkpoint(folder):
            continue
        try:
            family = read_metadata(folder).get("family")
        except CheckpointError as error:
            log.warning("Skipping %s: %s", folder, error)
            continue
        if family in FAMILIES:
            found[folder.name] = folder
    return found


def load_pretrained(name, folder):
    """The shared ModelEntry of a pretrained checkpoint, loading its weights on first use."""
    folder = Path(folder)
    key = (folder.resolve(), (folder / "model.safetensors").stat().st_mtime_ns)
    with _lock:
        entry = _loaded.get(key)
        if entry is None:
            model, metadata = load_model(folder, app_device())
            model.eval()
            for parameter in model.parameters():
                parameter.requires_grad_(False)  # shared and read-only: nobody trains these
            entry = ModelEntry(name, model, metadata, "pretrained", folder)
            _loaded[key] = entry
        return entry


def summary(metadata, source):
    """One line about a model, from its config.json: "VAE (MLP), 2-D latent, conditional, 9,360 steps on MNIST"."""
    config = metadata.get("config", {})
    parts = [f"{metadata.get('family', '?').upper()} ({metadata.get('arch', '?').upper()})"]
    parts.append(f"{config.get('latent_dim', '?')}-D latent")
    if config.get("conditional"):
        parts.append("conditional")
    steps = metadata.get("steps") or 0
    dataset = DISPLAY_NAMES.get(metadata.get("dataset"), metadata.get("dataset"))
    if steps:
        parts.append(f"{steps:,} steps" + (f" on {dataset}" if dataset else ""))
    who = "pretrained" if source == "pretrained" else "yours"
    return f"{who}: " + ", ".join(parts)


def choices(session):
    """(label, name) pairs for a model picker: pretrained models first, then the visitor's own."""
    pairs = []
    for name, folder in pretrained_folders().items():
        try:
            pairs.append((f"{name} — {kind(read_metadata(folder))}, pretrained", name))
        except CheckpointError:
            continue
    if session is not None:
        for name, entry in session.models.items():
            pairs.append((f"{name} — {kind(entry.metadata)}, yours", name))
    return pairs


def kind(metadata):
    """A few words: "conditional GAN (MLP)", "VAE (CONV)"."""
    conditional = "conditional " if metadata.get("config", {}).get("conditional") else ""
    return f"{conditional}{metadata.get('family', '?').upper()} ({metadata.get('arch', '?').upper()})"


def picker_info(pairs):
    """The line under a model picker."""
    if not pairs:
        return "None available yet: train one in the Train tab first."
    return "Pretrained models first, then the ones you train in this tab."


def no_models_message():
    return (
        f"No models are available yet: no pretrained checkpoints were found in {settings.checkpoints_dir()} "
        "and you have not trained one in this tab. Train one in the Train tab first."
    )


def find(name, session):
    """The ModelEntry called name: the visitor's own models first, then the pretrained ones."""
    if session is not None and name in session.models:
        return session.models[name]
    pretrained = pretrained_folders()
    if name in pretrained:
        return load_pretrained(name, pretrained[name])
    available = [value for _, value in choices(session)]
    if not available:
        raise AppError(no_models_message())
    if not name:
        raise AppError("Choose a model first.")
    raise AppError(f"There is no model called {name!r} here. Choose one of: {', '.join(available)}.")


def dataset_of(entry):
    """The dataset a model was trained on (MNIST when its config.json does not say)."""
    return entry.metadata.get("dataset") or "mnist"


def family_of(name, session):
    """"gan" or "vae" for a model name, from its config.json (without loading weights); None if unknown."""
    if session is not None and name in session.models:
        return session.models[name].metadata.get("family")
    folder = pretrained_folders().get(name)
    try:
        return read_metadata(folder).get("family") if folder else None
    except CheckpointError:
        return None


def preferred(pairs, session, current=None, family=None):
    """Which name a picker should show: current if still offered, else the first of `family`, else the first."""
    names = [name for _, name in pairs]
    if current in names:
        return current
    if family is not None:
        for name in names:
            if family_of(name, session) == family:
                return name
    return names[0] if names else None
