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

The loop itself is training_loop(), one screen: batches, one step, the losses' running sums, the
events. What a run may add (step mode, live knobs, several processes, the rollback after a
divergence) are small pieces in train_hooks.py; the previews are in previews.py. Where runs of one
kind train at the same time (on a GPU), their steps may be computed together in one batched step,
each run still learning what it would alone: training_together.py.
"""

import dataclasses
import threading
import time
from dataclasses import dataclass, field

import torch

from .distributed import averaging_optimizers
from .previews import Previews, preview_columns, preview_count, preview_images
from .run_state import RunState, RunStateError
from .settings import SettingsError, check_values
from .train_hooks import KnobTurns, Rollback, StepMode, Teamwork
from .training_together import TrainingTogether

__all__ = ["Budget", "TrainEvent", "TrainSettings", "TrainingError", "preview_count", "preview_images", "train",
           "training_record"]


class TrainingError(ValueError):
    """Bad training settings, explained for a human."""


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
        """Raise TrainingError for a setting out of its range (declared in genai/settings.py), NaN and
        infinity included, or a batch larger than the dataset."""
        if self.epochs is None and self.max_steps is None and self.max_seconds is None:
            raise TrainingError("Give the run a budget: a number of seconds, of steps or of epochs.")
        values = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "max_steps": self.max_steps,
                  "seconds": self.max_seconds}
        try:
            check_values({name: value for name, value in values.items() if value is not None},
                         name_of=lambda setting: setting.label or setting.name, strict=True)
        except SettingsError as error:
            raise TrainingError(str(error)) from None
        if self.batch_size > dataset_size:
            raise TrainingError(
                f"Batch size {self.batch_size} is larger than the dataset ({dataset_size} images): choose a smaller one."
            )


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

    def why_it_ended(self, step, elapsed, stopped):
        """(reason, message) for a run that ends after `step`: "finished" (all its steps taken), else
        "time limit" or "stopped" (stopped: someone set the run's stop event)."""
        if self.out_of_steps(step):
            return "finished", ""
        reason = "time limit" if self.out_of_time(elapsed) and not stopped else "stopped"
        of = f" of {self.total_steps:,}" if self.total_steps else ""
        limit = f" (time limit of {self.max_seconds:g} s)" if reason == "time limit" else ""
        return reason, f"Stopped at step {step:,}{of}{limit}."


class Clock:
    """A run's training time in seconds: since the run started, less the time it stayed paused in step
    mode, so a pause counts against neither the time limit, the ETA nor the images per second."""

    def __init__(self):
        self.started = time.perf_counter()
        self.paused = 0.0

    def seconds(self):
        return time.perf_counter() - self.started - self.paused

    def pause(self, seconds):
        """Take `seconds` spent waiting off the run's time."""
        self.paused += seconds


class BatchOrder:
    """Which images each step learns from.

    Each epoch is a fresh random permutation of the dataset's indices, drawn on the CPU from the run's
    own generator (so a seed gives the same batches on every device), then cut into batches; an
    incomplete last batch is left out. A continued run starts mid-epoch, where it stopped.
    """

    def __init__(self, n_images, batch_size, generator, device):
        self.n_images, self.batch_size, self.generator, self.device = n_images, batch_size, generator, device
        self.steps_per_epoch = n_images // batch_size
        self.shuffled_epoch = None  # the epoch whose permutation was drawn last ...
        self.shuffled_from = None  # ... and the generator's state just before it was drawn

    def batches(self, step=0):
        """The indices of each step's batch (on the training device), from step `step` on, endlessly."""
        epoch, first = divmod(step, self.steps_per_epoch)
        while True:
            self.shuffled_epoch, self.shuffled_from = epoch, self.generator.get_state()
            order = torch.randperm(self.n_images, generator=self.generator).to(self.device)
            for position in range(first, self.steps_per_epoch):
                yield order[position * self.batch_size:(position + 1) * self.batch_size]
            epoch, first = epoch + 1, 0

    def state_after(self, step):
        """The generator's state to continue a run after `step` steps from: as it stood before the next
        step's epoch was shuffled, so that a continued run draws that epoch again, in the same order."""
        if self.shuffled_epoch == step // self.steps_per_epoch:
            return self.shuffled_from
        return self.generator.get_state()  # that epoch is not shuffled yet


@dataclass
class Run:
    """A run under way: what its steps read and change, and what continuing it later needs."""

    model: object
    settings: TrainSettings
    images: torch.Tensor  # the whole dataset as one uint8 tensor on the training device
    labels: torch.Tensor
    order: BatchOrder
    noise_rng: torch.Generator  # the training noise (a GAN's z, a VAE's eps, ...)
    optimizers: dict  # name -> optimizer (with a team: each averages the gradients over the processes)
    lr: float  # the run's learning rate (live knobs may turn it)
    budget: Budget
    team: object = None  # distributed.Team; None: one process
    step: int = 0  # steps taken, counted from the run's start (a continued run's earlier steps included)
    earlier_seconds: float = 0.0  # a continued run's training time before this session

    def batch(self, index):
        """The images at `index` scaled to [0, 1], shaped (N, 1, 28, 28), and their labels."""
        return self.images[index].unsqueeze(1).float().div_(255), self.labels[index]

    def saved_state(self, clock):
        """What continuing this run later needs, after the step just taken (None for a run of several processes)."""
        if self.team is not None:
            return None
        return RunState(
            step=self.step, seconds=round(self.earlier_seconds + clock.seconds(), 1), images=len(self.images),
            batch_size=self.settings.batch_size, lr=self.lr, order_rng=self.order.state_after(self.step),
            noise_rng=self.noise_rng.get_state(), optimizers={n: o.state_dict() for n, o in self.optimizers.items()},
            ema_updates=getattr(self.model, "ema_updates", None))


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
    together = TrainingTogether(team)  # its steps, taken with other runs of its kind where that is on
    try:
        yield from training_loop(model, dataset, settings, stop, team, knobs, stepper, resume, together)
    finally:
        together.leave()  # the other runs of its kind wait for it no more
        if stepper is not None:
            stepper.end()  # nobody waits for a step that will never come


def training_loop(model, dataset, settings, stop, team, knobs, stepper, resume, together):
    """train()'s body: set the run up, then batch after batch take one step, and report every log_every steps.

    Step mode, live knobs, the other processes of a torchrun run and the rollback after a divergence
    are pieces from train_hooks.py, called at their moment; a piece with nothing to do passes through.
    together (training_together.py) takes the step itself: model.training_step, or, where runs of one
    kind train together, that step batched with theirs (each run still learns what it would alone).
    """
    run = start_run(model, dataset, settings or TrainSettings(epochs=5), team, stepper, resume)
    settings, budget, stop, clock = run.settings, run.budget, stop or threading.Event(), Clock()
    step_mode = StepMode(stepper, stop, clock, settings.seed)  # the pieces, in the order they act on a step
    knob_turns = KnobTurns(knobs)
    teamwork = Teamwork(team, settings.log_every, run.images.device)
    rollback = Rollback(model)
    previews = Previews(settings, run.step, clock)
    loss_sums, window_steps, window_start = {}, 0, 0.0  # the losses and the speed since the last report
    model.train()

    for index in run.order.batches(run.step):
        if not step_mode.wait_for_turn():  # paused for longer than the stepper allows
            yield finish(run, clock, "stopped", step_mode.too_long(run.step), {}, run.saved_state(clock))
            return
        run.lr = knob_turns.apply(model, run.optimizers, run.lr, run.step)  # (after the wait: turned while paused, it counts)
        images, labels = run.batch(teamwork.shard(index))
        step_mode.look_before(model, images, labels, run.step)
        losses = together.training_step(model, images, labels, run.optimizers, run.noise_rng)  # model.training_step
        step_mode.look_after(model, images, labels, run.step)
        for name, value in losses.items():  # (tensors: summing them does not wait for the device)
            loss_sums[name] = loss_sums.get(name, 0.0) + value
        run.step, window_steps = run.step + 1, window_steps + 1

        step, now = run.step, clock.seconds()
        ending = stop.is_set() or budget.out_of_steps(step) or budget.out_of_time(now)
        ending = teamwork.end_together(ending, budget.out_of_steps(step), step)  # (all processes at the same step)
        if step % settings.log_every and not ending and not step_mode.inspecting:
            continue

        # Report: float() waits for the device, so it happens every log_every steps only.
        means = {name: float(total) / window_steps for name, total in teamwork.average(loss_sums).items()}
        if rollback.diverged(means):
            yield finish(run, clock, "diverged", Rollback.message(step, means), means)
            return
        event = TrainEvent(
            step=step, total_steps=budget.total_steps, epoch=step / run.order.steps_per_epoch, losses=means,
            images_per_sec=window_steps * settings.batch_size / max(now - window_start, 1e-9),  # global batches
            elapsed_seconds=now, eta_seconds=budget.eta(step, now), fraction=budget.fraction(step, now),
            changes=knob_turns.take_changes(), inspection=step_mode.report)
        loss_sums, window_steps, window_start = {}, 0, now
        if ending:
            reason, message = budget.why_it_ended(step, now, stop.is_set())
            yield event
            yield finish(run, clock, reason, message, means, run.saved_state(clock))
            return
        if previews.due(step, now, step_mode.inspecting):
            previews.add_to(event, model, now)
        yield event


def start_run(model, dataset, settings, team, stepper, resume):
    """Check the settings (against the data, the processes, step mode), then set the run up: the data on
    the model's device, the run's own generators, the optimizers and, to resume, the state it goes on from."""
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

    order = BatchOrder(n_images, settings.batch_size, torch.Generator().manual_seed(settings.seed), device)
    rank = 0 if team is None else team.rank
    noise_rng = torch.Generator(device=device).manual_seed(settings.seed + rank)  # each process its own noise
    lr = settings.lr or model.default_lr
    run = Run(model, settings, images, labels, order, noise_rng, model.configure_optimizers(lr), lr,
              Budget(settings, order.steps_per_epoch), team)
    if resume is not None:
        continue_from(run, resume)
    if team is not None:
        team.broadcast_weights(model)
        run.optimizers = averaging_optimizers(run.optimizers, team)
    return run


def continue_from(run, state):
    """Resume: put back a saved run's optimizers, generators, step, learning rate and time, if it fits this run."""
    try:
        state.check_fits(len(run.images), run.settings.batch_size, run.budget.total_steps, run.team is not None)
        state.restore(run.model, run.optimizers, run.order.generator, run.noise_rng)
    except RunStateError as error:
        raise TrainingError(str(error)) from None
    run.lr, run.step, run.earlier_seconds = state.lr, state.step, state.seconds
    run.budget.first_step = state.step  # (the ETA counts this session's speed)


def check_labels_once(model, labels):
    """Conditional models need labels 0..num_classes-1: checked once per run, not every step."""
    if getattr(model, "conditional", False) and len(labels):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= model.config.num_classes:
            raise TrainingError(f"The labels run from {low} to {high}; this model knows 0 to {model.config.num_classes - 1}.")


def finish(run, clock, reason, message, losses, state=None):
    """The last event: what the model fits after training (its after_training), a final preview, and
    why training ended. state: the run's RunState, to continue it (None: it cannot be continued)."""
    model = run.model
    note = model.after_training(run.images, run.labels) if hasattr(model, "after_training") else None
    preview = preview_images(model, run.settings)
    model.train()
    elapsed = clock.seconds()
    message = message or f"Finished {run.step:,} steps in {elapsed:.1f} s."
    if note:
        message = f"{message} {note}"
    return TrainEvent(
        step=run.step, total_steps=run.budget.total_steps, epoch=run.step / run.order.steps_per_epoch, losses=losses,
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
