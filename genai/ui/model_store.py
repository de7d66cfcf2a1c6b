"""Which models a visitor can pick: the shipped pretrained ones plus the ones they trained.

Pretrained checkpoints (checkpoints/<name>/, or $GENAI_CHECKPOINTS_DIR) are found by
checking every field of their config.json and reading their weights once (remembered until the
files change); a folder that fails (a bad field, weights cut short or holding NaN) is skipped
with one log line, its name escaped, while the app serves the rest. The weights
are loaded the first time someone uses a model and then shared, read-only, by every
visitor. Each model loads under its own lock, so loading one never makes anyone wait who
samples another, and a model that failed to load is remembered as failed. Models a visitor
trained or loaded from the Hub (load_from_hub) live in their own Session (genai/ui/session.py), never here.
"""

import json
import logging
import threading
from pathlib import Path

from ..checkpoints import CONFIG_FILE, WEIGHTS_FILE, CheckpointError, is_checkpoint, load_model, verify_checkpoint
from ..data import DISPLAY_NAMES
from ..hub import download, parse_model_id
from ..device import pick_device
from ..models import FAMILIES, ModelError, model_class
from ..models.base import GenerativeModel
from ..settings import shown
from . import settings
from .errors import AppError
from .session import ModelEntry

log = logging.getLogger("genai.ui")

NOT_GENERATIVE = {"classifier"}  # checkpoints/classifier holds the metrics classifier, not a generator

_lock = threading.Lock()  # held only briefly, to look things up in the dicts below
_scanning = threading.Lock()  # held while a folder's files are checked (the first time, or after they change)
_checked = {}  # (folder, file times) -> config.json's metadata, or the CheckpointError it raised
_loading = {}  # same key -> the lock held while that one model loads
_loaded = {}  # same key -> ModelEntry, shared read-only by every session
_failed = {}  # same key -> the message of a load that failed (not retried until the files change)
_device = None


def app_device():
    """The device the app runs models on (CUDA, then Apple MPS, then the CPU), picked once."""
    global _device
    if _device is None:
        _device = pick_device("auto")
    return _device


def folder_key(folder):
    """Identifies a checkpoint folder's current files: a changed file makes a new key."""
    folder = Path(folder)
    return (str(folder.resolve()), (folder / CONFIG_FILE).stat().st_mtime_ns, (folder / WEIGHTS_FILE).stat().st_mtime_ns)


def checked_metadata(folder):
    """config.json of a checkpoint folder after verify_checkpoint (every field, size, weight shapes, every
    number of the weights), remembered."""
    try:
        key = folder_key(folder)
    except OSError as error:
        raise CheckpointError(f"{Path(folder).name} cannot be read ({error.strerror}).") from None
    with _lock:
        known = _checked.get(key)
    if known is None:
        with _scanning:  # one scan per folder version, so one log line for a bad one
            with _lock:
                known = _checked.get(key)
            if known is None:
                known = scanned(folder)
                with _lock:
                    _checked[key] = known
    if isinstance(known, CheckpointError):
        raise known
    return known


def scanned(folder):
    """verify_checkpoint's metadata of a folder, or the CheckpointError it raised (logged in one line)."""
    try:
        return verify_checkpoint(folder)
    except CheckpointError as error:
        problem = error
    except OSError as error:
        problem = CheckpointError(f"{Path(folder).name} cannot be read ({error.strerror}).")
    log.warning("Skipping the checkpoint folder %s: %s", escaped(Path(folder).name), escaped(problem))
    return problem


def escaped(text):
    """text as one log line: a newline or another control character (in a folder's name, say) is written
    as its escape (\\n), so nobody can forge a line of the server's log by naming a folder."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))


def pretrained_folders(root=None):
    """name -> folder of every usable generative checkpoint under root, in name order.

    Skips the metrics classifier, hidden folders, anything that is not a checkpoint of a known
    family, and (with one log line each) checkpoints whose config or weights fail their checks.
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
            family = checked_metadata(folder).get("family")
        except CheckpointError:
            continue
        if family in FAMILIES:
            found[folder.name] = folder
    return found


