"""config.json beside the model's own config: what each field may hold, checked when the file is read.

A config.json says what to build ("family", "arch" and "config", whose fields the settings table
checks: genai/models/settings_check.py) and how the model was made: the dataset, the steps trained,
the training record, when and by which genai. A checkpoint may come from anyone (a folder someone
sent, a model on the Hub), and the app shows parts of it ("9,360 steps on MNIST"), so every field genai
reads is checked here, once, for its JSON type and its range: `"steps": "lots"` or a 400-digit number
is refused with a short message, never a traceback or 400 digits on a page. Fields genai does not know
are left alone: nothing reads them.

    check_fields({"family": "gan", "arch": "mlp", "config": {}, "steps": "lots"})   # FieldError: steps must be ...
"""

import math

from .data import SPLITS
from .settings import SETTINGS, number_text, shown

MOST = 10**12  # a count no real run comes near (steps, images), small enough to print
MOST_CHARS = 1000  # a text field (the command that trained it, a warning)
NAME_CHARS = 40  # a family, an architecture, a dataset


class FieldError(ValueError):
    """One or more fields of config.json that are not what genai wrote there, each named."""


def whole(low=0, high=MOST):
    def check(value):
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return None
        return f"a whole number from {number_text(low)} to {number_text(high)}"
    return check


def number(low=0.0, high=MOST):
    def check(value):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                and low <= value <= high:
            return None
        return f"a number from {number_text(low)} to {number_text(high)}"
    return check


def text(most=MOST_CHARS):
    def check(value):
        return None if isinstance(value, str) and len(value) <= most else f"a text of at most {most:,} characters"
    return check


def one_of(choices):
    def check(value):
        return None if isinstance(value, str) and value in choices else "one of " + ", ".join(choices)
    return check


def mapping(value):
    return None if isinstance(value, dict) else "a mapping of names to values"


def listing(value):
    return None if isinstance(value, list) else "a list"


def yes_no(value):
    return None if isinstance(value, bool) else "true or false"


# The top level of config.json. "config" itself is checked against the settings table when the model's
# shapes are worked out (genai/models/settings_check.py), and whether the family and architecture exist by
# the model registry; here only that they are short names. None (null) is allowed wherever a field may be
# missing.
REQUIRED = {"family": text(NAME_CHARS), "arch": text(NAME_CHARS)}
OPTIONAL = {
    "dataset": one_of(SETTINGS["dataset"].choices),
    "steps": whole(),
    "training": mapping,
    "created": text(64),
    "genai_version": text(64),
    "guide": mapping,  # autoguidance: the guide UNet's own record
    "guide_added": mapping,
    "guidance_choice": mapping,
    "accuracy": mapping,  # the metrics classifier's
}
# The training record's fields that genai reads back (the Sample tab's line, a model card, `train --resume`,
# whether `eval` measures on images the model learned from).
TRAINING = {
    "dataset": one_of(SETTINGS["dataset"].choices), "split": one_of(SPLITS),
    "steps": whole(), "images": whole(), "split_images": whole(), "batch_size": whole(), "seed": whole(),
    "epochs": whole(), "max_steps": whole(), "world_size": whole(),
    "lr": number(), "seconds": number(), "time_limit": number(),
    "device": text(), "ended": text(), "command": text(), "warning": text(), "app": text(),
    "verified_files": yes_no, "chosen": mapping, "resumed_from": mapping, "live_changes": listing,
}


def problems_of(values, checks, where, empty_allowed=True):
    """["training.steps must be ..., not 'lots'"] for every value that fails its check."""
    found = []
    for name, check in checks.items():
        value = values.get(name)
        wanted = None if value is None and empty_allowed else check(value)
        if wanted:
            found.append(f"{where}{name} must be {wanted}, not {shown(value)}")
    return found


def check_fields(metadata):
    """Raise FieldError unless every field of config.json (a mapping) that genai reads has the type and
    range genai writes there."""
    problems = problems_of(metadata, REQUIRED, "", empty_allowed=False) + problems_of(metadata, OPTIONAL, "")
    if isinstance(metadata.get("training"), dict):
        problems += problems_of(metadata["training"], TRAINING, "training.")
    if problems:
        raise FieldError("; ".join(problems[:5]) + ("" if len(problems) <= 5 else f"; and {len(problems) - 5} more")
                         + ".")
