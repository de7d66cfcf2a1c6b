"""ONE training loop for every model; the CLI, the web app and the tests all use it.

    for event in train(model, dataset, TrainSettings(epochs=5)):
        print(event.step, event.losses)

train() is a generator: it yields a small TrainEvent every few steps (losses,
images/s, ETA) and, now and then, a preview grid made from a FIXED batch of
noise, so you watch the same digits sharpen as the model learns.

How a step works: the whole dataset sits on the training device as one uint8
tensor; each epoch draws a random permutation of indices, and each batch is the
images at the next batch_size indices, scaled to [0, 1]. The model's own
training_step does the rest (GAN: one D update then one G update; VAE: one
update of reconstruction + beta * KL).
"""

import math
import time
from dataclasses import dataclass, field

import torch

from .sampling import grid, label_tensor, latent_noise, decode


class TrainingError(ValueError):
    """Bad training settings, explained for a human."""


@dataclass
class TrainSettings:
    epochs: int = 5
    batch_size: int = 64
    lr: float | None = None  # None: the model's default (GAN 2e-4, VAE 1e-3)
    seed: int = 0  # fixes the batch order and the training noise
    log_every: int = 20  # yield an event every this many steps
    preview_every: int = 200  # add a preview grid every this many steps ...
    preview_seconds: float | None = None  # ... or at least this often, in seconds
    preview_images: int = 64  # 0: no previews
    preview_seed: int = 0  # the fixed noise behind every preview
    max_steps: int | None = None  # stop early after this many steps
    max_seconds: float | None = None  # stop early after this much time

    def check(self, dataset_size):
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise TrainingError(f"Epochs must be a whole number of at least 1, not {self.epochs!r}.")
        if not isinstance(self.batch_size, int) or not 2 <= self.batch_size <= 4096:
            raise TrainingError(f"Batch size must be a whole number from 2 to 4096, not {self.batch_size!r}.")
        if self.batch_size > dataset_size:
            raise TrainingError(
                f"Batch size {self.batch_size} is larger than the dataset ({dataset_size} images): choose a smaller one."
            )
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and 0 < self.lr <= 1):
            raise TrainingError(f"Learning rate must be a number above 0 and at most 1, not {self.lr!r}.")
        if self.max_steps is not None and self.max_steps < 1:
            raise TrainingError("max_steps must be at least 1.")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise TrainingError("max_seconds must be above 0.")


@dataclass
class TrainEvent:
    """What the loop reports. `done` is True on the last event, with `reason` saying why it ended."""

    step: int
    total_steps: int
    epoch: float  # epochs completed, fractional
    losses: dict = field(default_factory=dict)  # mean of each loss since the last event
    images_per_sec: float = 0.0
    elapsed_seconds: float = 0.0
    eta_seconds: float = 0.0
    preview: object = None  # a PIL image, or None
    done: bool = False
    reason: str = ""  # "finished" | "stopped" | "time limit" | "diverged"
    message: str = ""

    @property
    def fraction(self):
        return self.step / self.total_steps if self.total_steps else 1.0


def preview_grid(model, settings):
    """The grid of the fixed preview noise; a conditional model draws digit i % 10 in column i % 10.

    preview_images = 0 turns previews off (e.g. for a model that does not generate, like a classifier).
    """
    n = settings.preview_images
    if n == 0:
        return None
    z = latent_noise(settings.preview_seed, n, model.latent_dim)
    columns = model.config.num_classes if model.conditional else None
    return grid(decode(model, z, label_tensor(model, None, n)), columns=columns)