def load_pretrained(name, folder):
    """The shared ModelEntry of a pretrained checkpoint, loading its weights on first use.

    Only this model's lock is held while it loads; a failure is remembered and reported again
    at once, without reloading, until its files change.
    """
    folder = Path(folder)
    key = folder_key(folder)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        if key in _failed:
            raise AppError(_failed[key])
        model_lock = _loading.setdefault(key, threading.Lock())
    with model_lock:
        with _lock:
            if key in _loaded:
                return _loaded[key]
            if key in _failed:
                raise AppError(_failed[key])
        try:
            model, metadata = load_model(folder, app_device())
        except CheckpointError as error:
            message = f"The pretrained model {name!r} cannot be loaded: " + str(error).replace(str(folder), name)
            with _lock:
                _failed[key] = message
            raise AppError(message) from None
        model.eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)  # shared and read-only: nobody trains these
        entry = ModelEntry(name, model, metadata, "pretrained", folder)
        with _lock:
            _loaded[key] = entry
        return entry


def summary(metadata, source):
    """One line about a model, from its config.json: "VAE (MLP), 2-D latent, conditional, 9,360 steps on MNIST"."""
    config = metadata.get("config", {})
    parts = [f"{metadata.get('family', '?').upper()} ({metadata.get('arch', '?').upper()})"]
    parts.append(f"{config.get('latent_dim', '?')}-D latent")
    if config.get("conditional"):
        parts.append("conditional")
    if config.get("prior_components"):
        parts.append(f"samples from {config['prior_components']} Gaussians fitted to its training codes")
    if config.get("categories"):
        parts.append(f"{config['categories']} categories found without labels (InfoGAN)")
    if config.get("guide_channels"):
        parts.append(f"guided by a smaller UNet ({config['guide_channels']} channels; autoguidance)")
    steps = metadata.get("steps") or 0
    dataset = DISPLAY_NAMES.get(metadata.get("dataset"), metadata.get("dataset"))
    if steps:
        parts.append(f"{steps:,} steps" + (f" on {dataset}" if dataset else ""))
    return f"{SOURCE_WORDS.get(source, source)}: " + ", ".join(parts)


SOURCE_WORDS = {"pretrained": "pretrained", "yours": "yours", "hub": "from the Hub"}


def choices(session):
    """(label, name) pairs for a model picker: the pretrained models grouped by family (in the registry's
    order), the strongest of each family first, then the visitor's own; each label says what its kind of
    model is good for."""
    pretrained = sorted(pretrained_folders().items(), key=lambda item: (
        family_order(checked_metadata(item[1])), -recognizable_share(item[0])))
    pairs = [label(name, checked_metadata(folder), "pretrained") for name, folder in pretrained]
    if session is not None:
        pairs += [label(name, entry.metadata, entry.source) for name, entry in session.models.items()]
    return pairs


def label(name, metadata, source):
    """("gan-conditional — conditional GAN (DCGAN), pretrained: sharp digits in milliseconds; ...", name)."""
    good_for = model_interface(metadata).good_for
    return (f"{name} — {kind(metadata)}, {SOURCE_WORDS.get(source, source)}" + (f" · {good_for}" if good_for else ""),
            name)


def model_interface(metadata):
    """The model class a config.json describes (what its kind of model can do), without its weights;
    the base class when the config names no known model."""
    try:
        return model_class(metadata.get("family"), metadata.get("arch"))
    except ModelError:
        return GenerativeModel


def family_order(metadata):
    family = metadata.get("family")
    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


