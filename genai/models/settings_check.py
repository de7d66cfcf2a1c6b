"""Checking a model's config fields against the settings table (genai/settings.py).

A config.json may come from anywhere (a folder someone sent, a model on the Hugging Face Hub),
so every field is checked before anything is built: a 1 KB config with `channels: 10**6` must
be refused in microseconds, not after allocating gigabytes. A file is stricter than a command
line: a whole number must be written as one (64, not "64" or 64.0).

    check_config_fields(DCGANConfig, {"latent_dim": 100, "channels": 32, ...})  # SettingsError if wrong
"""

import dataclasses

from ..settings import RETIRED, SETTINGS, SettingsError, shown

# The JSON type each kind of setting must have in a file (a bool is no number there).
FILE_TYPES = {"whole": int, "number": (int, float), "yes/no": bool, "choice": str}


def check_value(name, value):
    """Raise SettingsError unless value has the type and range the settings table gives for name."""
    setting = SETTINGS[name]
    right_type = isinstance(value, FILE_TYPES[setting.kind]) and (setting.kind == "yes/no" or not isinstance(value, bool))
    try:
        if not right_type:
            raise SettingsError
        setting.parse(value)
    except SettingsError:
        raise SettingsError(f"{name} must be {setting.wanted()} ({setting.help}), not {shown(value)}.") from None


def without_retired(values):
    """values without the settings genai no longer offers, where they hold the value that meant "off";
    a retired setting that was on is refused: the model it describes cannot be built any more."""
    kept = {}
    for name, value in values.items():
        if name not in RETIRED:
            kept[name] = value
        elif value != RETIRED[name]:
            raise SettingsError(f"was made with {name} = {shown(value)}, a setting genai no longer offers "
                                f"(removed because it did not pay: see docs/benchmarks.md); retrain it without {name}.")
    return kept


def check_config_fields(config_class, values):
    """Check a dict of config fields against config_class: known names, right types, in range."""
    if not isinstance(values, dict):
        raise SettingsError(f"The model's config must be a mapping of settings, not {type(values).__name__}.")
    fields = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(shown(name) if not isinstance(name, str) else name[:40] for name in set(values) - fields)
    if unknown:
        raise SettingsError(f"has no setting {', '.join(unknown[:5])}; it has {', '.join(sorted(fields))}.")
    for name, value in values.items():
        if value is not None:
            check_value(name, value)