def train(model, dataset, settings=None, stop=None):
    """Train model on dataset (a genai.data.Dataset already on the model's device).

    Yields TrainEvent objects; the last one has done=True. `stop` is an optional
    threading.Event: set it to end training cleanly after the current step.
    If a loss becomes NaN or infinite, training stops with reason "diverged" and
    the weights are rolled back to the last good ones.
    """
    settings = settings or TrainSettings()
    n_images = len(dataset)
    settings.check(n_images)
    device = next(model.parameters()).device
    images, labels = dataset.images.to(device), dataset.labels.to(device)

    torch.manual_seed(settings.seed)  # training noise (GAN z, VAE eps)
    order_rng = torch.Generator().manual_seed(settings.seed)  # batch order
    optimizers = model.configure_optimizers(settings.lr or model.default_lr)
    steps_per_epoch = n_images // settings.batch_size
    total_steps = settings.epochs * steps_per_epoch
    if settings.max_steps:
        total_steps = min(total_steps, settings.max_steps)

    last_good = snapshot(model)
    loss_sums, window_steps = {}, 0
    start = window_start = last_preview_time = time.perf_counter()
    step, next_preview_step = 0, settings.log_every
    reason, message = "finished", ""
    model.train()

    while step < total_steps:
        order = torch.randperm(n_images, generator=order_rng).to(device)
        for batch_start in range(0, steps_per_epoch * settings.batch_size, settings.batch_size):
            index = order[batch_start:batch_start + settings.batch_size]
            batch = images[index].unsqueeze(1).float().div_(255)
            losses = model.training_step(batch, labels[index], optimizers)
            for name, value in losses.items():
                loss_sums[name] = loss_sums.get(name, 0.0) + value
            step += 1
            window_steps += 1

            stop_now = (stop is not None and stop.is_set()) or step >= total_steps
            timed_out = settings.max_seconds is not None and time.perf_counter() - start >= settings.max_seconds
            if step % settings.log_every and not (stop_now or timed_out):
                continue

            # Report: this .item() waits for the device, so it happens every log_every steps only.
            means = {name: float(total) / window_steps for name, total in loss_sums.items()}
            # The losses were computed before the last update, so check the weights themselves too.
            if not all(math.isfinite(v) for v in means.values()) or not weights_are_finite(model):
                model.load_state_dict(last_good)
                bad = ", ".join(f"{k} = {v}" for k, v in means.items() if not math.isfinite(v)) or "NaN or infinite weights"
                reason = "diverged"
                message = (
                    f"Training diverged at step {step} ({bad}). The weights were rolled back to the last good "
                    "ones. Try a smaller learning rate."
                )
                yield finish(model, settings, step, total_steps, steps_per_epoch, start, reason, message, means)
                return
            last_good = snapshot(model)

            now = time.perf_counter()
            elapsed = now - start
            event = TrainEvent(
                step=step,
                total_steps=total_steps,
                epoch=step / steps_per_epoch,
                losses=means,
                images_per_sec=window_steps * settings.batch_size / max(now - window_start, 1e-9),
                elapsed_seconds=elapsed,
                eta_seconds=elapsed / step * (total_steps - step),
            )
            loss_sums, window_steps, window_start = {}, 0, now

            if stop_now or timed_out:
                if step < total_steps:
                    reason = "time limit" if timed_out else "stopped"
                    message = f"Stopped at step {step} of {total_steps}" + (
                        f" (time limit of {settings.max_seconds:g} s)." if timed_out else "."
                    )
                yield event
                yield finish(model, settings, step, total_steps, steps_per_epoch, start, reason, message, means)
                return

            due_by_time = settings.preview_seconds is not None and now - last_preview_time >= settings.preview_seconds
            if step >= next_preview_step or due_by_time:
                event.preview = preview_grid(model, settings)
                model.train()
                last_preview_time = now
                next_preview_step = step + settings.preview_every
            yield event


def finish(model, settings, step, total_steps, steps_per_epoch, start, reason, message, losses):
    """The last event: a final preview and why training ended."""
    preview = preview_grid(model, settings)
    model.train()
    elapsed = time.perf_counter() - start
    message = message or f"Finished {step} steps in {elapsed:.1f} s."
    return TrainEvent(
        step=step, total_steps=total_steps, epoch=step / steps_per_epoch, losses=losses, elapsed_seconds=elapsed,
        preview=preview, done=True, reason=reason, message=message,
    )


def weights_are_finite(model):
    """True if no weight or buffer holds NaN or infinity (one device sync for all of them)."""
    checks = [torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()]
    return bool(torch.stack(checks).all())


def snapshot(model):
    """A copy of the weights, to roll back to if training diverges."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
