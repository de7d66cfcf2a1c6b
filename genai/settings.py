"""Every setting a user can set, declared once.

A setting decides what a model learns or how its run trains: the family and architecture, the
sizes of the networks, the learning rate, the seed, how long to train. Each is declared below,
once, with its type and range, its default (or one per family: the family's recipe), one line of
help, whether a teacher may turn it while the run goes on, and whether a resumed run keeps it.
Everything else is derived from this table:

- the `train` command's flags and their --help (genai/__main__.py);
- the one check of a value from anywhere: the command line, the web form, an API client, a
  config.json someone sent (check_values, and genai/models/settings_check.py for config files);
- the Train tab's form and its live-knob panel (genai/ui/train_form.py);
- what `train --resume` refuses to change;
- the CLI reference, docs/cli.md (python -m genai.cli_reference writes it).

Adding a setting is one Setting(...) in SETTINGS plus the model code that reads it.

    check_values({"batch_size": "64", "lr": 0.001})  # -> {"batch_size": 64, "lr": 0.001}
    check_values({"batch_size": 1, "lr": None})      # SettingsError naming both
"""

import math
from dataclasses import dataclass, field

SHOWN_CHARS = 40  # a message quotes at most this much of a bad value: never a whole 10 MB string


class SettingsError(ValueError):
    """One or more settings of the wrong type or out of range, each named, with what is wanted."""


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # "whole" (an int), "number" (int or float), "yes/no" (a bool) or "choice" (one name of a list)
    help: str  # one line: what it means
    low: float | None = None
    high: float | None = None
    low_included: bool = True  # False: the value must be above `low` (a learning rate of 0 learns nothing)
    high_included: bool = True  # False: below `high` (a moving average's decay of 1 never moves)
    default: object = None  # the same for every family (None: the model's own default) ...
    recipe: dict = field(default_factory=dict)  # ... unless its family's recipe says otherwise: family -> value
    choices: tuple = ()  # kind "choice": the values allowed; empty when the model registry knows them
    scope: str = "model"  # "model": a field of the model's config, saved in config.json; "run": how it trains
    empty_means: str = ""  # set for a setting that may be left empty: what empty means ("no step limit")
    live: bool = False  # a teacher may turn it while the run goes on (genai/knobs.py)
    fixed_on_resume: bool = True  # a resumed run goes on with its saved value; giving another is refused
    flag: str | None = None  # the command-line flag (None: --name-with-dashes; "": not on the command line)
    label: str = ""  # the Train tab's label for it ("": not on the form)

    @property
    def cli_flag(self):
        return ("--" + self.name.replace("_", "-")) if self.flag is None else self.flag

    def default_for(self, family):
        """The value a run of this family starts from: the family's recipe, else the default."""
        return self.recipe.get(family, self.default)

    def wanted(self):
        """What a good value is, in words: "a whole number from 2 to 4096"."""
        if self.kind == "yes/no":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices) if self.choices else "a name"
        what = "a whole number" if self.kind == "whole" else "a number"
        low = f"from {number_text(self.low)}" if self.low_included else f"above {number_text(self.low)}"
        high = f"to {number_text(self.high)}" if self.high_included else f"to below {number_text(self.high)}"
        if not self.high_included and not self.low_included:
            high = f"and below {number_text(self.high)}"
        elif self.high_included and not self.low_included:
            high = f"and at most {number_text(self.high)}"
        return f"{what} {low} {high}"

    def parse(self, value, strict=False):
        """value (text from a command line, a float from a web form, or already the right type) as this
        setting's type, or SettingsError saying what is wanted. Empty (None or "") stays None where allowed.
        strict: only a value of the right type will do (a whole number as an int), as from code or a file."""
        if value is None or (isinstance(value, str) and not value.strip()):
            if self.empty_means:
                return None
            raise SettingsError(f"is empty: give {self.wanted()}")
        if self.kind == "yes/no":
            if isinstance(value, bool):
                return value
            raise SettingsError(f"must be {self.wanted()}, not {shown(value)}")
        if self.kind == "choice":
            if isinstance(value, str) and (not self.choices or value in self.choices) and len(value) <= SHOWN_CHARS:
                return value
            raise SettingsError(f"must be {self.wanted()}, not {shown(value)}")
        wrong_type = strict and (isinstance(value, bool) or not isinstance(value, int if self.kind == "whole" else (int, float)))
        number = None if wrong_type else as_number(value, whole=self.kind == "whole")
        in_range = number is not None and (number >= self.low if self.low_included else number > self.low) and (
            number <= self.high if self.high_included else number < self.high)
        if not in_range:
            raise SettingsError(f"must be {self.wanted()}, not {shown(value)}")
        return number


