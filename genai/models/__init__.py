"""The model registry: (family, arch) -> model class (which knows its config class).

    model = create_model("gan", "dcgan", conditional=True)
    model = model_from_config({"family": "vae", "arch": "mlp", "config": {...}})
"""

import dataclasses
import threading

import torch

from .base import GenerativeModel, ModelConfig
from .gan import DCGAN, GAN, MLPGAN
from .vae import VAE, ConvVAE, MLPVAE

MODELS = {
    ("gan", "mlp"): MLPGAN,
    ("gan", "dcgan"): DCGAN,
    ("vae", "mlp"): MLPVAE,
    ("vae", "conv"): ConvVAE,
}
FAMILIES = ("gan", "vae")
ARCHS = {family: tuple(arch for f, arch in MODELS if f == family) for family in FAMILIES}


class ModelError(ValueError):
    """An unknown family/architecture or an invalid setting, explained for a human."""


def model_class(family, arch):
    if family not in ARCHS:
        raise ModelError(f"Unknown model family {family!r}: choose one of {', '.join(FAMILIES)}.")
    if (family, arch) not in MODELS:
        raise ModelError(
            f"Unknown {family.upper()} architecture {arch!r}: choose one of {', '.join(ARCHS[family])}."
        )
    return MODELS[(family, arch)]


def create_model(family, arch, seed=None, **options):
    """Build a fresh model; options are config fields (latent_dim, conditional, beta, ...).

    Options that are None are left at their defaults; unknown options raise ModelError.
    A seed makes the initial weights reproducible.
    """
    cls = model_class(family, arch)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ModelError(f"{cls.title} has no setting {', '.join(unknown)}; it has {', '.join(sorted(fields))}.")
    config = cls.Config(**{k: v for k, v in options.items() if v is not None})
    validate_config(config)
    return cls(config) if seed is None else build_seeded(seed, cls, config)


_INIT_LOCK = threading.Lock()


def build_seeded(seed, build, *args):
    """build(*args) with the initial weights fixed by seed.

    PyTorch's layers draw their initial weights from the global generator. Seeding it and
    building the model happen under one lock, so two runs starting at once in one process
    (two visitors of the web app) still get exactly the weights their seeds promise.
    """
    with _INIT_LOCK:
        torch.manual_seed(seed)
        return build(*args)


def validate_config(config):
    if not isinstance(config.latent_dim, int) or not 1 <= config.latent_dim <= 1024:
        raise ModelError(f"Latent dimension must be a whole number from 1 to 1024, not {config.latent_dim!r}.")
    beta = getattr(config, "beta", 1.0)
    if not (isinstance(beta, (int, float)) and 0 <= beta <= 1000):
        raise ModelError(f"beta must be a number from 0 to 1000, not {beta!r}.")
    channels = getattr(config, "channels", 32)
    if not isinstance(channels, int) or isinstance(channels, bool) or not 1 <= channels <= 256:
        raise ModelError(f"channels must be a whole number from 1 to 256, not {channels!r}.")
    decay = getattr(config, "ema_decay", 0.0)
    if not (isinstance(decay, (int, float)) and not isinstance(decay, bool) and 0 <= decay < 1):
        raise ModelError(f"ema_decay must be a number from 0 (off) to below 1, not {decay!r}.")


def model_from_config(metadata):
    """Rebuild an (untrained) model from the dict stored in a checkpoint's config.json."""
    cls = model_class(metadata.get("family"), metadata.get("arch"))
    return create_model(cls.family, cls.arch, **metadata.get("config", {}))


__all__ = [
    "ARCHS", "FAMILIES", "MODELS", "GAN", "VAE", "MLPGAN", "DCGAN", "MLPVAE", "ConvVAE",
    "GenerativeModel", "ModelConfig", "ModelError", "build_seeded", "create_model", "model_class", "model_from_config",
]
