"""Which settings a model may have: every config field's type and range, in one table.

A config.json may come from anywhere (a folder someone sent, a model on the Hugging Face Hub),
so every field is checked before anything is built: a 1 KB config with `channels: 10**6` must
be refused in microseconds, not after allocating gigabytes.

    check_config_fields(DCGANConfig, {"latent_dim": 100, "channels": 32, ...})  # ModelError if wrong
"""

import dataclasses
import math

# field -> (kind, smallest, largest, what it means). Ranges are generous for teaching, but bounded.
# Kinds: "whole" (an int), "number" (int or float), "fraction" (a number from 0 up to, not including, 1),
# "yes/no" (true or false).
FIELD_RULES = {
    "latent_dim": ("whole", 1, 1024, "the size of the latent code"),
    "conditional": ("yes/no", None, None, "whether the model is told the digit"),
    "num_classes": ("whole", 2, 100, "the number of labels"),
    "label_embedding_dim": ("whole", 1, 256, "the size of the label's learned vector"),
    "channels": ("whole", 1, 256, "the width of the first conv layer"),
    "extra_layers": ("whole", 0, 8, "the extra layers (DCGAN: 3x3 convs per resolution; UNet: residual blocks at 7x7)"),
    "hidden_size": ("whole", 1, 1024, "the memory of each LSTM"),
    "layers": ("whole", 1, 30, "the number of layers"),
    "dilation_cycle": ("whole", 1, 4, "how many doublings of the dilation before it starts again at 1"),
    "beta": ("number", 0, 1000, "the weight of the KL term"),
    "prior_components": ("whole", 0, 256, "the Gaussians of the prior fitted after training; 0 is N(0, I)"),
    "learned_prior": ("yes/no", None, None, "whether training learns the mixture prior (else N(0, I))"),
    "ema_decay": ("fraction", 0, 1, "the decay of the generator's moving average; 0 is off"),
    "d_lr_ratio": ("number", 0.001, 100, "how much faster than the generator the discriminator learns"),
    "spectral_norm": ("yes/no", None, None, "whether the discriminator's layers are spectrally normalized"),
    "r1_gamma": ("number", 0, 1000, "the weight of the R1 penalty on the discriminator's steepness at real digits; 0 is off"),
    "pack": ("whole", 1, 16, "how many images the discriminator judges at once"),
    "categories": ("whole", 0, 100, "the categories an unconditional GAN finds without labels (InfoGAN); 0 is off"),
    "sampling_steps": ("whole", 1, 200, "the steps from noise to image"),
    "guidance_scale": ("number", 0, 20, "how strongly guidance (by the label, or by a guide UNet) steers sampling; 1 is none"),
    "guidance_t_min": ("number", 0, 1, "the t (1: noise, 0: digit) at and below which guidance stops"),
    "guidance_t_max": ("number", 0, 1, "the t (1: noise, 0: digit) above which guidance has not started"),
    "label_dropout": ("fraction", 0, 1, "the share of training images whose label is hidden"),
    "guide_channels": ("whole", 0, 256, "the width of the UNet that guides sampling (autoguidance); 0 is no guide"),
    "guide_extra_layers": ("whole", 0, 8, "the guide UNet's extra residual blocks at 7x7"),
}


class ConfigFieldError(ValueError):
    """A config field of the wrong type or out of range (models/__init__ turns it into ModelError)."""


def check_value(name, value):
    """Raise ConfigFieldError unless value has the type and range FIELD_RULES gives for name."""
    kind, low, high, meaning = FIELD_RULES[name]
    if kind == "yes/no":
        if not isinstance(value, bool):
            raise ConfigFieldError(f"{name} must be true or false ({meaning}), not {value!r}.")
        return
    whole = isinstance(value, int) and not isinstance(value, bool)
    number = whole or (isinstance(value, float) and math.isfinite(value))
    if kind == "whole":
        ok, wanted = whole and low <= value <= high, f"a whole number from {low} to {high}"
    elif kind == "fraction":
        ok, wanted = number and low <= value < high, f"a number from {low} to below {high}"
    else:
        ok, wanted = number and low <= value <= high, f"a number from {low} to {high}"
    if not ok:
        raise ConfigFieldError(f"{name} must be {wanted} ({meaning}), not {value!r}.")


def check_config_fields(config_class, values):
    """Check a dict of config fields against config_class: known names, right types, in range."""
    if not isinstance(values, dict):
        raise ConfigFieldError(f"The model's config must be a mapping of settings, not {type(values).__name__}.")
    fields = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(str(name) for name in set(values) - fields)
    if unknown:
        raise ConfigFieldError(f"has no setting {', '.join(unknown[:5])}; it has {', '.join(sorted(fields))}.")
    for name, value in values.items():
        if value is not None:
            check_value(name, value)