def as_number(value, whole):
    """value as an int (whole) or a finite float, or None: "64" and 64.0 are 64, "2.5" is not whole, True is
    no number, NaN and infinity are no number either."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if len(value) > SHOWN_CHARS:  # no number is written with that many characters
            return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number):
        return None
    if whole:
        if isinstance(value, int):
            return value
        return int(number) if number.is_integer() else None
    return number


def number_text(number):
    """4096 -> "4,096", 0.001 -> "0.001", 4294967295 -> "4,294,967,295" (never "4.29497e+09")."""
    return f"{int(number):,}" if float(number).is_integer() else f"{number:g}"


def value_text(value):
    """A setting's value as a reader writes it: true, 4,096, 0.001, mnist; None is "empty"."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    return number_text(value) if isinstance(value, (int, float)) else str(value)


def shown(value):
    """A short, safe quote of a value for a message: repr, cut at SHOWN_CHARS characters."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "...' (cut)"


def _whole(name, help, low, high, **more):
    return Setting(name, "whole", help, low, high, **more)


def _number(name, help, low, high, **more):
    return Setting(name, "number", help, low, high, **more)


# Each family's recipe is picked so that a 2-core CPU draws readable digits within the first minute or
# two (benchmarks/time_to_quality.py; docs/benchmarks.md). A run's budget is seconds, not epochs: "train
# for a minute" means the same on every machine.
SETTINGS = {s.name: s for s in [
    # The Train tab's form, and its /train API endpoint, take the settings that have a label in this order.
    Setting("dataset", "choice", "the dataset to learn from (its train split)", choices=("mnist", "fashion-mnist"),
            default="mnist", scope="run", label="Dataset"),
    _whole("limit", "learn from the first N training images only (a quick subset)", 1, 10**9, scope="run",
           empty_means="the whole train split"),
    Setting("family", "choice", "the model family", default="gan", scope="run", flag="--model", label="Model family"),
    Setting("arch", "choice", "the architecture", scope="run", label="Architecture",
            recipe={"gan": "dcgan", "vae": "mlp", "autoregressive": "pixelcnn", "diffusion": "unet"}),
    Setting("conditional", "yes/no", "let the model be told which digit to draw", default=True,
            label="Conditional: also tell the model which digit to draw"),
    _whole("latent_dim", "the size of the latent code z", 1, 1024, label="Latent size",
           recipe={"gan": 100, "vae": 16, "autoregressive": 784, "diffusion": 784}),
    _number("seconds", "stop after this many seconds", 0, 10**6, low_included=False, scope="run",
            flag="--time-limit", fixed_on_resume=False, label="Train for (seconds)",
            recipe={"gan": 60, "vae": 20, "autoregressive": 120, "diffusion": 180}),
    _whole("batch_size", "images per training step", 2, 4096, default=64, scope="run", label="Batch size"),
    _number("lr", "the learning rate", 0, 1, low_included=False, scope="run", live=True, label="Learning rate",
            recipe={"gan": 1e-3, "vae": 2e-3, "autoregressive": 1e-3, "diffusion": 1e-3}),
    _whole("channels", "the width of the first conv layer", 1, 256,
           recipe={"gan": 32, "autoregressive": 32, "diffusion": 16}),
    _whole("extra_layers", "more layers: a DCGAN's 3x3 convs at 7x7 and 14x14, a UNet's residual blocks at 7x7",
           0, 8),
    _whole("layers", "the number of gated layers after the first", 1, 30, recipe={"autoregressive": 6}),
    _whole("hidden_size", "the memory of each LSTM", 1, 1024),
    _number("beta", "the weight of the KL term (1 = the true ELBO; more: smoother codes, blurrier digits)", 0, 1000,
            recipe={"vae": 3.0}, live=True, label="β (weight of the KL term)"),
    _whole("seed", "fixes the initial weights, the batch order and the training noise", 0, 2**32 - 1, default=0,
           scope="run", label="Seed"),
    _whole("max_steps", "stop after this many steps", 1, 10**9, scope="run", fixed_on_resume=False,
           empty_means="no step limit", label="Max steps"),
    _whole("epochs", "stop after this many passes over the data", 1, 10**6, scope="run", fixed_on_resume=False,
           empty_means="no epoch limit"),
    _number("d_lr_ratio", "the discriminator learns at this many times the learning rate (1: as fast as G)",
            0.001, 100, live=True, label="D learns at this many times the learning rate"),
    _whole("prior_components", "after training, sample z from this many Gaussians fitted to the training codes "
           "(0: from N(0, I))", 0, 256),
    Setting("learned_prior", "yes/no", "train with the mixture of prior_components Gaussians, learned with the "
            "networks, as the KL term's prior instead of N(0, I)"),
    _number("ema_decay", "sample from a moving average of the weights with this decay (0: off)", 0, 1,
            high_included=False, recipe={"gan": 0.999, "diffusion": 0.999}),
    _number("r1_gamma", "penalize D's gradient at real digits, gamma/2 ||grad D(x)||^2 (R1; 0: off)", 0, 1000),
    _whole("categories", "an unconditional GAN's noise also picks one of this many categories, which D's head "
           "must read back (InfoGAN; 0: off)", 0, 100),
    # --- model settings a config.json may hold, chosen by the model code or by other commands -------------------
    _whole("num_classes", "the number of labels", 2, 100, flag=""),
    _whole("label_embedding_dim", "the size of the label's learned vector", 1, 256, flag=""),
    _whole("dilation_cycle", "how many doublings of the dilation before it starts again at 1", 1, 4, flag=""),
    _whole("sampling_steps", "the steps from noise to image", 1, 200, flag=""),
    _number("guidance_scale", "how strongly guidance (by the label, or by a guide UNet) steers sampling; 1 is none",
            0, 20, flag=""),
    _number("guidance_t_min", "the t (1: noise, 0: digit) at and below which guidance stops", 0, 1, flag=""),
    _number("guidance_t_max", "the t (1: noise, 0: digit) above which guidance has not started", 0, 1, flag=""),
    _number("label_dropout", "the share of training images whose label is hidden", 0, 1, high_included=False,
            flag=""),
    _whole("guide_channels", "the width of the UNet that guides sampling (autoguidance); 0 is no guide", 0, 256,
           flag=""),
    _whole("guide_extra_layers", "the guide UNet's extra residual blocks at 7x7", 0, 8, flag=""),
]}

# Settings genai no longer offers, and the value that meant "off": a config.json written before they went
# still loads when it holds that value (the setting is dropped), and is refused, saying why, otherwise.
RETIRED = {"pack": 1, "spectral_norm": False}


def declare(setting):
    """Add a setting to the table (tests use it to check that a new setting reaches every place)."""
    SETTINGS[setting.name] = setting
    return setting


def model_settings():
    """The names of the settings that are fields of a model's config."""
    return [name for name, s in SETTINGS.items() if s.scope == "model"]


def check_values(values, name_of=None, strict=False):
    """values ({name: value}) parsed and checked, every bad one named at once in one SettingsError.

    name_of(setting) names a setting in the message: its flag on the command line, its label in the app.
    strict: each value must already have its setting's type (see Setting.parse).
    """
    name_of = name_of or (lambda setting: setting.name)
    checked, problems = {}, []
    for name, value in values.items():
        setting = SETTINGS.get(name)
        if setting is None:
            problems.append(f"{shown(name)} is no setting")
            continue
        try:
            checked[name] = setting.parse(value, strict)
        except SettingsError as error:
            problems.append(f"{name_of(setting)} {error}")
    if problems:
        raise SettingsError(sentences(problems))
    return checked


def sentences(problems):
    """["--a must be 1", "--b is empty"] -> "--a must be 1. --b is empty." (one line, for the CLI and a pop-up)."""
    return " ".join(p if p.endswith(".") else p + "." for p in problems)
