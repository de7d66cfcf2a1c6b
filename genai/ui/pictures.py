"""Pictures in and out of the app: uploaded images become MNIST-style 28x28 digits.

MNIST digits are white ink on a black background, scaled to fit a 20x20 box and
centred in a 28x28 frame. An uploaded photo or drawing is brought to the same form,
so a VAE can encode it like one of its training images.
"""

import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import AppError

IMAGE_SIZE = 28
INK_BOX = 20  # MNIST fits each digit into 20x20 pixels, centred in 28x28
MAX_SIDE = 4096  # larger uploads are refused from their header, before a single pixel is decoded
WORKING_SIDE = 512  # pictures are shrunk to this before any float copy: plenty for a 28x28 digit


def read_upload(source, name=None):
    """Open an uploaded file (a path, or a binary file object) with Pillow, or say clearly that it is not an image.

    The size is read from the file's header first: a 20 KB PNG may declare 13000x13000 pixels
    (2.3 GB once decoded), so anything above MAX_SIDE is refused undecoded. JPEGs are decoded
    at a reduced scale (draft); every picture is then shrunk to at most WORKING_SIDE pixels.
    name: what messages call the picture (default: the file's name, never its folder).
    """
    name = name or Path(source).name
    try:
        with Image.open(source) as picture:
            width, height = picture.size
            if width > MAX_SIDE or height > MAX_SIDE:
                raise AppError(f"{name} is {width}x{height} pixels; pictures up to {MAX_SIDE}x{MAX_SIDE} are accepted. "
                               "Upload a smaller picture of one handwritten digit.")
            picture.draft("RGB", (WORKING_SIDE, WORKING_SIDE))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            picture.load()
            picture = ImageOps.exif_transpose(picture)
            picture.thumbnail((WORKING_SIDE, WORKING_SIDE))
            return picture.copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise AppError(
            f"{name} is not an image that can be read. Upload a PNG or JPEG picture of one handwritten digit."
        ) from None


def digit_from_upload(path):
    """An uploaded image file -> uint8 array (28, 28), white digit on black, like MNIST."""
    return digit_from_picture(read_upload(path), Path(path).name)


def digit_from_picture(picture, name="The picture"):
    """A PIL picture of one digit (ink on paper, or a drawing) -> uint8 (28, 28) white on black, like MNIST.

    Refuses, with a message saying what to do, a picture with no ink, a digit drawn tiny, or
    scribbles (many separate marks, or a page mostly covered in ink).
    """
    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        background = Image.new("RGBA", picture.size, (255, 255, 255, 255))  # transparent -> white paper
        picture = Image.alpha_composite(background, picture.convert("RGBA"))
    gray = np.asarray(picture.convert("L"), dtype=np.float32)
    if edge_pixels(gray).mean() > 127:  # a light background (ink on paper): invert to MNIST's white-on-black
        gray = 255 - gray
    gray = np.clip(gray - np.median(edge_pixels(gray)), 0, None)  # make the background exactly black
    if gray.max() < 20:
        raise AppError(f"{name} looks empty: no digit stands out from the background. Draw or upload one digit.")
    check_one_digit(gray > 0.25 * gray.max(), name)
    return fit_ink(gray / gray.max() * 255)


def check_one_digit(ink, name):
    """Refuse a picture whose ink (a boolean mask) is too small, too much, or in too many pieces to be one digit."""
    rows, cols = np.nonzero(ink)
    height, width = ink.shape
    across = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    if across < max(height, width) / 10 or len(rows) < 12:
        raise AppError(f"{name}: the digit is tiny ({across} of {max(height, width)} pixels across). Draw it bigger, "
                       "filling most of the space.")
    if ink.mean() > 0.5:
        raise AppError(f"{name} is mostly ink ({100 * ink.mean():.0f}% of it): draw one digit with thin strokes "
                       "on an empty background.")
    marks = separate_marks(ink)
    if marks > 4:
        raise AppError(f"{name} has {marks} separate marks: a digit is one or two strokes. Clear it and draw one digit.")


