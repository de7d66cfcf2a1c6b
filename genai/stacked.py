"""Stacked training: K models of one kind learn together, in one batched step, each exactly as it would alone.

    train_stacked([model_a, model_b, model_c], dataset, [settings_a, settings_b, settings_c])

Why: a small model leaves a GPU mostly idle. Each of its steps is dozens of tiny kernels, and the
GPU spends more time starting them than running them. Three students training the same small GAN
launch three times as many tiny kernels. Stacked, the three models' matching weights become one
tensor with a leading dimension of 3 (row k: model k's weights), and each layer runs once for all
three, as one bigger kernel: a batched matrix product where there were three small ones.

How: torch.func.vmap turns a function written for ONE model into one for K models at once. We
write one model's loss as a pure function of its weights, loss(weights, images, noise) (the
model's functional_step; torch.func.functional_call runs the model with the weights we give it),
take its gradient with torch.func.grad, and vmap the whole thing over the leading dimension of the
weights, the images and the noise:

    grads, losses = vmap(grad(loss, has_aux=True))(stacked_weights, stacked_images, stacked_noise)

Row k of every input belongs to model k alone, and vmap never mixes rows: row k of the gradients is
exactly the gradient model k would compute alone (up to the last bits of float rounding, since a
batched product may add in another order). The rest of a step stays per model, as in a solo run:

- its batches: each model draws its batch order from a generator seeded with its own seed;
- its noise (a GAN's z, a VAE's eps): drawn from its own generator, in the order training_step
  draws it, outside vmap (vmap refuses random numbers drawn inside it, so none slip in unseen);
- its optimizer: model k keeps its own Adam (its own learning rate and moments), built by its own
  configure_optimizers. Its weights are views of row k of the stacked tensors (they share memory),
  so when its optimizer updates them in place, the stack sees the new weights at once: nothing is
  copied between the models and the stack.

So after N steps each model holds the weights the one training loop (genai/train.py) gives it with
the same settings and seed: tests/test_stacked.py checks every weight against solo runs.

Which models can stack: those whose family writes its training_step as pure functions
(GenerativeModel.functional_step: every family here), and without layers that cannot be batched
this way: BatchNorm (it updates its running statistics in place while training, which a vmapped
function may not: so no DCGAN) and PyTorch's LSTM (no vmap rule: so no row-by-row LSTM). So: the MLP
GAN, both VAEs, the diffusion UNet and the Gated PixelCNN; not the DCGAN, nor a GAN with the R1
penalty (torch.autograd.grad inside the loss), nor the LSTM.
The models must share family, architecture, config and device, and the runs their batch size and
number of steps; seeds and learning rates may differ.
"""

import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from .models.base import ModelError
from .train import BatchOrder, Budget, TrainingError, check_labels_once

__all__ = ["StackedRun", "StackingError", "stacking_problem", "train_stacked"]


class StackingError(ValueError):
    """Models or settings that cannot train stacked, explained for a human."""


def stacking_problem(model):
    """Why model cannot train stacked with others, as a sentence, or None if it can."""
    if any(isinstance(layer, nn.modules.batchnorm._BatchNorm) for layer in model.modules()):
        return (f"A {model.title} has BatchNorm layers, which update their running statistics in place at "
                f"every training step: vmap cannot batch that.")
    if any(isinstance(layer, nn.RNNBase) for layer in model.modules()):
        return f"A {model.title} runs PyTorch's LSTM, which vmap cannot batch (no batching rule)."
    try:
        model.functional_step()
    except ModelError as error:
        return str(error)
    return None


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


class LossOf(nn.Module):
    """loss(model, *inputs) as a module, so that functional_call can run it with weights we give it."""

    def __init__(self, model, loss):
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, *inputs):
        return self.loss(self.model, *inputs)


