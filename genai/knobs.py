"""Live knobs: settings a teacher turns while a run goes on, to show their effect at once.

    knobs = LiveKnobs()
    for event in train(model, dataset, settings, knobs=knobs):   # in one thread ...
        ...
    knobs.turn(lr=1e-4, beta=0.5)                                  # ... and, from another, any time

The training loop takes the turned values before its next step: the learning rate goes to every
optimizer, a model setting (a VAE's beta, a GAN's d_lr_ratio: the model lists them in `live_settings`) to the model's
config, which its training step reads every step. Each change is recorded with the step it
happened at, so the run's training record (and the checkpoint's config.json) tells the whole story.
"""

import threading

from .models.settings_check import ConfigFieldError, check_value


class KnobError(ValueError):
    """A knob this model does not have, or a value out of range, explained for a human."""


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


def check_turn(model, values):
    """Refuse a knob the model does not have or a value out of range: {name: value} checked."""
    checked = {}
    for name, value in values.items():
        if value is None:
            continue
        if name == "lr":
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1:
                raise KnobError(f"The learning rate must be a number above 0 and at most 1, not {value!r}.")
        elif name not in model.live_settings:
            have = ", ".join(("lr", *model.live_settings))
            raise KnobError(f"A {model.title} has no live setting {name!r}; it has {have}.")
        else:
            try:
                check_value(name, value)
            except ConfigFieldError as error:
                raise KnobError(str(error)) from None
        checked[name] = float(value)
    return checked


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