def separate_marks(ink, side=32):
    """How many separate blobs of ink there are (8-connected), counting those with at least 2% of the ink,
    on a copy shrunk to at most side x side (specks of noise and tiny gaps do not count)."""
    step = max(1, -(-max(ink.shape) // side))
    height, width = -(-ink.shape[0] // step) * step, -(-ink.shape[1] // step) * step
    padded = np.zeros((height, width), dtype=bool)
    padded[:ink.shape[0], :ink.shape[1]] = ink
    small = padded.reshape(height // step, step, width // step, step).any(axis=(1, 3))  # a block with any ink
    total, blobs = small.sum(), 0
    for start in zip(*np.nonzero(small)):
        if not small[start]:
            continue
        size, stack = 0, [start]
        small[start] = False
        while stack:
            r, c = stack.pop()
            size += 1
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    nr, nc = r + dr, c + dc
                    if 0 <= nr < small.shape[0] and 0 <= nc < small.shape[1] and small[nr, nc]:
                        small[nr, nc] = False
                        stack.append((nr, nc))
        blobs += size >= 0.02 * total
    return int(blobs)


def edge_pixels(gray):
    """The outermost rows and columns: what the background looks like."""
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def fit_ink(gray):
    """Crop to the ink, scale it into a 20x20 box keeping its shape, and place it in 28x28 with its centre of
    mass at the centre: how the MNIST digits were made (LeCun et al.)."""
    rows, cols = np.nonzero(gray > 0.25 * gray.max())
    cropped = gray[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = cropped.shape
    scale = INK_BOX / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    ink = np.asarray(Image.fromarray(cropped.astype(np.uint8)).resize(new_size, Image.LANCZOS), dtype=np.float32)
    ink = np.clip(ink, 0, None)
    weights = ink / max(ink.sum(), 1e-6)
    centre_row = (weights.sum(axis=1) * np.arange(ink.shape[0])).sum()
    centre_col = (weights.sum(axis=0) * np.arange(ink.shape[1])).sum()
    top = int(np.clip(round(13.5 - centre_row), 0, IMAGE_SIZE - ink.shape[0]))
    left = int(np.clip(round(13.5 - centre_col), 0, IMAGE_SIZE - ink.shape[1]))
    frame = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    frame[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    return np.round(frame * (255 / max(frame.max(), 1))).astype(np.uint8)  # strokes as bright as MNIST's


def enlarge(image, scale):
    """A uint8 array or PIL image, scaled up with sharp pixels (for display and download)."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)


def png_file(image, folder):
    """image (PIL) as a PNG file in folder, named by its content, written once; returns the path as str.

    Thirty visitors asking for the same grid get the same file: it is encoded once and never
    rewritten while it may be read (Gradio rewrites a PIL result's file on every request, which
    a concurrent download of that same file can catch half-written). Written under a temporary
    name, then renamed into place.
    """
    digest = hashlib.sha1(f"{image.mode}{image.size}".encode() + image.tobytes()).hexdigest()[:32]
    # zlib's fastest level: a new grid is encoded on every slider move, and the faster level costs a few KB more
    # (docs/benchmarks.md, "Where a /sample call's time goes").
    return write_once(Path(folder) / f"{digest}.png", lambda file: image.save(file, format="PNG", compress_level=1))


def gif_file(data, folder):
    """GIF bytes as a file in folder, named by their content and written once (as png_file); returns str."""
    digest = hashlib.sha1(data).hexdigest()[:32]
    return write_once(Path(folder) / f"{digest}.gif", lambda file: file.write(data))


def write_once(path, write):
    """Call write(file) to create path (through a temporary name, then a rename), unless it exists."""
    if path.exists():
        os.utime(path)  # recently used: not removed by remove_old_files for a while
        return str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return str(path)


def remove_old_files(folder, max_age_seconds, recursive=False, newer_than=None):
    """Delete files in folder (and its subfolders, if recursive) not used for max_age_seconds
    (and, if newer_than is given, written at or after that time.time(): older ones are left alone)."""
    cutoff = time.time() - max_age_seconds
    for path in Path(folder).glob("**/*" if recursive else "*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff and (
                    newer_than is None or path.stat().st_mtime >= newer_than):
                path.unlink()
        except OSError:
            pass
