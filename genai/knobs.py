"""Live knobs: settings a teacher turns while a run goes on, to show their effect at once.

    knobs = LiveKnobs()
    for event in train(model, dataset, settings, knobs=knobs):   # in one thread ...
        ...
    knobs.turn(lr=1e-4, beta=0.5)                                  # ... and, from another, any time

The training loop takes the turned values before its next step: the learning rate goes to every
optimizer, a model setting (a VAE's beta, a GAN's d_lr_ratio: the settings the table marks live) to the model's
config, which its training step reads every step. Each change is recorded with the step it
happened at, so the run's training record (and the checkpoint's config.json) tells the whole story.
"""

import dataclasses
import threading

from .settings import SETTINGS, SettingsError, check_values


class LiveKnobs:
    """Values turned from outside the training loop (thread-safe), waiting for the loop to take them."""

    def __init__(self):
        self._waiting = {}
        self._lock = threading.Lock()

    def turn(self, **values):
        """Ask for new values (None: leave as is); the loop applies them before its next step."""
        with self._lock:
            self._waiting.update({name: value for name, value in values.items() if value is not None})

    def take(self):
        """The values turned since the last take (the loop calls this once per step; usually {})."""
        if not self._waiting:  # no lock needed to see nothing is waiting: one dict check per step
            return {}
        with self._lock:
            taken, self._waiting = self._waiting, {}
            return taken


def live_settings(model):
    """The settings a teacher may turn while this model trains: the learning rate, and the model's own
    settings the table marks live (genai/settings.py), which its training step reads every step."""
    fields = {field.name for field in dataclasses.fields(model.config)}
    return ["lr"] + [name for name, s in SETTINGS.items() if s.live and s.scope == "model" and name in fields]


def check_turn(model, values):
    """Refuse a knob the model does not have or a value out of range: {name: value} checked, every
    problem named at once (SettingsError)."""
    have = live_settings(model)
    unknown = [name for name, value in values.items() if value is not None and name not in have]
    if unknown:
        raise SettingsError(f"A {model.title} has no live setting {', '.join(map(repr, unknown))}; "
                            f"it has {', '.join(have)}.")
    checked = check_values({name: value for name, value in values.items() if value is not None},
                           name_of=lambda setting: setting.label or setting.name)
    return {name: float(value) for name, value in checked.items()}


def apply_turn(model, optimizers, values, lr):
    """Set the new values: model settings (a VAE's beta, a GAN's d_lr_ratio) on the model's config, then
    every optimizer's learning rate from the run's lr (the new one, if turned), as the model scales it
    (a GAN's D learns at d_lr_ratio x lr). Returns the run's lr from now on."""
    lr = values.get("lr", lr)
    for name, value in values.items():
        if name != "lr":
            setattr(model.config, name, value)
    for optimizer_name, optimizer in optimizers.items():
        for group in optimizer.param_groups:
            group["lr"] = model.optimizer_lr(optimizer_name, lr)
    return lr
