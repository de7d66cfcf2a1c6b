"""Each family's recipe: the settings a run starts from, for the Train tab and the CLI alike.

The values themselves are declared with the settings (genai/settings.py: a setting's `default`,
or its `recipe` per family). This module puts them together for a family, and knows which
settings an architecture has (an MLP has no channels), which the settings table cannot: the
model registry does.

On a GPU these small models are bound by launching kernels, not by arithmetic, so a step of
1,024 images costs about what a step of 64 does. Where a larger batch was measured to reach
readable digits sooner (docs/benchmarks.md), the recipe on a CUDA device takes that batch, with
the learning rate grown by the square-root rule (speedups.scaled_lr), and any other change that
was measured to help at that batch.
"""

import dataclasses

import torch

from .models import ARCHS, FAMILIES, model_class
from .settings import SETTINGS, SettingsError, check_values, model_settings
from .speedups import scaled_lr

# What changes on a CUDA device: a larger batch (its learning rate by the square-root rule), and a
# discriminator learning at 3x G's rate, which reached readable digits in fewer steps at that batch
# (measured: see docs/benchmarks.md, "Steps to readable digits at larger batches, counted on a CPU").
GPU_RECIPES = {"gan": {"batch_size": 1024, "d_lr_ratio": 3.0}}


def recipe(family, device=None):
    """The settings a run of this family starts from (a copy: change it freely).

    device: where it will train; on a CUDA device a family in GPU_RECIPES gets those changes and
    the square-root learning rate for their batch."""
    options = {name: s.default_for(family) for name, s in SETTINGS.items() if s.default_for(family) is not None}
    options["family"] = family
    if device is not None and torch.device(device).type == "cuda" and family in GPU_RECIPES:
        changes = GPU_RECIPES[family]
        options.update(changes, lr=scaled_lr(options["lr"], changes["batch_size"], options["batch_size"]))
    return options


RECIPES = {family: recipe(family) for family in FAMILIES}  # each family's recipe on a CPU


def config_fields(family, arch):
    """The names of the settings an architecture's config has."""
    return {field.name for field in dataclasses.fields(model_class(family, arch).Config)}


def applies(name, family, arch):
    """Whether a setting means something for this architecture: run settings always do, model settings
    when the architecture's config has them."""
    return SETTINGS[name].scope == "run" or name in config_fields(family, arch)


def model_options(options, family=None, arch=None):
    """The entries of a recipe (or of options built from one) that go to create_model().

    With family and arch, only the settings that architecture has (an MLP has no channels).
    """
    chosen = {name: options[name] for name in model_settings() if name in options}
    if family is None:
        return chosen
    fields = config_fields(family, arch)
    return {name: value for name, value in chosen.items() if name in fields}


def form_defaults(family, arch=None, device=None):
    """A value for every setting this architecture has: the recipe's, else the model's own default
    (what a form shows: a GAN's D ratio of 1 although the recipe does not name it)."""
    options = recipe(family, device)
    arch = arch or options["arch"]
    config = model_class(family, arch).Config()
    own = {name: getattr(config, name) for name in config_fields(family, arch) if name in SETTINGS}
    return {**own, **options, "arch": arch}


def check_run_settings(values, name_of=None):
    """values checked as check_values does, and also: the family and architecture exist, and every
    model setting given is one the architecture has. Every problem is named at once."""
    name_of = name_of or (lambda setting: setting.name)
    problems = []
    try:
        checked = check_values(values, name_of)
    except SettingsError as error:
        problems.append(str(error))
        checked = {}
    family, arch = values.get("family"), values.get("arch")
    if family not in ARCHS:
        problems.append(f"{name_of(SETTINGS['family'])} must be one of {', '.join(FAMILIES)}, not {family!r}.")
    elif arch is not None and arch not in ARCHS[family]:
        problems.append(f"{name_of(SETTINGS['arch'])} {arch} is not a {family.upper()} architecture: "
                        f"choose {', '.join(ARCHS[family])}.")
    else:
        for name in values:
            if name in SETTINGS and not applies(name, family, arch or recipe(family)["arch"]):
                problems.append(f"{name_of(SETTINGS[name])} only applies to {models_with(name, name_of)}.")
    if problems:
        raise SettingsError(" ".join(problems))
    return checked


def models_with(name, name_of=None):
    """The models that have a setting, in words: "--model vae", "--model gan --arch dcgan or ..."."""
    name_of = name_of or (lambda setting: setting.name)
    family_word, arch_word = name_of(SETTINGS["family"]), name_of(SETTINGS["arch"])
    parts = []
    for family, archs in ARCHS.items():
        having = [arch for arch in archs if name in config_fields(family, arch)]
        if having == list(archs):
            parts.append(f"{family_word} {family}")
        elif having:
            parts += [f"{family_word} {family} {arch_word} {arch}" for arch in having]
    return " or ".join(parts)
