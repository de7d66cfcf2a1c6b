"""Turning seeds into digits: seeded noise, image grids, and walks through latent space.

Seeds mean something: the noise for seed s is drawn on the CPU from
torch.Generator().manual_seed(s) and only then moved to the model's device, so
seed 42 gives the same digit on a CPU, a GPU, and after a restart. Asking for
more images keeps the first ones: the noise of a grid of 16 starts with the
noise of a grid of 4.
"""

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .images import to_uint8, to_unit
from .models.settings_check import check_value
from .settings import SettingsError

MAX_SEED = 2**32 - 1
MAX_IMAGES = 1024
# Settings a model may take when it draws (a model's sampling_options are some of them): /sample's last two.
SAMPLING_SETTINGS = ("sampling_steps", "guidance_scale")


class SamplingError(ValueError):
    """A bad seed, count, label or interpolation setting, explained for a human."""


def check_seed(seed):
    if isinstance(seed, float) and seed.is_integer():
        seed = int(seed)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise SamplingError(f"The seed must be a whole number from 0 to {MAX_SEED:,}, not {seed!r}.")
    return int(seed)


def check_temperature(temperature):
    if not 0 < float(temperature) <= 10:
        raise SamplingError(f"The temperature (noise scale) must be above 0 and at most 10, not {temperature!r}.")


def latent_noise(seed, n, latent_dim, temperature=1.0):
    """n latent vectors z ~ N(0, temperature^2 I) for a seed, as a CPU tensor (n, latent_dim)."""
    seed = check_seed(seed)
    if not 1 <= int(n) <= MAX_IMAGES:
        raise SamplingError(f"The number of images must be from 1 to {MAX_IMAGES}, not {n!r}.")
    check_temperature(temperature)
    generator = torch.Generator().manual_seed(seed)
    # One row per image: a single randn(n, latent_dim) draws differently for different n
    # (PyTorch's CPU sampler works in blocks of 16 numbers), which would break the promise
    # that a bigger grid starts with the same digits.
    rows = [torch.randn(latent_dim, generator=generator) for _ in range(int(n))]
    return torch.stack(rows) * float(temperature)


def seeded_latents(model, seed, n, temperature=1.0):
    """The codes a model decodes for a seed: its latents_from_noise() of latent_noise(seed, n), on the CPU.

    For most models this is latent_noise(seed, n, latent_dim, temperature) itself; a VAE with a
    fitted mixture prior turns the same noise into codes drawn from that mixture.
    """
    check_temperature(temperature)
    noise = latent_noise(seed, n, model.latent_dim)
    with torch.no_grad():
        return model.latents_from_noise(noise, float(temperature)).cpu()


def model_device(model):
    return next(model.parameters()).device


def label_tensor(model, labels, n):
    """Labels for n images: None for unconditional models; one digit or one per image otherwise.

    A conditional model given no labels draws the digits 0, 1, ..., 9, 0, 1, ...
    """
    if not model.conditional:
        return None
    if labels is None:
        return torch.arange(n) % model.config.num_classes
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    if labels.numel() == 1:
        labels = labels.expand(n)
    if labels.numel() != n or labels.min() < 0 or labels.max() >= model.config.num_classes:
        raise SamplingError(f"Give one digit from 0 to {model.config.num_classes - 1} (or one per image).")
    return labels


def sampling_options(model, **given):
    """The given sampling settings the model has (e.g. a diffusion model's sampling_steps), checked.

    Others are left out (a GAN has no sampling steps), and so are None values (the model's own setting).
    """
    chosen = {name: value for name, value in given.items() if name in model.sampling_options and value is not None}
    for name, value in chosen.items():
        try:
            check_value(name, value)
        except SettingsError as error:
            raise SamplingError(str(error)) from None
    return chosen


@torch.no_grad()
def decode(model, z, labels=None, options=None):
    """Latent codes (CPU or device tensor) -> uint8 array (N, 28, 28), white on black."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    labels = None if labels is None else labels.to(device)
    images = model.generate(z.to(device=device, dtype=torch.float32), labels, **(options or {}))
    model.train(was_training)
    return to_uint8(images)


@torch.no_grad()
def decode_in_parts(model, z, labels=None, options=None):
    """decode(), yielding the uint8 images drawn so far while the model draws (model.generate_in_parts): once
    for a model that draws in one pass, after each row for one that draws pixel by pixel. The last is
    decode()'s images."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    labels = None if labels is None else labels.to(device)
    try:
        for images in model.generate_in_parts(z.to(device=device, dtype=torch.float32), labels, **(options or {})):
            yield to_uint8(images)
    finally:
        model.train(was_training)


