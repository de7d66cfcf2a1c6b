"""The server's training slots: how many runs train at once, and whether a run waits for one.

    slots = TrainingSlots(2)
    slot = slots.lease(visitor)            # one run's hold on a slot; refused if this visitor has a run already
    while not slot.take(timeout=1.0):      # wait in the run's own handler: Stop can cancel it
        ...
    StepControl(slot=slot)                 # step mode lends it while the run is paused
    slot.end()                             # when the run ends or never starts (once, whatever happened)

A run paused in step mode computes nothing, so keeping its slot would only make the class wait: while
another run waits for a slot, the paused run lends its own, and before its next step it takes one again,
waiting its turn like everyone else (genai/stepping.py). A slot is never held twice nor given back twice.

A visitor (genai/ui/visitors.py: a client address, however many sessions or API clients it makes) has
at most GENAI_RUNS_PER_VISITOR runs training or waiting (1): a second Start is refused at once, so
one student cannot take the slots, nor every waiting place, from the class.
"""

import threading
from collections import Counter

from .errors import AppError


class TrainingSlots:
    """`count` slots shared by every visitor; a run takes one before its first step."""

    def __init__(self, count, runs_per_visitor=1):
        self.count = count
        self.runs_per_visitor = runs_per_visitor
        self._free = count
        self._waiting = 0  # runs inside take() right now
        self._runs = Counter()  # visitor -> its leases not yet ended (runs training or waiting)
        self._changed = threading.Condition()

    def take(self, timeout):
        """Take a free slot, waiting at most `timeout` seconds; False if none came free."""
        with self._changed:
            self._waiting += 1
            try:
                if not self._changed.wait_for(lambda: self._free > 0, timeout):
                    return False
                self._free -= 1
                return True
            finally:
                self._waiting -= 1

    def give_back(self):
        with self._changed:
            if self._free >= self.count:
                raise RuntimeError("a training slot was given back that nobody held")
            self._free += 1
            self._changed.notify()

    def wanted(self):
        """Whether a run waits for a slot right now."""
        with self._changed:
            return self._waiting > 0

    def lease(self, visitor=None):
        """A hold on a slot for one run of `visitor` (None: a run outside any request, never refused)."""
        with self._changed:
            if visitor is not None:
                if self._runs[visitor] >= self.runs_per_visitor:
                    raise AppError(
                        "You already have a run training or waiting for a slot, in another tab or client at your "
                        "address: press Stop there (or wait until it ends), then press Start here.")
                self._runs[visitor] += 1
        return SlotLease(self, visitor)

    def _ended(self, visitor):
        with self._changed:
            self._runs[visitor] -= 1
            if self._runs[visitor] <= 0:
                del self._runs[visitor]

    @property
    def free(self):
        return self._free


class SlotLease:
    """One run's hold on a training slot: taken, perhaps lent while paused and taken again, given back once.

    Used by one run at a time (its handler, then its training loop, which runs inside that handler)."""

    def __init__(self, slots, visitor=None):
        self.slots = slots
        self.visitor = visitor
        self.held = False
        self.ended = False

    def take(self, timeout):
        """Hold a slot (at once if already held); False if none came free within `timeout` seconds."""
        if not self.held:
            self.held = self.slots.take(timeout)
        return self.held

    def lend_if_wanted(self):
        """Give the slot back while another run waits for one (the run must not step until it takes one again)."""
        if self.held and self.slots.wanted():
            self.give_back()

    def give_back(self):
        if self.held:
            self.held = False
            self.slots.give_back()

    def end(self):
        """The run is over (or never started): give the slot back and count it no more for its visitor."""
        self.give_back()
        if not self.ended:
            self.ended = True
            if self.visitor is not None:
                self.slots._ended(self.visitor)
