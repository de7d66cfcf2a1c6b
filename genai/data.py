"""Datasets: find, verify and download the MNIST-style IDX files.

MNIST and Fashion-MNIST ship as four files in the "IDX" format:

    train-images-idx3-ubyte   60,000 images, 28x28 bytes each
    train-labels-idx1-ubyte   60,000 labels, one byte each (0..9)
    t10k-images-idx3-ubyte    10,000 test images
    t10k-labels-idx1-ubyte    10,000 test labels

each possibly gzipped (``.gz``). An IDX file is a tiny header followed by raw bytes:

    magic number   4 bytes: 0x00 0x00 <dtype code> <number of dims>   (0x08 = unsigned byte)
    dims           one big-endian 32-bit integer per dimension
    payload        prod(dims) bytes, row-major

So reading a whole split is one ``numpy.frombuffer`` call: no per-sample Python.

Where the files come from, in this order:

1. an explicit directory (``data_dir=...``/``--data-dir``, or env ``GENAI_DATA_DIR``),
2. the user cache (``~/.cache/genai/<name>``, root overridable with env ``GENAI_CACHE_DIR``),
3. for Fashion-MNIST, Debian's ``dataset-fashion-mnist`` package (/usr/share/datasets/fashion-mnist),
4. a download from the dataset's public mirrors, MD5-checked, written atomically into the cache.

A whole split becomes one uint8 tensor of shape (N, 28, 28): move it to the training device once,
then draw random batches there. Models learn from the train split (60,000 images); figures are
measured on the test split (10,000). Known files are recognised by checksum, not by name.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import math
import os
import pathlib
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from . import environment


class DatasetError(Exception):
    """A dataset problem explained for a human: what is wrong and what to do about it.

    ``str(error)`` is the full message for the command line: it names files and folders by
    their paths (the user's own machine). ``error.public`` says the same for the visitors of
    the web app: files by name only, no server folder, no folder listing. Most messages name
    no path, and then both are the same.
    """

    def __init__(self, message: str, public: str | None = None):
        super().__init__(message)
        self.public = message if public is None else public


class DatasetNotFound(DatasetError):
    """The files of a split are in none of the places searched."""


DATASET_NAMES = ("mnist", "fashion-mnist")

SPLITS = ("train", "test")

# The standard file names (without .gz) of each split: (images, labels).
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

CLASS_NAMES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion-mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}

DISPLAY_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

# Public mirrors, tried in turn. Each serves the four .gz files under their standard names.
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
}

# MD5 checksums of the .gz files, as published with the datasets.
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcc31e9ff5d",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83fd310",
    },
}

# MD5 of the UNcompressed IDX files: how a file is recognised by its content, whatever its name.
# (Fashion-MNIST's files have exactly MNIST's names; only their bytes tell them apart.)
KNOWN_FILES = {
    "6bbc9ace898e44ae57da46a324031adb": ("mnist", "train", "images"),
    "a25bea736e30d166cdddb491f175f624": ("mnist", "train", "labels"),
    "2646ac647ad5339dbf082846283269ea": ("mnist", "test", "images"),
    "27ae3e4e09519cfbb04c329615203637": ("mnist", "test", "labels"),
    "f4a8712d7a061bf5bd6d2ca38dc4d50a": ("fashion-mnist", "train", "images"),
    "9018921c3c673c538a1fc5bad174d6f9": ("fashion-mnist", "train", "labels"),
    "8181f5470baa50b63fa0f6fddb340f0a": ("fashion-mnist", "test", "images"),
    "15d484375f8d13e6eb1aabb0c3f46965": ("fashion-mnist", "test", "labels"),
}

# Directories filled by system packages (Debian: apt-get install dataset-fashion-mnist).
SYSTEM_DIRS = {
    "mnist": (),
    "fashion-mnist": (pathlib.Path("/usr/share/datasets/fashion-mnist"),),
}
DEBIAN_PACKAGES = {"fashion-mnist": "dataset-fashion-mnist"}

IMAGE_SIZE = 28
NUM_CLASSES = 10


@dataclass
class Dataset:
    """One dataset in memory: every loaded image as a single uint8 tensor.

    ``images`` is (N, 28, 28) uint8, white digit on black (0 = background), exactly as in the
    files. Models usually want floats in [-1, 1] or [0, 1]: convert batches, not the whole set,
    so the set stays small (47 MB for 60,000 images) on the device.
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    split: str  # "train" or "test"
    directory: pathlib.Path
    class_names: tuple[str, ...]
    total: int = 0  # images in the split before any limit
    verified: bool = False  # True when every file matched the published checksums
    warning: str = ""  # e.g. training on the test split because no train split was found

    def __len__(self) -> int:
        return len(self.images)

    def describe(self) -> str:
        """One line for people, e.g. "MNIST: 60,000 images (train split) from /data/mnist"."""
        count = f"{len(self):,} images" if len(self) == self.total else f"{len(self):,} of {self.total:,} images"
        origin = "" if self.verified else ", files not the published ones"
        return f"{DISPLAY_NAMES[self.name]}: {count} ({self.split} split{origin}) from {self.directory}"

    def record(self) -> dict:
        """What a model's training record says about its data (see genai.train.training_record)."""
        return {"dataset": self.name, "split": self.split, "images": len(self), "split_images": self.total,
                "verified_files": self.verified}

    def to(self, device) -> "Dataset":
        """A copy whose tensors live on ``device`` (moved once; batches are then drawn there)."""
        return dataclasses.replace(self, images=self.images.to(device), labels=self.labels.to(device))


# --------------------------------------------------------------------------------------------
# Reading IDX files
# --------------------------------------------------------------------------------------------

GZIP_MAGIC = b"\x1f\x8b"
IDX_UBYTE = 0x08  # the only IDX data type MNIST uses: unsigned byte

# The most data bytes an IDX file may declare: 64 MiB. The largest real file, MNIST's train
# images, holds 60,000 x 28 x 28 = 47,040,000 bytes; the margin leaves room for a bigger set.
# A forged header (or a small .gz that inflates to gigabytes) is refused before it costs memory.
MAX_IDX_DATA = 64 * 2**20

# The most dimensions an IDX file may declare. MNIST uses 1 (labels) and 3 (images).
MAX_IDX_DIMS = 4

READ_CHUNK = 2**20  # bytes read (or inflated) at a time


def _file_error(path: pathlib.Path, problem: str) -> DatasetError:
    """A DatasetError about one file: "<path><problem>" for the CLI, "<file name><problem>" for the web app."""
    return DatasetError(f"{path}{problem}", public=f"{path.name}{problem}")


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a uint8 array of the shape its header declares.

    Raises DatasetError naming the file and the problem (not IDX, wrong type, truncated, too big,
    corrupt gzip).
    """
    path = pathlib.Path(path)
    return parse_idx(read_raw(path), path)


def read_raw(path: pathlib.Path) -> bytes:
    """The bytes of an IDX file (gunzipped if it is gzipped), read no further than its header says.

    A .gz file is inflated piece by piece, so a small file that would inflate to gigabytes is
    refused after at most MAX_IDX_DATA bytes (see _read_idx_stream).
    """
    try:
        with open(path, "rb") as file:
            gzipped = path.name.endswith(".gz") or file.read(2) == GZIP_MAGIC
            file.seek(0)
            if not gzipped:
                return _read_idx_stream(file, path)
            with gzip.GzipFile(fileobj=file) as stream:
                return _read_idx_stream(stream, path)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise _file_error(
            path,
            f" is not a valid gzip file ({error}). It is probably corrupt or an "
            "incomplete download: delete it and download it again.",
        ) from error
    except OSError as error:
        raise _file_error(path, f" cannot be read: {error.strerror or type(error).__name__}.") from error


def _read_idx_stream(stream, path: pathlib.Path) -> bytes:
    """The IDX bytes of an open file: the header first, then exactly the data it declares.

    A declared size above MAX_IDX_DATA is refused before any data is read, and at most one
    byte more than the declared data is read: that byte shows a file that is too long.
    """
    header = _read_at_most(stream, 4)
    ndim = _check_magic(header, path)
    header += _read_at_most(stream, 4 * ndim)
    dims, size = _parse_header(header, path)
    data = _read_at_most(stream, size + 1)
    _check_data_size(dims, size, len(data), path)
    return header + data


def _read_at_most(stream, count: int) -> bytes:
    """Up to ``count`` bytes of ``stream`` (fewer only at its end), read READ_CHUNK bytes at a time."""
    chunks = []
    while count > 0:
        chunk = stream.read(min(count, READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _check_magic(raw: bytes, path: pathlib.Path) -> int:
    """The number of dimensions the magic number (the first 4 bytes of ``raw``) declares."""
    if len(raw) < 4:
        raise _file_error(path, f" is not an IDX file: it is only {len(raw)} bytes long.")
    zero1, zero2, dtype_code, ndim = raw[0], raw[1], raw[2], raw[3]
    magic = f"wrong magic number 0x{raw[:4].hex()}"
    if zero1 != 0 or zero2 != 0:
        raise _file_error(path, f" is not an IDX file: {magic} (an IDX file starts with 0x0000080N).")
    if dtype_code != IDX_UBYTE:
        raise _file_error(
            path,
            f": {magic}: data type code 0x{dtype_code:02x} is not supported "
            "(only 0x08 = unsigned byte, as in MNIST).",
        )
    if not 1 <= ndim <= MAX_IDX_DIMS:
        raise _file_error(
            path, f": {magic}: the file declares {ndim} dimensions (1 to {MAX_IDX_DIMS} are supported)."
        )
    return ndim


def _parse_header(raw: bytes, path: pathlib.Path) -> tuple[tuple[int, ...], int]:
    """(shape, data size in bytes) declared by the IDX header at the start of ``raw``.

    The size is a Python int (no overflow, whatever the dims) and is refused above MAX_IDX_DATA.
    """
    ndim = _check_magic(raw, path)
    if len(raw) < 4 + 4 * ndim:
        raise _file_error(path, " is truncated: the file ends inside its header.")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    size = math.prod(dims)
    if size > MAX_IDX_DATA:
        raise _file_error(
            path,
            f" is too big: its header declares shape {dims} ({size:,} bytes of data), more than the "
            f"{MAX_IDX_DATA:,} bytes allowed (MNIST's largest file holds 47,040,000). "
            "It is corrupt or not a dataset file.",
        )
    return dims, size


def _check_data_size(dims: tuple[int, ...], size: int, found: int, path: pathlib.Path) -> None:
    """Refuse a file whose data (``found`` bytes after the header) is not the ``size`` declared."""
    if found < size:
        raise _file_error(
            path,
            f" is truncated: the header declares shape {dims} ({size:,} bytes of data) "
            f"but only {found:,} bytes follow. Delete it and get the file again.",
        )
    if found > size:
        raise _file_error(
            path,
            f" is not a valid IDX file: the header declares shape {dims} ({size:,} bytes of data) "
            "but more bytes follow.",
        )


def parse_idx(raw: bytes, path: pathlib.Path) -> np.ndarray:
    """The uint8 array in the IDX bytes ``raw`` (read from ``path``, named in errors)."""
    dims, size = _parse_header(raw, path)
    header_size = 4 + 4 * len(dims)
    _check_data_size(dims, size, len(raw) - header_size, path)
    # bytearray makes the array writable, so torch.from_numpy can share it without a warning.
    return np.frombuffer(bytearray(raw), dtype=np.uint8, offset=header_size).reshape(dims)


# --------------------------------------------------------------------------------------------
# Finding the files
# --------------------------------------------------------------------------------------------


def cache_dir(name) -> pathlib.Path:
    """The user cache for one dataset: ~/.cache/genai/<name>, or $GENAI_CACHE_DIR/<name> if set."""
    root = environment.value("GENAI_CACHE_DIR") or pathlib.Path.home() / ".cache" / "genai"
    return root / name


def _find_file(directory: pathlib.Path, stem: str) -> pathlib.Path | None:
    """The file ``stem`` or ``stem.gz`` in ``directory`` (plain first: it reads faster)."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _split_files(directory: pathlib.Path, split: str) -> tuple[pathlib.Path, pathlib.Path] | None:
    """(images, labels) paths of ``split`` in ``directory``, or None unless both are there."""
    images, labels = (_find_file(directory, stem) for stem in SPLIT_FILES[split])
    if images is None or labels is None:
        return None
    return images, labels


def _present_splits(directory: pathlib.Path) -> tuple[str, ...]:
    """The splits whose images AND labels are both in ``directory`` (labels alone don't count)."""
    if not directory.is_dir():
        return ()
    return tuple(split for split in SPLITS if _split_files(directory, split) is not None)


def _check_name(name: str) -> None:
    if name not in DATASET_NAMES:
        raise DatasetError(f"Unknown dataset {name!r}. Choose one of: {', '.join(DATASET_NAMES)}.")


def _check_split(split) -> None:
    if split not in SPLITS:
        raise DatasetError(
            f"Unknown split {split!r}. Valid values: 'train' (to learn from) or 'test' (to measure against)."
        )


def _explicit_dir(data_dir) -> tuple[pathlib.Path | None, str]:
    """The directory the user chose (argument first, then $GENAI_DATA_DIR) and where it came from."""
    if data_dir is not None:
        return pathlib.Path(data_dir).expanduser(), "data_dir"
    env = environment.value("GENAI_DATA_DIR")
    if env:
        return env, "GENAI_DATA_DIR"
    return None, ""


def _candidates(name: str, directory: pathlib.Path) -> list[pathlib.Path]:
    """A chosen directory may hold the files itself or a sub-folder named after the dataset."""
    sub = directory / name
    return [sub, directory] if sub.is_dir() else [directory]


def _search_dirs(name: str, data_dir=None) -> list[pathlib.Path]:
    """Every directory searched, in order."""
    explicit, _ = _explicit_dir(data_dir)
    if explicit is not None:
        return _candidates(name, explicit)
    return [cache_dir(name), *SYSTEM_DIRS[name]]


def _first_with(dirs, split) -> pathlib.Path | None:
    """The first directory holding ``split`` (or any complete split if None)."""
    for directory in dirs:
        present = _present_splits(directory)
        if present and (split is None or split in present):
            return directory
    return None


def find_dataset_dir(name, data_dir=None) -> pathlib.Path | None:
    """Where the files of dataset ``name`` are, or None if no place holds a complete split.

    Order: ``data_dir`` (else env GENAI_DATA_DIR; the files may sit in it or in its sub-folder
    ``<name>``), then the user cache, then system packages. Only a chosen directory is searched
    when one is given: pointing at a place means "use this".
    """
    _check_name(name)
    return _first_with(_search_dirs(name, data_dir), None)


def files_state(name, data_dir=None) -> tuple:
    """The folders searched for ``name`` and the (path, size, mtime) of each dataset file in them.

    Two equal states mean the loader would read the same files, so a remembered result (or
    failure) still holds; adding, removing or rewriting a file changes the state.
    """
    _check_name(name)
    dirs = _search_dirs(name, data_dir)
    files = []
    for directory in dirs:
        for stem in (stem for pair in SPLIT_FILES.values() for stem in pair):
            for path in (directory / stem, directory / f"{stem}.gz"):
                try:
                    info = path.stat()
                except OSError:  # not there (or not readable: the loader will say so)
                    continue
                files.append((str(path), info.st_size, info.st_mtime_ns))
    return tuple(str(directory) for directory in dirs), tuple(files)


def _needed_files() -> str:
    return ", ".join(f"{stem}[.gz]" for pair in SPLIT_FILES.values() for stem in pair)


def _listing(directory: pathlib.Path) -> str:
    if not directory.exists():
        return "it does not exist"
    if not directory.is_dir():
        return "it is not a directory"
    names = sorted(p.name for p in directory.iterdir())
    return "it holds: " + ", ".join(names) if names else "it is empty"


def _not_found(name: str, split, data_dir=None, extra: str = "", public_extra: str | None = None) -> DatasetNotFound:
    """The error for a split found in none of the places searched.

    The CLI message lists every folder searched and what it holds. The web app's wording
    (``public``) says which kind of place was searched instead: no server path, no listing.
    """
    explicit, source = _explicit_dir(data_dir)
    dirs = _search_dirs(name, data_dir)
    what = f"the {split} split of {DISPLAY_NAMES[name]}" if split else DISPLAY_NAMES[name]
    head = [
        f"Cannot find {what}.",
        f"Needed files (images + labels of a split, gzipped or not): {_needed_files()}.",
    ]
    fix = "Fix: put the files in a folder and set GENAI_DATA_DIR=/path/to/dir (or pass --data-dir)."
    package = DEBIAN_PACKAGES.get(name)

    lines = [*head, "Searched:", *(f"  - {d} ({_listing(d)})" for d in dirs)]
    if explicit is not None:
        lines.append(f"(The folder came from {source}.)")
    lines += [extra, fix] if extra else [fix]
    if package:
        lines.append(f"On Debian/Ubuntu: apt-get install {package} (installs them in {SYSTEM_DIRS[name][0]}).")

    if explicit is not None:
        place = f"the folder set by {source}"
    else:
        place = "the download cache" + (" and the system dataset folder" if SYSTEM_DIRS[name] else "")
    public_extra = extra if public_extra is None else public_extra
    public = [*head, f"Searched: {place} on the server."]
    public += [public_extra, fix] if public_extra else [fix]
    if package:
        public.append(f"On Debian/Ubuntu: apt-get install {package}.")
    return DatasetNotFound("\n".join(lines), public="\n".join(public))


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def identify(raw: bytes):
    """(dataset, split, "images" | "labels") of a known file's uncompressed bytes, or None."""
    return KNOWN_FILES.get(hashlib.md5(raw).hexdigest())


def _read_checked(path: pathlib.Path, name: str, split: str, kind: str) -> tuple[np.ndarray, bool]:
    """Read one file; refuse a known file that is not what it should be. Returns (array, verified)."""
    raw = read_raw(path)
    found = identify(raw)
    if found is not None and found != (name, split, kind):
        what_found = f"{DISPLAY_NAMES[found[0]]}'s {found[1]} {found[2]}"
        raise _file_error(
            path,
            f" holds {what_found} (recognised by its checksum), not {DISPLAY_NAMES[name]}'s {split} {kind}. "
            f"Point the data folder (GENAI_DATA_DIR or --data-dir) at the {DISPLAY_NAMES[name]} files, "
            f"or choose the dataset {found[0]!r}."
        )
    return parse_idx(raw, path), found is not None


def _load_split(directory: pathlib.Path, name: str, split: str):
    """Read and check one split: (N, 28, 28) uint8 images, N labels in 0..9, and whether both were verified."""
    images_path, labels_path = _split_files(directory, split)
    images, images_ok = _read_checked(images_path, name, split, "images")
    labels, labels_ok = _read_checked(labels_path, name, split, "labels")
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise _file_error(images_path, f": expected images of shape (N, 28, 28), found shape {images.shape}.")
    if labels.ndim != 1:
        raise _file_error(labels_path, f": expected one label per image, found shape {labels.shape}.")
    if len(images) != len(labels):
        raise _file_error(
            images_path,
            f" holds {len(images):,} images but {labels_path.name} holds {len(labels):,} "
            "labels: the two files do not belong together. Replace them with a matching pair."
        )
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise _file_error(labels_path, f": labels must be 0..9, found {int(labels.max())}.")
    return images, labels, images_ok and labels_ok


def _check_limit(limit) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DatasetError(f"The image limit must be a whole number of at least 1 (or None for all), not {limit!r}.")


def load_dataset(name="mnist", data_dir=None, split="train", download=True, limit=None) -> Dataset:
    """Load one split as one uint8 tensor of images and one int64 tensor of labels.

    ``split`` is "train" (what models learn from, the default) or "test" (what figures are
    measured against). ``limit`` keeps only the first ``limit`` images: a quick subset for tests
    and demos. Files are searched as described in this module's docstring; with ``download=True``
    missing files are fetched into the user cache. Known files are recognised by their checksum,
    so MNIST files under a Fashion-MNIST folder (same names) are refused, not silently used.
    """
    _check_name(name)
    _check_split(split)
    _check_limit(limit)

    explicit, _ = _explicit_dir(data_dir)
    directory = _first_with(_search_dirs(name, data_dir), split)

    if directory is None and explicit is not None:
        # The user pointed somewhere: say what is wrong there rather than quietly look elsewhere.
        raise _not_found(name, split, data_dir)

    if directory is None:
        if not download:
            raise _not_found(name, split, data_dir, "Download was turned off.")
        try:
            directory = download_dataset(name)
        except DatasetError as error:
            raise _not_found(
                name, split, data_dir, f"Downloading failed: {error}", f"Downloading failed: {error.public}"
            ) from error

    images, labels, verified = _load_split(directory, name, split)
    total = len(images)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return Dataset(
        name=name,
        images=torch.from_numpy(images),
        labels=torch.from_numpy(labels).long(),
        split=split,
        directory=directory.resolve(),
        class_names=CLASS_NAMES[name],
        total=total,
        verified=verified,
    )


def load_training_set(name="mnist", data_dir=None, download=True, limit=None) -> Dataset:
    """The split models learn from: the train split.

    A folder that holds only the test split can still be trained on: the dataset then says so
    in ``warning`` (and its ``split`` is "test", which the model's training record keeps), since
    figures measured on the test split would then be measured on images the model has seen.
    """
    try:
        return load_dataset(name, data_dir, "train", download, limit)
    except DatasetNotFound as missing:
        try:
            dataset = load_dataset(name, data_dir, "test", download=False, limit=limit)
        except DatasetError:
            raise missing from None
    warning = (
        f"No train split of {DISPLAY_NAMES[name]} was found, so this model learns from the TEST split "
        f"({len(dataset):,} images). Figures measured on the test split will then describe images it has "
        "seen; add the train-images/train-labels files for an honest evaluation."
    )
    return dataclasses.replace(dataset, warning=warning)


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------


def _md5(path: pathlib.Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, destination: pathlib.Path, filename: str, timeout: float) -> tuple[str, pathlib.Path]:
    """Stream ``url`` into a temp file next to ``filename``; return its MD5 and the temp path.

    The temp file is deleted on any failure (including Ctrl-C), so no half file is left behind.
    """
    digest = hashlib.md5()
    fd, tmp_name = tempfile.mkstemp(dir=destination, prefix=f".{filename}.", suffix=".part")
    tmp = pathlib.Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            expected_size = response.headers.get("Content-Length")
            received = 0
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
        if expected_size is not None and received != int(expected_size):
            raise OSError(f"connection closed after {received:,} of {int(expected_size):,} bytes")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), tmp


