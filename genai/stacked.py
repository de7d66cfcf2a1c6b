"""Stacked training: K models of one kind learn together, in one batched step, each exactly as it would alone.

    train_stacked([model_a, model_b, model_c], dataset, [settings_a, settings_b, settings_c])

The step itself (why stacking pays on a GPU, and how torch.func.vmap computes K models' gradients in
one go) is genai/stacked_step.py. This file is a loop of its own around it, for K runs that start and
end together (benchmarks/stacked_speed.py measures it). The web app does not use it: there each
student's run is the one training loop (genai/train.py), and runs of one kind that are ready at the
same moment meet for their steps (genai/training_together.py).

Here the models' weights live in the stack for the whole run: model k's weights are views of row k
of the stacked tensors (they share memory), so when its optimizer updates them in place, the stack
sees the new weights at once: nothing is copied between the models and the stack.

Each run keeps what its solo run would own: its batch order (a generator seeded with its seed), its
noise generator, its optimizers (its own learning rate). So after N steps each model holds the weights
the one training loop (genai/train.py) gives it with the same settings and seed:
tests/test_stacked.py checks every weight against solo runs.

The models must share family, architecture, config and device, and the runs their batch size and
number of steps; seeds and learning rates may differ. Which models can stack: stacking_problem.
"""

import time
from dataclasses import dataclass

import torch

from .stacked_step import stacking_problem, step_together
from .train import BatchOrder, Budget, TrainingError, check_labels_once

__all__ = ["StackedRun", "StackingError", "stacking_problem", "train_stacked"]


class StackingError(ValueError):
    """Models or settings that cannot train stacked, explained for a human."""


def check_stackable(models, settings, n_images):
    """Raise StackingError unless the models are of one kind on one device and the runs march in step."""
    if len(models) < 1 or len(models) != len(settings):
        raise StackingError(f"Give one TrainSettings per model: got {len(models)} models and {len(settings)} settings.")
    first = models[0]
    for k, model in enumerate(models[1:], start=1):
        if (model.family, model.arch) != (first.family, first.arch):
            raise StackingError(f"Stacked models must be of one family and architecture: model 0 is a {first.title}, "
                                f"model {k} a {model.title}.")
        if model.config.to_dict() != first.config.to_dict():
            changed = sorted(name for name, value in model.config.to_dict().items()
                             if first.config.to_dict().get(name) != value)
            raise StackingError(f"Stacked models must share one config: model {k} differs from model 0 in "
                                f"{', '.join(changed)}.")
        if device_of(model) != device_of(first):
            raise StackingError(f"Stacked models must be on one device: model 0 is on {device_of(first)}, "
                                f"model {k} on {device_of(model)}.")
    problem = stacking_problem(first)
    if problem:
        raise StackingError(problem)
    for run in settings:
        try:
            run.check(n_images)
        except TrainingError as error:
            raise StackingError(str(error)) from None
    if len({run.batch_size for run in settings}) > 1:
        raise StackingError("Stacked runs take their steps together, so they need one batch size: "
                            f"got {sorted({run.batch_size for run in settings})}.")
    steps = {Budget(run, n_images // run.batch_size).total_steps for run in settings}
    if len(steps) > 1 or None in steps:
        raise StackingError("Stacked runs take their steps together: give them all the same number of steps "
                            "(max_steps or epochs).")


def device_of(model):
    return next(model.parameters()).device


def stack_weights(models):
    """One tensor per weight name, row k holding model k's; each model's weights become views of its row.

    Like torch.func.stack_module_state, except that the models keep using the stacked memory: an
    optimizer updating model k's weights in place updates row k of the stack.
    """
    stacked = {}
    named = [dict(model.named_parameters()) | dict(model.named_buffers()) for model in models]
    for name in named[0]:
        stacked[name] = torch.stack([tensors[name].detach() for tensors in named])
        for k, tensors in enumerate(named):
            tensors[name].data = stacked[name][k]
    return stacked


def unstack_weights(models):
    """Give each model's weights memory of their own again (so it can be saved, moved or trained alone)."""
    for model in models:
        for tensor in list(model.parameters()) + list(model.buffers()):
            tensor.data = tensor.data.clone()


@dataclass
class StackedRun:
    """What train_stacked did: the steps every model took, the seconds it took, each model's mean losses."""

    steps: int
    seconds: float
    losses: list  # one {name: float} per model, the mean over the run's steps


def train_stacked(models, dataset, settings, stop=None):
    """Train models (same family, architecture and config, on one device) together, each with its own
    TrainSettings (its seed and learning rate; one batch size and one number of steps for all).

    Each model ends with the weights genai.train.train(model, dataset, its settings) would give it.
    A time limit (the smallest max_seconds) or `stop` (a threading.Event) ends all the runs together,
    after the current step, as in the solo loop. Returns a StackedRun.
    """
    n_images = len(dataset)
    check_stackable(models, settings, n_images)
    first, device = models[0], device_of(models[0])
    batch_size = settings[0].batch_size
    for model in models:
        model.check_batch_size(batch_size)
    images, labels = dataset.images.to(device), dataset.labels.to(device)
    check_labels_once(first, labels)

    # What each model's solo run would own: its batch order, its noise, its optimizers.
    orders = [BatchOrder(n_images, batch_size, torch.Generator().manual_seed(run.seed), device).batches()
              for run in settings]
    noise_rngs = [torch.Generator(device=device).manual_seed(run.seed) for run in settings]
    weights = stack_weights(models)  # before the optimizers: they hold the weights, now views of the stack
    optimizers = [model.configure_optimizers(run.lr or model.default_lr) for model, run in zip(models, settings)]

    total_steps = Budget(settings[0], n_images // batch_size).total_steps
    seconds = min((run.max_seconds for run in settings if run.max_seconds is not None), default=None)
    sums, taken, started = [{} for _ in models], 0, time.perf_counter()
    for model in models:
        model.train()
    try:
        while True:
            batches = [(images[index].unsqueeze(1).float().div_(255), labels[index])
                       for index in (next(order) for order in orders)]
            losses = step_together(models, optimizers, batches, noise_rngs, lambda: weights)  # the views: no copy
            for model_sums, model_losses in zip(sums, losses):
                for name, value in model_losses.items():
                    model_sums[name] = model_sums.get(name, 0.0) + value
            taken += 1
            # As in the solo loop: stop and the time limit are looked at after each step (so one is always taken).
            if (taken >= total_steps or (stop is not None and stop.is_set())
                    or (seconds is not None and time.perf_counter() - started >= seconds)):
                break
    finally:
        unstack_weights(models)  # even after an error: each model keeps weights of its own
    for model in models:
        model.after_training(images, labels)  # as the solo loop's last event does (a VAE's mixture prior)
        model.train()
    means = [{name: float(value) / taken for name, value in model_sums.items()} for model_sums in sums]
    return StackedRun(taken, time.perf_counter() - started, means)
