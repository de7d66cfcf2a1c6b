"""The model registry: (family, arch) -> model class (which knows its config class).

    model = create_model("gan", "dcgan", conditional=True)
    model = model_from_config({"family": "vae", "arch": "mlp", "config": {...}})
"""

import dataclasses
import threading

import torch

from .autoregressive import GatedPixelCNN, RowLSTM
from .base import GenerativeModel, ModelConfig, ModelError
from .diffusion import FlowMatchingUNet
from .gan import DCGAN, GAN, MLPGAN
from ..settings import SettingsError
from .settings_check import check_config_fields, without_retired
from .vae import VAE, ConvVAE, MLPVAE

MODELS = {
    ("gan", "mlp"): MLPGAN,
    ("gan", "dcgan"): DCGAN,
    ("vae", "mlp"): MLPVAE,
    ("vae", "conv"): ConvVAE,
    ("diffusion", "unet"): FlowMatchingUNet,
    ("autoregressive", "pixelcnn"): GatedPixelCNN,
    ("autoregressive", "lstm"): RowLSTM,
}
FAMILIES = ("gan", "vae", "autoregressive", "diffusion")
ARCHS = {family: tuple(arch for f, arch in MODELS if f == family) for family in FAMILIES}


def model_class(family, arch):
    if not isinstance(family, str) or family not in ARCHS:
        raise ModelError(f"Unknown model family {family!r}: choose one of {', '.join(FAMILIES)}.")
    if not isinstance(arch, str) or (family, arch) not in MODELS:
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
    config = checked_config(cls, options)
    return cls(config) if seed is None else build_seeded(seed, cls, config)


def checked_config(cls, options):
    """cls.Config built from options, after checking every field's name, type and range."""
    try:
        options = without_retired(options)
        check_config_fields(cls.Config, options)
        config = cls.Config(**{k: v for k, v in options.items() if v is not None})
        validate_config(config)
    except SettingsError as error:
        message = str(error)
        starts_with_verb = message.startswith(("has no setting", "was made with"))
        raise ModelError(f"{cls.title} {message}" if starts_with_verb else message) from None
    return config


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
    """Check every field of a config (defaults included) against the settings table (genai/settings.py)."""
    for field in dataclasses.fields(config):
        check_config_fields(type(config), {field.name: getattr(config, field.name)})


def model_from_config(metadata):
    """Rebuild an (untrained) model from the dict stored in a checkpoint's config.json."""
    cls = model_class(metadata.get("family"), metadata.get("arch"))
    return create_model(cls.family, cls.arch, **config_of(metadata))


def config_of(metadata):
    config = metadata.get("config", {})
    if not isinstance(config, dict):
        raise ModelError(f"The model's config must be a mapping of settings, not {type(config).__name__}.")
    return config


def weight_shapes(metadata):
    """name -> shape of every tensor the model in metadata has, without allocating any weights.

    The model is built on PyTorch's "meta" device, where tensors have shapes but no memory:
    a way to compare a weights file with its config before building anything real.
    """
    cls = model_class(metadata.get("family"), metadata.get("arch"))
    config = checked_config(cls, config_of(metadata))
    with torch.device("meta"):
        model = cls(config)
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


__all__ = [
    "ARCHS", "FAMILIES", "MODELS", "GAN", "VAE", "MLPGAN", "DCGAN", "MLPVAE", "ConvVAE", "FlowMatchingUNet",
    "GatedPixelCNN", "RowLSTM",
    "GenerativeModel", "ModelConfig", "ModelError", "build_seeded", "create_model", "model_class",
    "model_from_config", "weight_shapes",
]