def download_dataset(name, destination=None, mirrors=None, timeout=30, progress=None) -> pathlib.Path:
    """Download the four .gz files of ``name`` into ``destination`` (default: the user cache).

    Each file is tried on every mirror in turn, streamed to a temp file, checked against its
    published MD5 and only then renamed to its final name: the folder never holds a half file.
    Files already there with the right MD5 are kept. ``progress`` gets one short line per file
    (default: print).
    """
    _check_name(name)
    destination = pathlib.Path(destination) if destination is not None else cache_dir(name)
    mirrors = tuple(mirrors) if mirrors is not None else MIRRORS[name]
    say = progress if progress is not None else (lambda line: print(line, flush=True))
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DatasetError(
            f"Cannot create {destination}: {reason}.", public=f"Cannot create the download folder: {reason}."
        ) from error

    for filename, expected_md5 in MD5[name].items():
        final = destination / filename
        if final.is_file() and _md5(final) == expected_md5:
            continue
        failures = []     # one line per mirror that failed
        bad_checksum = None
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + filename
            say(f"Downloading {url}")
            try:
                got_md5, tmp = _fetch(url, destination, filename, timeout)
            except (urllib.error.URLError, OSError, ValueError) as error:
                reason = getattr(error, "reason", None) or error
                # strerror, not str(): an OSError's text may hold a local path (the temp file)
                failures.append(f"{url}: {getattr(reason, 'strerror', None) or reason}")
                continue
            except Exception as error:  # e.g. http.client errors on a broken connection
                failures.append(f"{url}: {type(error).__name__}: {error}")
                continue
            if got_md5 != expected_md5:
                tmp.unlink(missing_ok=True)
                bad_checksum = got_md5
                failures.append(f"{url}: MD5 {got_md5}, expected {expected_md5}")
                continue
            os.replace(tmp, final)
            say(f"Saved {final}")
            break
        else:
            if bad_checksum is not None:
                raise DatasetError(
                    f"Checksum mismatch for {filename}: expected MD5 {expected_md5}, got {bad_checksum}. "
                    "Tried:\n  " + "\n  ".join(failures)
                )
            raise DatasetError(
                f"Could not download {filename} from any mirror:\n  " + "\n  ".join(failures)
            )
    return destination
