"""Step mode: pause a training run, then advance it one step (or ten) at a time, and look at each step.

    control = StepControl()
    for event in train(model, dataset, settings, stepper=control):   # in one thread ...
        ...
    control.pause()                                                  # ... and, from another
    ticket = control.advance(1)
    step = control.wait_for(ticket, timeout=60)   # a StepReport: the batch before and after the update
    control.resume()

For the last step of each advance the training loop looks at the batch twice, just before and just
after the update (model.inspect_batch: the loss terms, and a number for every image, like what a
GAN's discriminator says of each digit). Both looks use the same images and the same noise, so any
difference is the update's doing.

Looking changes nothing: the inspection draws its noise from a generator of its own (not the run's)
and puts back the BatchNorm statistics it moved, so a run stepped through ends with exactly the
weights it would have had without pausing. Time spent paused does not count against the run's time
limit; a run paused for more than `max_pause_seconds` in all ends (and its model is kept).

A paused run computes nothing, so on a shared server it need not keep its training slot:
StepControl(slot=...) lends the slot while another run waits for one, and takes a slot again before
the next step (genai/ui/training_slots.py). Waiting for it counts as neither training nor pause time.
"""

import threading
import time
from dataclasses import dataclass

import torch


@dataclass
class StepReport:
    """One inspected step: `step` is the step number after the update."""

    step: int
    before: object  # models.base.BatchReport, just before the update
    after: object  # the same batch and noise, just after it


@dataclass
class Turn:
    """What the training loop is told before a step: whether to inspect it, how long it waited."""

    inspect: bool = False
    waited_seconds: float = 0.0
    expired: bool = False  # paused for longer than allowed: end the run


class StepControl:
    """Pause, advance and resume a run from another thread (the web app's buttons, an API call)."""

    def __init__(self, max_pause_seconds=None, slot=None):
        self.max_pause_seconds = max_pause_seconds
        self.slot = slot  # the run's training slot (take(timeout), lend_if_wanted()), or None: nothing to lend
        self.waiting_for_slot = False  # between a pause and the next step: waiting to take a slot again
        self.paused_seconds = 0.0  # so far, in all
        self.paused = False  # read without the lock by the loop, once per step
        self._granted = 0  # steps the loop may take while paused
        self._tickets = 0  # advances asked for so far
        self._answered = 0  # the last ticket a report answers
        self._report = None
        self._ended = False
        self._changed = threading.Condition()

    def pause(self):
        """Hold the run before its next step."""
        with self._changed:
            self.paused = True
            self._changed.notify_all()

    def resume(self):
        """Let the run go on at full speed."""
        with self._changed:
            self.paused, self._granted = False, 0
            self._changed.notify_all()

    def advance(self, steps):
        """Pause (if running) and let the run take `steps` more steps; returns a ticket for wait_for()."""
        with self._changed:
            self.paused = True
            self._granted += int(steps)
            self._tickets += 1
            self._changed.notify_all()
            return self._tickets

    def wait_for(self, ticket, timeout):
        """The StepReport that answers `ticket`, or None if the run ended (or `timeout` seconds passed) first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._answered < ticket and not self._ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)
            return self._report if self._answered >= ticket else None

    def end(self):
        """The run is over: nobody waits any longer."""
        with self._changed:
            self._ended, self.paused = True, False
            self._changed.notify_all()

    @property
    def ended(self):
        return self._ended

    # The training loop's side.

    def next_turn(self, stop, poll_seconds=0.25):
        """Called by the loop before a step while paused: wait until a step is granted, the run is
        resumed or stopped (`stop`, a threading.Event), or the pause has lasted too long. Meanwhile the
        run's slot is lent to a run that waits for one, and taken again before the step."""
        started = time.monotonic()
        with self._changed:
            while self.paused and not self._granted and not stop.is_set():
                if self.max_pause_seconds is not None and \
                        self.paused_seconds + time.monotonic() - started > self.max_pause_seconds:
                    self.paused_seconds += time.monotonic() - started
                    return Turn(waited_seconds=time.monotonic() - started, expired=True)
                if self.slot is not None:
                    self.slot.lend_if_wanted()
                self._changed.wait(poll_seconds)
            waited = time.monotonic() - started
            self.paused_seconds += waited
            inspect = False
            if self.paused and self._granted and not stop.is_set():
                self._granted -= 1
                inspect = self._granted == 0  # the last step of an advance is the one shown
        return Turn(inspect=inspect, waited_seconds=waited + self.take_slot_again(poll_seconds))

    def take_slot_again(self, poll_seconds):
        """Before a step: hold a training slot again if it was lent; returns the seconds waited for it.

        A stopped run waits too: the loop takes one more step before it ends, and no step runs without a
        slot (that is what keeps the server's memory within what its slots allow)."""
        if self.slot is None or self.slot.held:
            return 0.0
        started = time.monotonic()
        self.waiting_for_slot = True
        try:
            while not self.slot.take(timeout=poll_seconds):
                pass
        finally:
            self.waiting_for_slot = False
        return time.monotonic() - started

    def post(self, report):
        """The loop's report of an inspected step: answers every advance asked for so far."""
        with self._changed:
            self._report, self._answered = report, self._tickets
            self._changed.notify_all()


def inspect(model, images, labels, seed):
    """model.inspect_batch on a batch, changing nothing: noise from a generator seeded with `seed`
    (so two calls see the same noise), no gradients, and BatchNorm's running statistics put back."""
    device = images.device
    generator = torch.Generator(device=device).manual_seed(seed)
    buffers = [buffer.clone() for buffer in model.buffers()]
    with torch.no_grad():
        report = model.inspect_batch(images, labels, generator)
    with torch.no_grad():
        for buffer, saved in zip(model.buffers(), buffers):
            buffer.copy_(saved)
    return report
