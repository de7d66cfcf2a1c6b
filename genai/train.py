"""ONE training loop for every model; the CLI, the web app and the tests all use it.

    for event in train(model, dataset, TrainSettings(max_seconds=60)):
        print(event.step, event.losses)

train() is a generator: it yields a small TrainEvent every few steps (losses,
images/s, ETA) and, now and then, preview images decoded from a FIXED batch of
noise, so you watch the same digits sharpen as the model learns. The engine does
not draw: the CLI and the web app turn the preview into a picture.

How long a run lasts is a budget: a number of seconds, of steps or of epochs;
whichever is reached first ends the run.

How a step works: the whole dataset sits on the training device as one uint8
tensor; each epoch draws a random permutation of indices, and each batch is the
images at the next batch_size indices, scaled to [0, 1]. The model's own
training_step does the rest (GAN: one D update then one G update; VAE: one
update of reconstruction + beta * KL).

Every random number of a run (batch order, the GAN's z, the VAE's eps) comes from
generators the run owns, never from torch's global generator: two runs with the
same seed give the same weights, even side by side in one process.

A run can be continued later: the last event carries its state (optimizers, generators; see
run_state.py), and train(..., resume=that_state) goes on from there as if it had never stopped.
"""

import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field

import torch

from .distributed import averaging_optimizers
from .knobs import apply_turn
from .run_state import RunState, RunStateError
from .stepping import StepReport, inspect
from .sampling import decode, label_tensor, seeded_latents


class TrainingError(ValueError):
    """Bad training settings, explained for a human."""


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class TrainSettings:
    epochs: int | None = None  # stop after this many passes over the data ...
    batch_size: int = 64
    lr: float | None = None  # None: the model's default (GAN 2e-4, VAE 1e-3)
    seed: int = 0  # fixes the batch order and the training noise
    log_every: int = 20  # yield an event every this many steps
    preview_every: int = 200  # add a preview every this many steps ...
    preview_seconds: float | None = None  # ... or at least this often, in seconds
    preview_images: int = 64  # 0: no previews
    preview_seed: int = 0  # the fixed noise behind every preview
    max_steps: int | None = None  # ... or after this many steps ...
    max_seconds: float | None = None  # ... or after this much time, whichever comes first

    def check(self, dataset_size):
        """Raise TrainingError for a setting that makes no sense (NaN and infinity included)."""
        if self.epochs is None and self.max_steps is None and self.max_seconds is None:
            raise TrainingError("Give the run a budget: a number of seconds, of steps or of epochs.")
        if self.epochs is not None and (not isinstance(self.epochs, int) or isinstance(self.epochs, bool)
                                        or self.epochs < 1):
            raise TrainingError(f"Epochs must be a whole number of at least 1, not {self.epochs!r}.")
        if not isinstance(self.batch_size, int) or not 2 <= self.batch_size <= 4096:
            raise TrainingError(f"Batch size must be a whole number from 2 to 4096, not {self.batch_size!r}.")
        if self.batch_size > dataset_size:
            raise TrainingError(
                f"Batch size {self.batch_size} is larger than the dataset ({dataset_size} images): choose a smaller one."
            )
        if self.lr is not None and not (_number(self.lr) and 0 < self.lr <= 1):
            raise TrainingError(f"Learning rate must be a number above 0 and at most 1, not {self.lr!r}.")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise TrainingError(f"max_steps must be a whole number of at least 1, not {self.max_steps!r}.")
        if self.max_seconds is not None and not (_number(self.max_seconds) and 0 < self.max_seconds < math.inf):
            raise TrainingError(f"The time limit must be a number of seconds above 0, not {self.max_seconds!r}.")