def sample(model, seed, n=16, labels=None, temperature=1.0, **options):
    """n images from the model for a seed: uint8 array (n, 28, 28). options: see sampling_options()."""
    z = seeded_latents(model, seed, n, temperature)
    return decode(model, z, label_tensor(model, labels, n), sampling_options(model, **options))


@torch.no_grad()
def drawing(model, seed, n=16, labels=None, temperature=1.0, frames=16, **options):
    """How the model draws sample()'s images: uint8 (F, n, 28, 28), from the first moment to the last.

    The last frame is exactly sample(model, seed, n, labels, temperature, **options). A model
    that draws in one pass (a GAN, a VAE) gives F = 1.
    """
    if not 2 <= int(frames) <= 64:
        raise SamplingError(f"The number of frames must be from 2 to 64, not {frames!r}.")
    z = seeded_latents(model, seed, n, temperature)
    labels = label_tensor(model, labels, n)
    device = model_device(model)
    was_training = model.training
    model.eval()
    snapshots = model.drawing_frames(z.to(device), None if labels is None else labels.to(device), int(frames),
                                     **sampling_options(model, **options))
    model.train(was_training)
    return np.stack([to_uint8(frame) for frame in snapshots])


@torch.no_grad()
def encode(model, images, labels=None, batch_size=500):
    """The codes a model with an encoder maps images to (uint8 (N, 28, 28) or float): CPU tensor (N, latent_dim).

    These are the starting points of a walk from real images. Models without an encoder (GANs)
    raise SamplingError saying so.
    """
    check_encoder(model)
    device = model_device(model)
    images = to_unit(images)
    labels = label_tensor(model, labels, len(images)) if labels is not None or model.conditional else None
    was_training = model.training
    model.eval()
    codes = []
    for start in range(0, len(images), batch_size):
        y = None if labels is None else labels[start:start + batch_size].to(device)
        codes.append(model.encode_mean(images[start:start + batch_size].to(device), y).cpu())
    model.train(was_training)
    return torch.cat(codes)


@torch.no_grad()
def reconstruct(model, images, labels=None, batch_size=500):
    """What a model with an encoder redraws from images (decoding their codes): uint8 (N, 28, 28)."""
    codes = encode(model, images, labels, batch_size)
    labels = label_tensor(model, labels, len(codes)) if labels is not None or model.conditional else None
    return decode(model, codes, labels)


def check_encoder(model):
    if not model.can_encode:
        raise SamplingError(
            f"A {model.title} has no encoder: it turns noise into images, but cannot turn an image back into a code. "
            "Reconstructions and walks from real images need a model with an encoder (a VAE)."
        )