def batched_gradients(model, loss, trained, fixed, images, labels, noise):
    """(the gradients of loss for the `trained` weights, the losses it reports), for K models at once.

    trained, fixed: {name: stacked tensor (K, ...)}, the weights this update changes and the rest.
    images, labels: (K, B, ...): each model's batch. noise: a tuple of (K, ...) tensors (or None).
    """
    call = LossOf(model, loss)

    def one_model(trained, fixed, images, labels, noise):  # written for one model: no K anywhere
        weights = {f"model.{name}": tensor for name, tensor in (trained | fixed).items()}
        return functional_call(call, weights, (images, labels, noise))

    noise_dims = tuple(None if part is None else 0 for part in noise)  # None: nothing to batch
    gradients = vmap(grad(one_model, has_aux=True), in_dims=(0, 0, 0, 0, noise_dims))
    return gradients(trained, fixed, images, labels, noise)


def stack_noise(noises):
    """Each model's tuple of random draws -> one tuple of stacked (K, ...) tensors (None stays None)."""
    return tuple(None if parts[0] is None else torch.stack(parts) for parts in zip(*noises))


@dataclass
class StackedRun:
    """What train_stacked did: the steps every model took, the seconds it took, each model's mean losses."""

    steps: int
    seconds: float
    losses: list  # one {name: float} per model, the mean over the run's steps


@dataclass
class Stack:
    """K runs under way together: what their steps read and change."""

    models: list
    step: object  # the models' FunctionalStep
    weights: dict  # name -> stacked tensor (K, ...): row k is model k's (its weights are views of it)
    updated_by: dict  # optimizer name -> the names of the weights it updates
    optimizers: list  # model k's own {name: optimizer}, from its configure_optimizers(its lr)
    orders: list  # model k's batches (index tensors), from a generator seeded with its seed
    noise_rngs: list  # model k's noise generator, seeded with its seed
    images: torch.Tensor  # the whole dataset (uint8) on the device, and its labels
    labels: torch.Tensor

    def take_step(self, sums):
        """One training step of every model; adds each model's losses to sums[k]."""
        # Each model's batch and noise, drawn from its own generators as its solo run draws them.
        batches = [(self.images[index].unsqueeze(1).float().div_(255), self.labels[index])
                   for index in (next(order) for order in self.orders)]
        noise = stack_noise([self.step.noise(model, x, y, rng)
                             for model, (x, y), rng in zip(self.models, batches, self.noise_rngs)])
        images, labels = torch.stack([x for x, _ in batches]), torch.stack([y for _, y in batches])
        for opt, loss in self.step.updates:  # in training_step's order: a GAN's D, then its G against the new D
            trained = {name: self.weights[name] for name in self.updated_by[opt]}
            fixed = {name: tensor for name, tensor in self.weights.items() if name not in trained}
            gradients, losses = batched_gradients(self.models[0], loss, trained, fixed, images, labels, noise)
            for k, (model, optimizers) in enumerate(zip(self.models, self.optimizers)):
                weights = dict(model.named_parameters())
                for name, gradient in gradients.items():
                    weights[name].grad = gradient[k]
                optimizers[opt].step()  # its own Adam, at its own lr: updates row k of the stack in place
                optimizers[opt].zero_grad(set_to_none=True)
                for name, value in losses.items():
                    sums[k][name] = sums[k].get(name, 0.0) + value[k]
        if self.step.after_update is not None:
            for model in self.models:
                self.step.after_update(model)


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
    name_of = {id(tensor): name for name, tensor in first.named_parameters()}
    updated_by = {opt: [name_of[id(p)] for group in optimizer.param_groups for p in group["params"]]
                  for opt, optimizer in optimizers[0].items()}
    stack = Stack(models, first.functional_step(), weights, updated_by, optimizers, orders, noise_rngs, images, labels)

    total_steps = Budget(settings[0], n_images // batch_size).total_steps
    seconds = min((run.max_seconds for run in settings if run.max_seconds is not None), default=None)
    sums, taken, started = [{} for _ in models], 0, time.perf_counter()
    for model in models:
        model.train()
    try:
        while True:
            stack.take_step(sums)
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
