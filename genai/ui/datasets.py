"""The datasets the app trains on and explores, loaded once and shared read-only.

Reading MNIST from disk takes a moment; after the first time every visitor gets the
same in-memory copy (training moves its own copy to the training device). A load that
failed is remembered as well, and reported again at once (every page open asks), until
the files change: see data.files_state.

Errors reach visitors in the wording of for_visitors(): files by name, never the server's
folders or what they hold. (The CLI shows the full messages, with paths: those are the
user's own.)
"""

import threading
from dataclasses import dataclass

from .. import environment
from ..data import (
    DATASET_NAMES, DISPLAY_NAMES, Dataset, DatasetError, DatasetNotFound, files_state, load_dataset,
    load_training_set,
)

_lock = threading.Lock()
_cache = {}  # (name, split, $GENAI_DATA_DIR) -> _Loaded: the latest load, successful or not


@dataclass
class _Loaded:
    """What one load gave (a dataset or an error for visitors) and the files it was read from."""

    files: tuple  # data.files_state() just before the load
    dataset: Dataset | None = None
    error: DatasetError | None = None


def for_visitors(error: DatasetError) -> DatasetError:
    """The same error worded for the web app's visitors (error.public): no server paths, no folder listings."""
    return type(error)(error.public)


def _still_holds(loaded, files, download) -> bool:
    """Whether a remembered load answers this request: same files, and not a "not found" that a download could fix."""
    if loaded is None or loaded.files != files:
        return False
    return not (download and isinstance(loaded.error, DatasetNotFound))


def _load(name, split, download, files) -> _Loaded:
    """Load one split now; a DatasetError is kept (worded for visitors), not raised."""
    try:
        if split == "train":
            dataset = load_training_set(name, download=download)
        else:
            dataset = load_dataset(name, split=split, download=download)
    except DatasetError as error:
        return _Loaded(files, error=for_visitors(error))
    return _Loaded(files, dataset=dataset)


def get(name, split="train", download=True):
    """One split, from the cache after the first load; a failed load raises the same error again.

    "train" is what models learn from (a folder with only the test split gives that, with a
    warning in dataset.warning); "test" is what figures are measured against. Files that
    changed since the last load (added, removed, rewritten) are read again.
    """
    if name not in DATASET_NAMES:
        raise DatasetError(f"Unknown dataset {name!r}. Choose one of: {', '.join(DATASET_NAMES)}.")
    key = (name, split, environment.value("GENAI_DATA_DIR"))
    with _lock:
        files = files_state(name)
        if not _still_holds(_cache.get(key), files, download):
            _cache[key] = _load(name, split, download, files)
        loaded = _cache[key]
    if loaded.error is not None:
        raise type(loaded.error)(str(loaded.error))  # a fresh copy: no tracebacks piling up on one object
    return loaded.dataset


def status(name):
    """Markdown saying how many images were found, or exactly why none were (without downloading)."""
    try:
        dataset = get(name, download=False)
    except DatasetError as error:
        hint = ""
        if not environment.value("GENAI_DATA_DIR"):
            hint = (
                f"\n\nThis check does not download anything. Pressing **Start** downloads "
                f"{DISPLAY_NAMES.get(name, name)} from its public mirrors (checked with MD5) into the cache."
            )
        details = str(error).replace("\n", "  \n")  # keep the engine's line breaks in Markdown
        return f"**No images found.**  \n{details}{hint}"
    found = f"**{len(dataset):,} images to learn from** ({dataset.split} split)."
    return found + (f"  \n⚠️ {dataset.warning}" if dataset.warning else "")
