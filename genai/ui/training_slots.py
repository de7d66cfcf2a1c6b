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

Runs of one group share a slot (genai/training_together.py: where stacking is on, the runs of one
family, architecture, config, batch size and device take their steps together, in one batched step).
A run whose group already trains in a slot joins that slot at once, without waiting for a free one,
as long as the members' memory (their estimates, genai/costs.py) stays within what one run may take
(slot_mb, GENAI_TRAIN_MEMORY_MB): so K runs sharing a slot take no more memory than the slot allows,
and the server's memory stays within what its slots allow. Joining jumps no queue: while other runs
wait for a slot, a newcomer of the group waits behind them, so a class training one model never
keeps a student's other model waiting for ever. The slot is given back when its last
member ends or leaves (a paused member lends its share like any run). A run of another kind, or one
that does not fit, waits for a free slot as before.
"""

import threading
from collections import Counter

from .errors import AppError


class Slot:
    """One slot in use: the group whose runs share it (None: one run's own), how many hold it, their memory."""

    def __init__(self, group, mb):
        self.group, self.holders, self.mb = group, 1, mb


class TrainingSlots:
    """`count` slots shared by every visitor; a run takes one before its first step. slot_mb: the memory
    the runs sharing one slot may take together (None: runs of one group share a slot without a limit)."""

    def __init__(self, count, runs_per_visitor=1, slot_mb=None):
        self.count = count
        self.runs_per_visitor = runs_per_visitor
        self.slot_mb = slot_mb
        self._free = count
        self._waiting = []  # the leases of the runs waiting for a slot, the longest waiting first
        self._runs = Counter()  # visitor -> its leases not yet ended (runs training or waiting)
        self._open = {}  # group -> the slot its runs share now (a newcomer of the group joins it)
        self._changed = threading.Condition()

    def take(self, lease, timeout):
        """A Slot for `lease`'s run: its group's, if the group trains in one and the run fits there; else a
        free one, waiting at most `timeout` seconds for it; None if none came free (the run keeps its place
        in line for its next try, until it gets a slot or ends)."""
        with self._changed:
            if lease not in self._waiting:
                self._waiting.append(lease)
            # Joining a group's slot jumps no queue: only the run that has waited longest may join,
            # so a run of another kind is never kept waiting by newcomers of a group.
            if not self._changed.wait_for(lambda: self._free > 0 or (self._waiting[0] is lease and
                                                                      self._joinable(lease.group, lease.mb)), timeout):
                return None
            self._waiting.remove(lease)
            self._changed.notify_all()  # the next in line may join its group's slot now
            if self._joinable(lease.group, lease.mb):
                slot = self._open[lease.group]
                slot.holders, slot.mb = slot.holders + 1, slot.mb + lease.mb
                return slot
            self._free -= 1
            slot = Slot(lease.group, lease.mb)
            if lease.group is not None:
                self._open[lease.group] = slot  # (the group's fuller slot, if any, takes no newcomer any more)
            return slot

    def out_of_line(self, lease):
        """A run that waited no longer does (it ended, or was cancelled before it started)."""
        with self._changed:
            if lease in self._waiting:
                self._waiting.remove(lease)
                self._changed.notify_all()

    def _joinable(self, group, mb):
        slot = self._open.get(group) if group is not None else None
        return slot is not None and (self.slot_mb is None or slot.mb + mb <= self.slot_mb)

    def give_back(self, slot=None, mb=0.0):
        """One holder of `slot` lets go of it; the slot is free again once its last holder has."""
        with self._changed:
            if slot is None or slot.holders <= 0 or self._free >= self.count:
                raise RuntimeError("a training slot was given back that nobody held")
            slot.holders, slot.mb = slot.holders - 1, slot.mb - mb
            if slot.holders == 0:
                self._free += 1
                if self._open.get(slot.group) is slot:
                    del self._open[slot.group]
            self._changed.notify_all()  # a free slot, or room in a group's: a waiting run may take it

    def wanted(self):
        """Whether a run waits for a slot (between its tries too)."""
        with self._changed:
            return bool(self._waiting)

    def lease(self, visitor=None, group=None, mb=0.0):
        """A hold on a slot for one run of `visitor` (None: a run outside any request, never refused).
        group: the run's training_together.run_group (None: it trains alone); mb: its memory estimate."""
        with self._changed:
            if visitor is not None:
                if self._runs[visitor] >= self.runs_per_visitor:
                    raise AppError(
                        "You already have a run training or waiting for a slot, in another tab or client at your "
                        "address: press Stop there (or wait until it ends), then press Start here.")
                self._runs[visitor] += 1
        return SlotLease(self, visitor, group, mb)

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

    def __init__(self, slots, visitor=None, group=None, mb=0.0):
        self.slots = slots
        self.visitor = visitor
        self.group, self.mb = group, mb
        self.slot = None  # the Slot held (perhaps shared with the runs of its group), or None
        self.ended = False

    @property
    def held(self):
        return self.slot is not None

    def take(self, timeout):
        """Hold a slot (at once if already held, or if its group's slot has room); False if none came free
        within `timeout` seconds."""
        if self.slot is None:
            self.slot = self.slots.take(self, timeout)
        return self.held

    def lend_if_wanted(self):
        """Give the slot back while another run waits for one (the run must not step until it takes one again).
        A slot shared with other runs of its group is kept: letting go of it would free nothing."""
        if self.held and self.slots.wanted() and self.slot.holders == 1:
            self.give_back()

    def give_back(self):
        if self.held:
            slot, self.slot = self.slot, None
            self.slots.give_back(slot, self.mb)

    def end(self):
        """The run is over (or never started): give the slot back and count it no more for its visitor."""
        self.give_back()
        self.slots.out_of_line(self)
        if not self.ended:
            self.ended = True
            if self.visitor is not None:
                self.slots._ended(self.visitor)
