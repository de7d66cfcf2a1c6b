"""The datasets the app trains on and explores, loaded once and shared read-only.

Reading MNIST from disk takes a moment; after the first time every visitor gets the
same in-memory copy (training moves its own copy to the training device).
"""

import os
import threading

from ..data import DATASET_NAMES, DISPLAY_NAMES, DatasetError, load_dataset, load_training_set

_lock = threading.Lock()
_cache = {}  # (name, split, $GENAI_DATA_DIR) -> Dataset


def get(name, split="train", download=True):
    """One split, from the cache after the first load.

    "train" is what models learn from (a folder with only the test split gives that, with a
    warning in dataset.warning); "test" is what figures are measured against.
    """
    if name not in DATASET_NAMES:
        raise DatasetError(f"Unknown dataset {name!r}. Choose one of: {', '.join(DATASET_NAMES)}.")
    key = (name, split, os.environ.get("GENAI_DATA_DIR"))
    with _lock:
        if key not in _cache:
            if split == "train":
                _cache[key] = load_training_set(name, download=download)
            else:
                _cache[key] = load_dataset(name, split=split, download=download)
        return _cache[key]


def status(name):
    """Markdown saying how many images were found, or exactly why none were (without downloading)."""
    try:
        dataset = get(name, download=False)
    except DatasetError as error:
        hint = ""
        if not os.environ.get("GENAI_DATA_DIR"):
            hint = (
                f"\n\nThis check does not download anything. Pressing **Start** downloads "
                f"{DISPLAY_NAMES.get(name, name)} from its public mirrors (checked with MD5) into the cache."
            )
        details = str(error).replace("\n", "  \n")  # keep the engine's line breaks in Markdown
        return f"**No images found.**  \n{details}{hint}"
    found = f"**{len(dataset):,} images to learn from** ({dataset.split} split) in `{dataset.directory}`."
    return found + (f"  \n⚠️ {dataset.warning}" if dataset.warning else "")