def measured_figures(name):
    """The figures `eval` measured for a pretrained model (checkpoints/eval/<name>.json), or None."""
    if name not in pretrained_folders():
        return None
    try:
        return json.loads((settings.checkpoints_dir() / "eval" / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


def recognizable_share(name):
    """The share of a pretrained model's samples the digit classifier recognizes (0 when not measured)."""
    share = (measured_figures(name) or {}).get("recognizable_share")
    return share if isinstance(share, (int, float)) else 0.0


def kind(metadata):
    """A few words: "conditional GAN (MLP)", "VAE (CONV)"."""
    conditional = "conditional " if metadata.get("config", {}).get("conditional") else ""
    return f"{conditional}{metadata.get('family', '?').upper()} ({metadata.get('arch', '?').upper()})"


def picker_info(pairs):
    """The line under a model picker."""
    if not pairs:
        return "None available yet: train one in the Train tab first."
    return "Pretrained models by family, the strongest first; then the ones you train."


def no_models_message():
    return (
        "No models are available yet: this server has no pretrained checkpoints (GENAI_CHECKPOINTS_DIR) "
        "and you have not trained one in this tab. Train one in the Train tab first."
    )


def find(name, session):
    """The ModelEntry called name: the visitor's own models first, then the pretrained ones."""
    if session is not None:
        session.touch()
        if name in session.models:
            return session.models[name]
        if session.expired and name not in pretrained_folders():
            raise AppError(f"{shown(name)} is gone: this session's models were freed after it went unused "
                           f"(each visitor's models stay while they use them). Train or load it again.")
    pretrained = pretrained_folders()
    if name in pretrained:
        return load_pretrained(name, pretrained[name])
    if session is not None and isinstance(name, str) and parse_model_id(name) is not None:
        load_from_hub(name, session)  # a Hub id typed into a picker (or sent by an API client)
        return session.models[name]
    available = [value for _, value in choices(session)]
    if not available:
        raise AppError(no_models_message())
    if not name:
        raise AppError("Choose a model first.")
    raise AppError(f"There is no model called {shown(name)} here. Choose one of: {', '.join(available)}.")


def load_from_hub(model_id, session):
    """Fetch a Hub model into the cache, check and load it, and add it to this visitor's models.

    Returns (status Markdown, the model's name).
    """
    text = (model_id or "").strip()
    parsed = parse_model_id(text)
    if parsed is None:
        raise AppError(f"{shown(text)} is not a Hub model id: give it as user/name or user/name@revision, "
                       "e.g. alice/mnist-vae.")
    if text in session.models:
        return f"**{text}** is already loaded: pick it in the other tabs.", text
    repo_id, revision = parsed
    folder = download(repo_id, revision)  # never locate(): a visitor's text must not name a folder of the server
    try:
        model, metadata = load_model(folder, app_device())
    except CheckpointError as error:  # name the model, not the server's cache folder
        raise AppError(f"{text} cannot be loaded: " + str(error).replace(f"{folder}/", "").replace(str(folder), text)) from None
    if metadata.get("family") not in FAMILIES:
        raise AppError(f"{text} holds a {metadata.get('family')!r} model, not one genai can sample from.")
    model.eval().requires_grad_(False)
    dropped = session.add(ModelEntry(text, model, metadata, "hub", folder))
    note = f" To make room, {', '.join(dropped)} left your list." if dropped else ""
    return f"Loaded **{text}**: {model.describe()}. Pick it in the Sample, Interpolate and Explore tabs.{note}", text


def dataset_of(entry):
    """The dataset a model was trained on (MNIST when its config.json does not say)."""
    return entry.metadata.get("dataset") or "mnist"


def metadata_of(name, session):
    """The config.json of the model called name (the visitor's own, else a pretrained one), without
    loading weights; {} if there is no such model or its config fails its checks."""
    if session is not None and name in session.models:
        return session.models[name].metadata
    folder = pretrained_folders().get(name)
    try:
        return checked_metadata(folder) if folder else {}
    except CheckpointError:
        return {}


def can_encode(name, session):
    """Whether the model called name has an encoder, from its config.json (without loading weights)."""
    metadata = metadata_of(name, session)
    try:
        return bool(metadata) and model_class(metadata.get("family"), metadata.get("arch")).can_encode
    except ModelError:
        return False


def preferred(pairs, session, current=None, needs_encoder=False, rank=None):
    """Which name a picker should show: current if still offered, else the strongest fast model (one that
    draws in one pass, with the most recognizable digits as measured; with an encoder when the tab needs
    one). rank(name, metadata) -> a sort key, larger first, comes before those when given."""
    names = [name for _, name in pairs]
    if current in names:
        return current
    if needs_encoder:
        names = [name for name in names if can_encode(name, session)] or names
    if not names:
        return None

    def strength(name):
        metadata = metadata_of(name, session)
        own = rank(name, metadata) if rank else ()
        return (*own, model_interface(metadata).draws_in_one_pass, recognizable_share(name))

    return max(names, key=strength)  # (the first of equals: choices() lists the strongest of a family first)
