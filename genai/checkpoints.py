"""Saving and loading models: a folder with config.json + model.safetensors.

    save_model(model, "runs/my-gan", dataset="mnist", steps=1500)
    model, metadata = load_model("runs/my-gan")

config.json says what to build (family, architecture, its config) and how it
was made (dataset, steps trained, training settings, creation time).
model.safetensors holds the weights: a plain tensor format that, unlike a
pickle (torch.save), cannot run code when it is opened. genai never unpickles.

Writes are atomic: the folder is written under a temporary name beside the
target and renamed into place, so a crash never leaves half a model, and an
existing model is never overwritten unless overwrite=True is asked for.

A folder saved by `python -m genai train` also holds training_state.safetensors: what continuing
the run exactly needs (optimizers, random generators; see run_state.py). Loading a model ignores it.
"""

import json
import math
import os
import re
import shutil
import struct
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from . import __version__
from .checkpoint_fields import FieldError, check_fields
from .models import ModelError, model_from_config, weight_shapes
from .run_state import save_run_state

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MAX_CONFIG_BYTES = 1_000_000  # a real config.json is a few KB
MAX_HEADER_BYTES = 1_000_000  # the JSON header of a safetensors file: a few KB for genai's models
ABANDONED_SAVE = re.compile(r"\..+\.saving-(\d+)-[0-9a-f]{8}")  # write_folder's temporary folders: the pid, then an id
REPLACED_MODEL = re.compile(r"\.(.+)\.old-(\d+)-[0-9a-f]{8}")  # a model being replaced by an overwrite: its name, the pid
MAX_PARAMETERS = 20_000_000  # the largest model genai's settings allow has about 12 million


class CheckpointError(Exception):
    """A checkpoint that cannot be saved or loaded, explained for a human."""


def is_checkpoint(directory):
    directory = Path(directory)
    return (directory / CONFIG_FILE).is_file() and (directory / WEIGHTS_FILE).is_file()


def model_metadata(model, dataset=None, steps=0, training=None, extra=None):
    """The dict written as config.json."""
    return {
        "family": model.family,
        "arch": model.arch,
        "config": model.config.to_dict(),
        "dataset": dataset,
        "steps": int(steps),
        "training": training or {},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "genai_version": __version__,
        **(extra or {}),
    }


def save_model(model, directory, dataset=None, steps=0, training=None, extra=None, overwrite=False, run_state=None):
    """Write model to directory (config.json + model.safetensors); returns the Path.

    Refuses a directory that already has files in it, unless overwrite=True. run_state: a
    run_state.RunState to save beside the weights, so the run can be continued (`train --resume`).
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory} is a file, not a folder: choose another output folder.")
    if directory.is_dir() and any(directory.iterdir()) and not overwrite:
        what = "a saved model" if is_checkpoint(directory) else "other files"
        raise CheckpointError(f"{directory} already holds {what}; choose a new folder (nothing was overwritten).")
    metadata = model_metadata(model, dataset, steps, training, extra)
    return write_folder(directory, model, {CONFIG_FILE: json.dumps(metadata, indent=2) + "\n"}, run_state)


def write_folder(directory, model, text_files, run_state=None):
    """Write the weights and text files into a temporary folder, then rename it into place."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_saves(directory)
    temporary = directory.parent / f".{directory.name}.saving-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    try:
        weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
        save_file(weights, temporary / WEIGHTS_FILE, metadata={"format": "pt"})
        for name, text in text_files.items():
            (temporary / name).write_text(text)
        if run_state is not None:
            save_run_state(run_state, temporary)
        move_into_place(temporary, directory)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return directory


def remove_abandoned_saves(directory):
    """Tidy what saves killed midway (a Space restarting, Ctrl+C) left beside directory, of any name.

    - .NAME.saving-<pid>-<id>: a half-written model whose process is gone: deleted.
    - .NAME.old-<pid>-<id>: the previous model of an overwrite whose process is gone. If NAME holds
      a complete model, the overwrite got that far and the old copy is deleted; if NAME is missing,
      the process died between its two renames and the old copy is the only one: it is put back.
    """
    parent = Path(directory).parent
    for leftover in parent.glob(".*.saving-*"):
        found = ABANDONED_SAVE.fullmatch(leftover.name)
        if found and leftover.is_dir() and not still_running(int(found[1])):
            shutil.rmtree(leftover, ignore_errors=True)
    for leftover in parent.glob(".*.old-*"):
        found = REPLACED_MODEL.fullmatch(leftover.name)
        if not (found and leftover.is_dir() and not still_running(int(found[2]))):
            continue
        target = parent / found[1]
        if is_checkpoint(target):
            shutil.rmtree(leftover, ignore_errors=True)
        elif not target.exists():
            os.rename(leftover, target)


