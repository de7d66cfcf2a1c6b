"""One training step of K models of one kind at once, each exactly as its own training_step would take it.

    losses = step_together(models, optimizers, batches, noise_rngs, weights)   # one {name: loss} per model

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

- its batch: the caller hands each model the batch its own run drew;
- its noise (a GAN's z, a VAE's eps): drawn from its own generator, in the order training_step
  draws it, outside vmap (vmap refuses random numbers drawn inside it, so none slip in unseen);
- its optimizer: model k keeps its own Adam (its own learning rate and moments). Each model's
  gradients are put in its own weights' .grad, and its own optimizer takes the step.

Two users: genai/stacked.py (train_stacked: K runs in a loop of their own, whose weights live in
the stack for the whole run) and genai/training_together.py (runs of the one training loop, each in
its own thread, that meet for a step when they are ready at the same moment).

Which models can stack: those whose family writes its training_step as pure functions
(GenerativeModel.functional_step: every family here), and without layers that cannot be batched
this way: BatchNorm (it updates its running statistics in place while training, which a vmapped
function may not: so no DCGAN) and PyTorch's LSTM (no vmap rule: so no row-by-row LSTM). So: the MLP
GAN, both VAEs, the diffusion UNet and the Gated PixelCNN; not the DCGAN, nor a GAN with the R1
penalty (torch.autograd.grad inside the loss), nor the LSTM.
"""

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from .models.base import ModelError

__all__ = ["batched_gradients", "stack_copies", "stacking_problem", "step_together", "updated_names"]


def stacking_problem(model):
    """Why model cannot train stacked with others, as a sentence, or None if it can."""
    if not hasattr(model, "functional_step"):  # not a generative model (the metrics' classifier)
        return "Only the generative models can train stacked."
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


def stack_copies(models):
    """{name: tensor (K, ...)}: each weight and buffer of the K models, as they are now, stacked (a copy)."""
    named = [dict(model.named_parameters()) | dict(model.named_buffers()) for model in models]
    return {name: torch.stack([tensors[name].detach() for tensors in named]) for name in named[0]}


def updated_names(model, optimizers):
    """{optimizer name: the names of the weights it updates} (a GAN: D's weights, then G's)."""
    name_of = {id(tensor): name for name, tensor in model.named_parameters()}
    return {opt: [name_of[id(p)] for group in optimizer.param_groups for p in group["params"]]
            for opt, optimizer in optimizers.items()}


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


def step_together(models, optimizers, batches, noise_rngs, weights):
    """One training step of each model (one family, architecture and config, on one device), in one
    batched computation per update; returns one {loss name: tensor} per model, as training_step does.

    optimizers: model k's own {name: optimizer}; batches: model k's (images, labels), one batch size;
    noise_rngs: model k's noise generator; weights(): {name: stacked tensor (K, ...)} holding the models'
    weights as they are now (read again before each update: a GAN's G learns against the new D).
    """
    step = models[0].functional_step()
    # Each model's noise, drawn from its own generator as its training_step draws it.
    noise = stack_noise([step.noise(model, x, y, rng) for model, (x, y), rng in zip(models, batches, noise_rngs)])
    images, labels = torch.stack([x for x, _ in batches]), torch.stack([y for _, y in batches])
    losses = [{} for _ in models]
    for opt, loss in step.updates:  # in training_step's order: a GAN's D, then its G against the new D
        stacked, names = weights(), updated_names(models[0], optimizers[0])[opt]
        trained = {name: stacked[name] for name in names}
        fixed = {name: tensor for name, tensor in stacked.items() if name not in trained}
        gradients, values = batched_gradients(models[0], loss, trained, fixed, images, labels, noise)
        for k, model in enumerate(models):
            own = dict(model.named_parameters())
            for name, gradient in gradients.items():
                own[name].grad = gradient[k]
            optimizers[k][opt].step()  # its own Adam, at its own lr, on its own weights
            optimizers[k][opt].zero_grad(set_to_none=True)
            reported = {name: value[k] for name, value in values.items()}
            losses[k].update(step.keep(model, reported) if step.keep is not None else reported)
    if step.after_update is not None:
        for model in models:
            step.after_update(model)
    return losses