def grid(images, columns=None, padding=2, scale=1):
    """uint8 images (N, 28, 28) -> one PIL grayscale image, close to square by default."""
    images = np.asarray(images, dtype=np.uint8)
    n, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    canvas = np.zeros((rows * (h + padding) + padding, columns * (w + padding) + padding), dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + c * (w + padding)
        canvas[y:y + h, x:x + w] = image
    picture = Image.fromarray(canvas)
    if scale != 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return picture


def lerp(a, b, t):
    """Straight line: (1 - t) * a + t * b."""
    return (1 - t) * a + t * b


def slerp(a, b, t, eps=1e-7):
    """Spherical interpolation: walks along the great circle between a and b.

    Gaussian noise in many dimensions lies near a sphere; a straight line between
    two such points cuts through the low-probability middle (smaller norm), slerp
    stays on the shell. With angle omega between a and b:
        slerp(a, b, t) = sin((1 - t) omega) / sin(omega) * a + sin(t omega) / sin(omega) * b
    Falls back to lerp when a and b are (almost) parallel.
    """
    a_unit = a / a.norm(dim=-1, keepdim=True).clamp_min(eps)
    b_unit = b / b.norm(dim=-1, keepdim=True).clamp_min(eps)
    cos_omega = (a_unit * b_unit).sum(-1, keepdim=True).clamp(-1, 1)
    omega = torch.acos(cos_omega)
    sin_omega = torch.sin(omega)
    if float(sin_omega.abs().min()) < 1e-4:
        return lerp(a, b, t)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin_omega


INTERPOLATIONS = {"lerp": lerp, "slerp": slerp}


def interpolate_latents(z_a, z_b, steps, method="slerp"):
    """K codes from z_a to z_b (both endpoints included): tensor (K, latent_dim)."""
    if method not in INTERPOLATIONS:
        raise SamplingError(f"Unknown interpolation {method!r}: choose lerp or slerp.")
    if not 2 <= int(steps) <= 256:
        raise SamplingError(f"Steps must be from 2 to 256, not {steps!r}.")
    z_a, z_b = z_a.reshape(1, -1).float(), z_b.reshape(1, -1).float()
    t = torch.linspace(0, 1, int(steps)).unsqueeze(1)
    codes = INTERPOLATIONS[method](z_a, z_b, t)
    codes[0], codes[-1] = z_a[0], z_b[0]  # exact endpoints, free of rounding
    return codes


def interpolate(model, seed_a, seed_b, steps=8, method="slerp", label=None, temperature=1.0, label_b=None):
    """Frames walking from the digit of seed_a to the digit of seed_b: uint8 (steps, 28, 28).

    The endpoints are exactly sample(model, seed_a, 1) and sample(model, seed_b, 1).
    For a conditional model, label fixes the digit (default 0) while the style changes; with
    label_b, the digit morphs from label to label_b along the way too (the same seed twice: only
    the digit changes, the style stays).
    """
    z_a = seeded_latents(model, seed_a, 1, temperature)
    z_b = seeded_latents(model, seed_b, 1, temperature)
    return decode_path(model, interpolate_latents(z_a, z_b, steps, method), label, label_b)


def decode_path(model, codes, label=None, label_b=None):
    """Decode a walk of codes; a conditional model draws label, or morphs from label to label_b."""
    if not model.conditional:
        return decode(model, codes)
    labels = label_tensor(model, 0 if label is None else label, len(codes))
    if label_b is not None and label_b != label:
        labels = label_mix(model, labels[0], label_tensor(model, label_b, 1)[0], len(codes))
    return decode(model, codes, labels)


def label_mix(model, label_a, label_b, steps):
    """Weights (steps, num_classes) going from the digit label_a (one-hot) to label_b in equal steps."""
    eye = torch.eye(model.config.num_classes)
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    return (1 - t) * eye[label_a] + t * eye[label_b]


def strip(images, padding=2, scale=1):
    """Frames side by side in one row."""
    return grid(images, columns=len(images), padding=padding, scale=scale)


def gif_bytes(images, scale=4, duration_ms=120, bounce=True, hold_last_ms=None):
    """An animated GIF (bytes) of the frames (uint8, each H x W); bounce=True plays forward then back, looping.

    hold_last_ms: show the last frame this long (e.g. the finished digits), then loop.
    Every grey level is kept exactly. Pillow's palette optimization is off: for a walk's frames it
    made the file larger and the encoding several times slower, and encoding the GIF is most of what
    a cached walk costs the server (measured: see docs/benchmarks.md, "Sampling latency").
    """
    frames = list(np.asarray(images, dtype=np.uint8))
    if bounce and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    pictures = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in frames]
    durations = [duration_ms] * len(pictures)
    if hold_last_ms:
        durations[-1] = hold_last_ms
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0,
                     optimize=False)
    return buffer.getvalue()


def save_images(images, path, kind="grid", columns=None):
    """Write frames to path by its extension: .png (grid or strip), .gif (animation), .npy (uint8 array)."""
    path = Path(path)
    suffix = path.suffix.lower()
    images = np.asarray(images, dtype=np.uint8)
    if suffix == ".npy":
        np.save(path, images)
    elif suffix == ".png":
        picture = strip(images) if kind == "strip" else grid(images, columns)
        picture.save(path)
    elif suffix == ".gif":
        path.write_bytes(gif_bytes(images))
    else:
        raise SamplingError(f"Cannot write {path.name}: the output must end in .png, .gif or .npy.")
    return path