@dataclass
class TrainEvent:
    """What the loop reports. `done` is True on the last event, with `reason` saying why it ended."""

    step: int
    total_steps: int | None  # None when only a time limit bounds the run
    epoch: float  # epochs completed, fractional
    losses: dict = field(default_factory=dict)  # mean of each loss since the last event
    images_per_sec: float = 0.0
    elapsed_seconds: float = 0.0
    eta_seconds: float = 0.0
    fraction: float = 0.0  # share of the budget used, 0..1
    preview: object = None  # uint8 array (N, 28, 28) of the fixed preview noise, or None
    preview_columns: int | None = None  # conditional models: one column per digit
    done: bool = False
    reason: str = ""  # "finished" | "stopped" | "time limit" | "diverged"
    message: str = ""
    changes: list = field(default_factory=list)  # live knobs turned since the last event: {"step", name: value}
    diagnostics: dict = field(default_factory=dict)  # with a preview: model.diagnostics() (e.g. what a GAN's D said)
    inspection: object = None  # step mode: a stepping.StepReport of the step just taken
    run_state: object = None  # on the last event: a run_state.RunState to continue the run from (None if it diverged)


class Budget:
    """How far a run is: steps against max_steps / epochs, seconds against max_seconds."""

    def __init__(self, settings, steps_per_epoch, first_step=0):
        limits = [settings.max_steps, settings.epochs and settings.epochs * steps_per_epoch]
        limits = [limit for limit in limits if limit]
        self.total_steps = min(limits) if limits else None  # counted from the run's start, continued or not
        self.max_seconds = settings.max_seconds  # counted from now
        self.first_step = first_step  # a continued run's earlier steps

    def out_of_time(self, elapsed):
        return self.max_seconds is not None and elapsed >= self.max_seconds

    def out_of_steps(self, step):
        return self.total_steps is not None and step >= self.total_steps

    def fraction(self, step, elapsed):
        parts = [step / self.total_steps] if self.total_steps else []
        if self.max_seconds:
            parts.append(elapsed / self.max_seconds)
        return min(1.0, max(parts))

    def eta(self, step, elapsed):
        left = []
        if self.total_steps:
            left.append(elapsed / max(step - self.first_step, 1) * (self.total_steps - step))
        if self.max_seconds:
            left.append(self.max_seconds - elapsed)
        return max(0.0, min(left))


def preview_count(conditional):
    """Images in the Train tab's live preview: ten rows of one column per digit for a conditional model, else 8 x 8."""
    return 100 if conditional else 64


def preview_images(model, settings):
    """The fixed preview noise decoded: uint8 (N, 28, 28); a conditional model draws digit i % 10 as image i.

    preview_images = 0 turns previews off (e.g. for a model that does not generate, like a classifier).
    """
    n = settings.preview_images
    if n == 0:
        return None
    z = seeded_latents(model, settings.preview_seed, n)
    return decode(model, z, label_tensor(model, None, n))


def preview_columns(model):
    return model.config.num_classes if getattr(model, "conditional", False) else None


def run_generator(device, seed):
    """A torch.Generator on `device` seeded with `seed`: the run's own source of training noise."""
    return torch.Generator(device=device).manual_seed(seed)


def check_labels_once(model, labels):
    """Conditional models need labels 0..num_classes-1: checked once per run, not every step."""
    if getattr(model, "conditional", False) and len(labels):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= model.config.num_classes:
            raise TrainingError(f"The labels run from {low} to {high}; this model knows 0 to {model.config.num_classes - 1}.")


def train(model, dataset, settings=None, stop=None, team=None, knobs=None, stepper=None, resume=None):
    """Train model on dataset (a genai.data.Dataset; moved to the model's device if needed).

    Yields TrainEvent objects; the last one has done=True. `stop` is an optional
    threading.Event: set it to end training cleanly after the current step.
    If a loss becomes NaN or infinite, training stops with reason "diverged" and
    the weights are rolled back to the last good ones.

    team: this process's genai.distributed.Team when torchrun started several: each process
    trains on its shard of every global batch and the gradients are averaged (see distributed.py).
    Stop and the time limit are then decided together, every log_every steps.

    knobs: a genai.knobs.LiveKnobs another thread may turn (the learning rate, a VAE's beta); the
    values are applied before the next step and reported in the next event's `changes`.

    stepper: a genai.stepping.StepControl another thread may use to pause the run and advance it a
    step at a time; each inspected step is reported at once, in an event with `inspection` and a preview.

    resume: the RunState of an earlier run of this model (the last event's run_state, or
    run_state.load_run_state of a saved folder): the run goes on from that step with the optimizers and
    random generators as they were, so its weights are those of one uninterrupted run. Its learning
    rate is the saved run's; max_steps and epochs count from the run's start, max_seconds from now.
    """
    try:
        yield from training_loop(model, dataset, settings, stop, team, knobs, stepper, resume)
    finally:
        if stepper is not None:
            stepper.end()  # nobody waits for a step that will never come