def still_running(pid):
    """Whether the process that started a save may still be at it (this process's other threads included)."""
    return pid == os.getpid() or process_alive(pid)


def process_alive(pid):
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except (ProcessLookupError, OverflowError):  # OverflowError: a number no process id can be
        return False
    except PermissionError:
        return True
    return True


def move_into_place(temporary, directory):
    """Rename the finished temporary folder to its final name, replacing an old one only at the last moment."""
    if directory.is_dir() and any(directory.iterdir()):
        old = directory.parent / f".{directory.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.rename(directory, old)
        os.rename(temporary, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        if directory.is_dir():
            directory.rmdir()
        os.rename(temporary, directory)


def read_metadata(directory):
    """The parsed config.json of a checkpoint folder, checked for the fields genai needs."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"No checkpoint folder at {directory}: give a folder holding {CONFIG_FILE} and {WEIGHTS_FILE}.")
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(f"{directory} has no {CONFIG_FILE}: it is not a genai checkpoint folder.")
    if config_path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{config_path} is {config_path.stat().st_size:,} bytes: too large for a genai config.")
    try:
        metadata = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, OSError) as error:
        raise CheckpointError(f"{config_path} is not valid JSON ({str(error)[:200]}).") from None
    if not isinstance(metadata, dict) or not {"family", "arch", "config"} <= set(metadata):
        raise CheckpointError(f"{config_path} lacks the fields family, arch and config: it is not a genai model.")
    try:
        check_fields(metadata)
    except FieldError as error:
        raise CheckpointError(f"{config_path} holds fields genai cannot use: {error}") from None
    return metadata


def expected_shapes(metadata, directory):
    """The tensor shapes the config describes, checked (every field, and the model's size) before building."""
    try:
        shapes = weight_shapes(metadata)
    except (ModelError, TypeError, RuntimeError, RecursionError) as error:
        raise CheckpointError(f"{Path(directory) / CONFIG_FILE} describes a model genai cannot build: {error}") from None
    count = sum(math.prod(shape) for shape in shapes.values())
    if count > MAX_PARAMETERS:
        raise CheckpointError(
            f"{Path(directory) / CONFIG_FILE} describes a model of {count:,} numbers; genai loads at most {MAX_PARAMETERS:,}."
        )
    return shapes


def check_checkpoint(directory):
    """Check a folder without building its model: config fields, model size, and the weight
    shapes in the safetensors header against the config. Returns the metadata."""
    metadata = read_metadata(directory)
    expected = expected_shapes(metadata, directory)
    weights_path = Path(directory) / WEIGHTS_FILE
    if not weights_path.is_file():
        raise CheckpointError(f"{directory} has no {WEIGHTS_FILE}: the weights are missing.")
    compare_shapes(expected, header_shapes(weights_path), weights_path)
    return metadata


def verify_checkpoint(directory):
    """check_checkpoint, then every number of the weights read once: a file cut short, or holding NaN or
    infinity, is refused here rather than on every use (the web app's start-up scan). Returns the metadata."""
    metadata = check_checkpoint(directory)
    weights_path = Path(directory) / WEIGHTS_FILE
    try:
        with safe_open(weights_path, framework="pt") as weights:  # one tensor at a time: memory stays small
            for name in weights.keys():
                check_finite(name, weights.get_tensor(name), weights_path)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{weights_path} is not a valid safetensors file ({error}).") from None
    return metadata


def load_model(directory, device="cpu"):
    """Rebuild the model described by directory/config.json and load its weights. Returns (model, metadata).

    Everything is checked before the model is built (check_checkpoint); weights that do not fit,
    files that are not safetensors and NaN weights are refused. A Hub model id is not a folder:
    genai.hub.load fetches its files first, then calls this.
    """
    directory = Path(directory)
    metadata = check_checkpoint(directory)
    try:
        model = model_from_config(metadata)
    except (ModelError, TypeError, RuntimeError, RecursionError) as error:
        raise CheckpointError(f"{directory / CONFIG_FILE} describes a model genai cannot build: {error}") from None
    load_weights_into(model, directory)
    model.to(device).eval()
    return model, metadata


def load_weights_into(model, directory):
    """Read directory/model.safetensors into model, refusing weights that do not fit."""
    weights_path = Path(directory) / WEIGHTS_FILE
    if not weights_path.is_file():
        raise CheckpointError(f"{directory} has no {WEIGHTS_FILE}: the weights are missing.")
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    compare_shapes(expected, header_shapes(weights_path), weights_path)
    weights = read_weights(weights_path)
    check_weights_fit(model, weights, weights_path)
    model.load_state_dict(weights)


def header_shapes(path):
    """name -> shape from a safetensors file's JSON header, read without loading any tensor.

    The format: 8 bytes (little-endian length n), n bytes of JSON {name: {dtype, shape, data_offsets}},
    then the raw numbers.
    """
    with open(path, "rb") as file:
        start = file.read(8)
        if len(start) < 8:
            raise CheckpointError(f"{path} is not a valid safetensors file (it is {len(start)} bytes long).")
        (length,) = struct.unpack("<Q", start)
        if length > MAX_HEADER_BYTES:
            not_ours(path, start)
            raise CheckpointError(f"{path} is not a valid safetensors file (its header claims {length:,} bytes).")
        raw = file.read(length)
    try:
        header = json.loads(raw)
        shapes = {name: tuple(int(n) for n in entry["shape"]) for name, entry in header.items() if name != "__metadata__"}
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        not_ours(path, start)
        raise CheckpointError(f"{path} is not a valid safetensors file (its header is not readable).") from None
    return shapes


def not_ours(path, head):
    """Explain a pickle or torch.save file (which genai never opens) by its first bytes."""
    if head[:1] == b"\x80" or head[:2] == b"PK":
        raise CheckpointError(
            f"{path} looks like a pickle or torch.save file. genai only loads safetensors, which cannot run code."
        )


def read_weights(path):
    """Parse path as safetensors (which never runs code); explain what it is when it is not."""
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as error:
        problem = error
    # Only now look for pickle magic: a valid safetensors file may start with the byte 0x80 too
    # (its first 8 bytes are the header length, e.g. 128).
    with open(path, "rb") as file:
        not_ours(path, file.read(2))
    raise CheckpointError(f"{path} is not a valid safetensors file ({problem}).")


def compare_shapes(expected, found, path):
    """Compare tensor names and shapes, and say exactly what does not match."""
    problems = []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing:
        problems.append(f"missing {len(missing)} tensors (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (e.g. {', '.join(unexpected[:3])})")
    wrong = [f"{n}: {found[n]} instead of {expected[n]}" for n in sorted(expected) if n in found and found[n] != expected[n]]
    if wrong:
        problems.append(f"{len(wrong)} tensors of the wrong shape ({'; '.join(wrong[:3])})")
    if problems:
        raise CheckpointError(f"The weights in {path} do not match the model in config.json: " + ", ".join(problems) + ".")


def check_weights_fit(model, weights, path):
    """Names and shapes as the model expects, and no NaN or infinite numbers."""
    compare_shapes({n: tuple(t.shape) for n, t in model.state_dict().items()},
                   {n: tuple(t.shape) for n, t in weights.items()}, path)
    for name, tensor in weights.items():
        check_finite(name, tensor, path)


def check_finite(name, tensor, path):
    """Refuse a tensor holding NaN or infinity (a BatchNorm's step counter is a whole number: nothing to check)."""
    if not torch.is_floating_point(tensor) and name.endswith("num_batches_tracked"):
        return
    # Read through numpy: a model is hundreds of small tensors, and a torch call per tensor costs far more
    # than the check itself on a busy CPU (a Space starting while it serves).
    values = tensor if tensor.dtype == torch.float32 else tensor.float()
    if not np.isfinite(values.numpy()).all():
        raise CheckpointError(f"The weights in {path} contain NaN or infinite values ({name}).")
