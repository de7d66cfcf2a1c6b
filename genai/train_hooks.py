"""The pieces the training loop (genai/train.py) calls around its steps, one class each.

    StepMode   pause the run and look at single steps (genai/stepping.py)
    KnobTurns  settings turned from another thread while the run goes on (genai/knobs.py)
    Teamwork   one run over several processes started by torchrun (genai/distributed.py)
    Rollback   put back the last good weights when training diverges

The loop always calls them; a piece with nothing to do (no stepper, no knobs, one process) passes
everything through, so the loop reads the same for every run. None of them draws a random number
from the run's generators: a run takes the same steps with or without them.

The step itself is the one piece kept elsewhere, since it has a whole idea of its own:
training_together.TrainingTogether takes model.training_step, or, where runs of one kind train at
the same time (GENAI_STACK_RUNS), that step batched with theirs.
"""

import math

import torch

from .knobs import apply_turn
from .stepping import StepReport, inspect


class StepMode:
    """Step mode, from the loop's side (the other side is stepping.StepControl).

    Before each step, while the run is paused: wait until a step is granted. The wait is taken off the
    run's clock, so a pause counts against neither the time limit nor the speed. On the last step of an
    advance (an "inspected" step): look at the batch just before and just after the update, with the
    same noise, and post both looks at once; the loop then reports that step with a preview.
    """

    def __init__(self, stepper, stop, clock, seed):
        self.stepper, self.stop, self.clock, self.seed = stepper, stop, clock, seed
        self.inspecting = False  # the step under way is an inspected one
        self.report = None  # the StepReport of the step just taken, if it was inspected
        self._before = None

    def wait_for_turn(self):
        """Called before each step: False if the run stayed paused longer than the stepper allows (it must end)."""
        self.inspecting, self.report = False, None
        if self.stepper is None or not self.stepper.paused:
            return True
        turn = self.stepper.next_turn(self.stop)
        self.clock.pause(turn.waited_seconds)
        self.inspecting = turn.inspect
        return not turn.expired

    def _look(self, model, batch, labels, step):
        # The same seed before and after the update: both looks see the same noise.
        return inspect(model, batch, labels, seed=self.seed * 1_000_003 + step)

    def look_before(self, model, batch, labels, step):
        """Just before the update of step `step` (counted from 0): look, if this step is inspected."""
        if self.inspecting:
            self._before = self._look(model, batch, labels, step)

    def look_after(self, model, batch, labels, step):
        """Just after the update: look again, and post the pair (numbered step + 1, the steps taken)."""
        if self.inspecting:
            self.report = StepReport(step + 1, self._before, self._look(model, batch, labels, step))
            self.stepper.post(self.report)

    def too_long(self, step):
        """The last event's message of a run that stayed paused too long."""
        return (f"Stopped at step {step:,}: it stayed paused for more than {self.stepper.max_pause_seconds:g} s "
                "in all. The model is kept.")


class KnobTurns:
    """Live knobs, from the loop's side (the other side is knobs.LiveKnobs).

    Values turned from another thread are applied before the next step (the learning rate to every
    optimizer, a model setting to the model's config), and each change is reported once, with the
    step it took effect at, in the next event's `changes`.
    """

    def __init__(self, knobs):
        self.knobs = knobs
        self.changes = []  # since the last event

    def apply(self, model, optimizers, lr, step):
        """Called before each step: returns the run's learning rate from this step on (the new one, if turned)."""
        if self.knobs is None:
            return lr
        turned = self.knobs.take()
        if turned:
            lr = apply_turn(model, optimizers, turned, lr)
            self.changes.append({"step": step, **turned})
        return lr

    def take_changes(self):
        """The changes for the next event (and none left for the one after)."""
        changes, self.changes = self.changes, []
        return changes


class Teamwork:
    """A run over several processes (distributed.Team), from the loop's side.

    Each process learns from its shard of every global batch (the optimizers average the gradients:
    distributed.averaging_optimizers); a report shows the mean of the processes' losses; and all the
    processes end at the same step, or the ones still training would wait for the others forever.
    With team=None (one process) each method passes its input through.
    """

    def __init__(self, team, log_every, device):
        self.team, self.log_every, self.device = team, log_every, device

    def shard(self, index):
        """This process's part of the global batch's indices."""
        return index if self.team is None else self.team.shard(index)

    def end_together(self, ending, out_of_steps, step):
        """Whether every process ends after this step. The step budget is the same everywhere; a stop
        or the clock is not, so those are decided together (one all-reduce, every log_every steps only)."""
        if self.team is None:
            return ending
        return out_of_steps or (step % self.log_every == 0 and self.team.any(ending, self.device))

    def average(self, loss_sums):
        """The loss sums of the whole global batch: each process's sums, averaged over the processes."""
        if self.team is None:
            return loss_sums
        totals = torch.stack([torch.as_tensor(v, dtype=torch.float32, device=self.device) for v in loss_sums.values()])
        self.team.average_([totals])
        return dict(zip(loss_sums, totals))


class Rollback:
    """Divergence: a loss gone NaN or infinite (a learning rate too large, most often).

    At each report the losses, and the weights themselves, are checked; if anything is not finite,
    the weights of the last good report are put back, so the run ends with a model that still works
    (the loop then ends the run as "diverged"). Checked at reports only, since it waits for the device.
    """

    def __init__(self, model):
        self.model = model
        self.last_good = snapshot(model)

    def diverged(self, means):
        """True if the run diverged (the weights are then rolled back); else the weights become the last good ones."""
        # The losses were computed before the last update, so check the weights themselves too.
        if all(math.isfinite(v) for v in means.values()) and weights_are_finite(self.model):
            self.last_good = snapshot(self.model)
            return False
        self.model.load_state_dict(self.last_good)
        return True

    @staticmethod
    def message(step, means):
        bad = ", ".join(f"{k} = {v}" for k, v in means.items() if not math.isfinite(v)) or "NaN or infinite weights"
        return (f"Training diverged at step {step} ({bad}). The weights were rolled back to the last good ones. "
                "Try a smaller learning rate.")


def weights_are_finite(model):
    """True if no weight or buffer holds NaN or infinity (one device sync for all of them)."""
    checks = [torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()]
    return bool(torch.stack(checks).all())


def snapshot(model):
    """A copy of the weights, to roll back to if training diverges."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