def training_loop(model, dataset, settings, stop, team, knobs, stepper, resume):
    """train()'s body."""
    settings = settings or TrainSettings(epochs=5)
    n_images = len(dataset)
    settings.check(n_images)
    if team is not None:
        if settings.batch_size % team.world_size:
            raise TrainingError(f"The batch size ({settings.batch_size}) must split evenly over the "
                                f"{team.world_size} processes: choose a multiple of {team.world_size}.")
        if not team.is_main:
            settings = dataclasses.replace(settings, preview_images=0)  # rank 0 draws the previews
        if stepper is not None:
            raise TrainingError("Step mode pauses one process; it cannot step a run of several (torchrun).")
    if hasattr(model, "check_batch_size"):  # generative models; the metrics classifier takes any batch
        model.check_batch_size(settings.batch_size // (team.world_size if team is not None else 1))
    device = next(model.parameters()).device
    images, labels = dataset.images.to(device), dataset.labels.to(device)
    check_labels_once(model, labels)

    order_rng = torch.Generator().manual_seed(settings.seed)  # batch order, drawn on the CPU
    rank = 0 if team is None else team.rank
    noise_rng = run_generator(device, settings.seed + rank)  # training noise (GAN z, VAE eps, ...)
    lr = settings.lr or model.default_lr  # the run's learning rate (live knobs may turn it)
    optimizers = own_optimizers = model.configure_optimizers(lr)
    steps_per_epoch = n_images // settings.batch_size
    step, earlier_seconds = 0, 0.0
    if resume is not None:
        check_resume(resume, settings, n_images, team, steps_per_epoch)
        try:
            resume.restore(model, optimizers, order_rng, noise_rng)
        except RunStateError as error:
            raise TrainingError(str(error)) from None
        lr, step, earlier_seconds = resume.lr, resume.step, resume.seconds
    if team is not None:
        team.broadcast_weights(model)
        optimizers = averaging_optimizers(optimizers, team)
    budget = Budget(settings, steps_per_epoch, first_step=step)
    stop = stop or threading.Event()

    def run_state():
        """What continuing this run later needs (after the step just taken). One process only."""
        if team is not None:
            return None
        return RunState(
            step=step, seconds=round(earlier_seconds + time.perf_counter() - start, 1), images=n_images,
            batch_size=settings.batch_size, lr=lr,
            # The next step's epoch: the one under way, or (at an epoch's end) the next one, not yet shuffled.
            order_rng=order_rng.get_state() if step % steps_per_epoch == 0 else shuffled_from,
            noise_rng=noise_rng.get_state(), optimizers={n: o.state_dict() for n, o in own_optimizers.items()},
            ema_updates=getattr(model, "ema_updates", None))

    last_good = snapshot(model)
    loss_sums, window_steps, changes = {}, 0, []
    start = window_start = last_preview_time = time.perf_counter()
    next_preview_step, preview_cost = step + settings.log_every, 0.0
    first_batch = (step % steps_per_epoch) * settings.batch_size  # a continued run may start mid-epoch
    model.train()

    while True:
        shuffled_from = order_rng.get_state()  # (to continue this epoch later)
        order = torch.randperm(n_images, generator=order_rng).to(device)
        for batch_start in range(first_batch, steps_per_epoch * settings.batch_size, settings.batch_size):
            turn = None
            if stepper is not None and stepper.paused:  # step mode: wait here until a step is granted
                turn = stepper.next_turn(stop)
                start, window_start, last_preview_time = (t + turn.waited_seconds for t in
                                                          (start, window_start, last_preview_time))
                if turn.expired:
                    yield from end_paused(model, settings, step, budget, steps_per_epoch, start, stepper,
                                          (images, labels), run_state())
                    return
            if knobs is not None:  # (after a pause: a knob turned while paused counts from the next step)
                turned = knobs.take()
                if turned:
                    lr = apply_turn(model, optimizers, turned, lr)
                    changes.append({"step": step, **turned})
            index = order[batch_start:batch_start + settings.batch_size]
            if team is not None:
                index = team.shard(index)
            batch = images[index].unsqueeze(1).float().div_(255)
            inspecting = turn is not None and turn.inspect
            if inspecting:  # the same batch and noise, looked at just before and just after the update
                before = inspect(model, batch, labels[index], seed=settings.seed * 1_000_003 + step)
            losses = model.training_step(batch, labels[index], optimizers, noise_rng)
            if inspecting:
                stepped = StepReport(step + 1, before, inspect(model, batch, labels[index],
                                                               seed=settings.seed * 1_000_003 + step))
                stepper.post(stepped)
            for name, value in losses.items():
                loss_sums[name] = loss_sums.get(name, 0.0) + value
            step += 1
            window_steps += 1

            now = time.perf_counter()
            elapsed = now - start
            ending = stop.is_set() or budget.out_of_steps(step) or budget.out_of_time(elapsed)
            if team is not None:  # every process must end at the same step: decided together
                ending = budget.out_of_steps(step) or (step % settings.log_every == 0 and team.any(ending, device))
            if step % settings.log_every and not ending and not inspecting:
                continue

            # Report: this .item() waits for the device, so it happens every log_every steps only.
            if team is not None:
                totals = torch.stack([torch.as_tensor(v, dtype=torch.float32, device=device) for v in loss_sums.values()])
                team.average_([totals])  # the losses of the global batch: the mean over the processes
                loss_sums = dict(zip(loss_sums, totals))
            means = {name: float(total) / window_steps for name, total in loss_sums.items()}
            # The losses were computed before the last update, so check the weights themselves too.
            if not all(math.isfinite(v) for v in means.values()) or not weights_are_finite(model):
                model.load_state_dict(last_good)
                bad = ", ".join(f"{k} = {v}" for k, v in means.items() if not math.isfinite(v)) or "NaN or infinite weights"
                message = (
                    f"Training diverged at step {step} ({bad}). The weights were rolled back to the last good "
                    "ones. Try a smaller learning rate."
                )
                yield finish(model, settings, step, budget, steps_per_epoch, start, "diverged", message, means,
                             (images, labels))
                return
            last_good = snapshot(model)

            event = TrainEvent(
                step=step,
                total_steps=budget.total_steps,
                epoch=step / steps_per_epoch,
                losses=means,
                images_per_sec=window_steps * settings.batch_size / max(now - window_start, 1e-9),  # global batches
                elapsed_seconds=elapsed,
                eta_seconds=budget.eta(step, elapsed),
                fraction=budget.fraction(step, elapsed),
                changes=changes,
                inspection=stepped if inspecting else None,
            )
            loss_sums, window_steps, window_start, changes = {}, 0, now, []

            if ending:
                reason, message = "finished", ""
                if not budget.out_of_steps(step):
                    reason = "time limit" if budget.out_of_time(elapsed) and not stop.is_set() else "stopped"
                    of = f" of {budget.total_steps:,}" if budget.total_steps else ""
                    limit = f" (time limit of {settings.max_seconds:g} s)" if reason == "time limit" else ""
                    message = f"Stopped at step {step:,}{of}{limit}."
                yield event
                yield finish(model, settings, step, budget, steps_per_epoch, start, reason, message, means,
                             (images, labels), run_state())
                return

            # Previews are due every preview_seconds, but spaced by at least 3x what the last one took,
            # so a model slow to sample (784 pixel steps) still spends most of its time learning.
            wait = None if settings.preview_seconds is None else max(settings.preview_seconds, 3 * preview_cost)
            if inspecting or step >= next_preview_step or (wait is not None and now - last_preview_time >= wait):
                event.preview, event.preview_columns = preview_images(model, settings), preview_columns(model)
                if event.preview is not None:  # (a model that previews is a GenerativeModel)
                    event.diagnostics = {name: values.numpy() for name, values in model.diagnostics().items()}
                model.train()
                last_preview_time = time.perf_counter()
                preview_cost = last_preview_time - now
                next_preview_step = step + settings.preview_every
            yield event
        first_batch = 0


def end_paused(model, settings, step, budget, steps_per_epoch, start, stepper, data, state):
    """The last event of a run left paused for longer than its stepper allows (its model is kept)."""
    message = (f"Stopped at step {step:,}: it stayed paused for more than {stepper.max_pause_seconds:g} s in all. "
               "The model is kept.")
    yield finish(model, settings, step, budget, steps_per_epoch, start, "stopped", message, {}, data, state)


def finish(model, settings, step, budget, steps_per_epoch, start, reason, message, losses, data, state=None):
    """The last event: what the model fits after training (its after_training), a final preview, and
    why training ended. data: the run's (images, labels); state: the run's RunState, to continue it."""
    note = model.after_training(*data) if hasattr(model, "after_training") else None
    preview = preview_images(model, settings)
    model.train()
    elapsed = time.perf_counter() - start
    message = message or f"Finished {step:,} steps in {elapsed:.1f} s."
    if note:
        message = f"{message} {note}"
    return TrainEvent(
        step=step, total_steps=budget.total_steps, epoch=step / steps_per_epoch, losses=losses,
        elapsed_seconds=elapsed, fraction=1.0, preview=preview, preview_columns=preview_columns(model),
        done=True, reason=reason, message=message, run_state=state,
    )


def training_record(dataset, settings, device, last_event, lr, **how):
    """What a model learned from and how: the `training` entry of its config.json.

    One function for the CLI, the web app, the benchmarks and the classifier, so every model
    records the same facts: dataset, split, number of images, seed, device, steps, wall time,
    the settings, and how it was started (`how`: e.g. command="python -m genai train ...").
    """
    record = {
        **dataset.record(),
        "seed": settings.seed,
        "device": str(device),
        "steps": last_event.step if last_event else 0,
        "seconds": round(last_event.elapsed_seconds, 1) if last_event else 0.0,
        "ended": last_event.reason if last_event else "not started",
        "batch_size": settings.batch_size,
        "lr": lr,
        "epochs": settings.epochs,
        "max_steps": settings.max_steps,
        "time_limit": settings.max_seconds,
        **how,
    }
    if dataset.warning:
        record["warning"] = dataset.warning
    return record


def check_resume(state, settings, n_images, team, steps_per_epoch):
    """A saved run continues only as it was: one process, the same dataset size and batch size."""
    if team is not None:
        raise TrainingError("A run of several processes (torchrun) cannot be continued from a saved state: "
                            "continue it in one process.")
    if state.images != n_images:
        raise TrainingError(f"The saved run learned from {state.images:,} images, this dataset has {n_images:,}: "
                            "continue it on the same data (the same --limit).")
    if state.batch_size != settings.batch_size:
        raise TrainingError(f"The saved run used batches of {state.batch_size}, not {settings.batch_size}: "
                            "continue it with its own batch size.")
    budget = Budget(settings, steps_per_epoch)
    if budget.total_steps is not None and budget.total_steps <= state.step:
        raise TrainingError(f"The saved run has already trained {state.step:,} steps; the budget counts from its "
                            f"start, so give more than that (it ends at {budget.total_steps:,}).")


def weights_are_finite(model):
    """True if no weight or buffer holds NaN or infinity (one device sync for all of them)."""
    checks = [torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()]
    return bool(torch.stack(checks).all())


def snapshot(model):
    """A copy of the weights, to roll back to if training diverges."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
