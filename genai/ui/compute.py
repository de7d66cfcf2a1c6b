"""The CPU-heavy part of a request runs in one of a few compute slots, one per core by default,
shared fairly across visitors.

Thirty students moving sliders at once make thirty requests; running thirty forward passes
together only makes them share the cores and all finish late. Only the model's own work
(drawing a grid, a walk, encoding pictures, an evaluation) waits for a slot here; everything else
about a request (reading it, answering from the result cache, sending the picture) goes on
meanwhile, so a cached answer never queues behind a computation.

    with compute_slot(seconds=request_costs.predicted_seconds(model, 64)):
        images = sample(model, seed, 64)

Fair share: a visitor (genai/ui/visitors.py: a client address, however many sessions it makes)
computes at most GENAI_HEAVY_PER_VISITOR things at once (1), and when a slot comes free it goes to
a visitor who waits (by the cost below), not to whoever asked first. So one student sending twelve
requests at once holds one slot, and another student's request is served as soon as a slot is
free. A visitor may have GENAI_HEAVY_WAITING_PER_VISITOR more requests waiting (4); beyond that a
request is refused at once, so one visitor's requests never take every place in Gradio's queue.
Outside a request (tests, the command line) there is no visitor, and each computation counts alone.

Cost: a request says before it runs how many seconds it will compute (genai/ui/request_costs.py: a
GAN's grid a few milliseconds, a diffusion grid of 200 steps many seconds), and a free slot goes to
the waiting request with the highest response ratio,

    (seconds waited + seconds it will compute) / seconds it will compute,

among each visitor's oldest (its own requests keep their order; its waiting counts from when it was
last served, so a visitor's queue builds no credit while it computes). A cheap request soon outranks
a long one, so a GAN's grid waits for at most the computations already running; a long one's ratio
grows as it waits, so it is never passed over for ever (Brinch Hansen's "highest response ratio next").
"""

import threading
import time
from collections import Counter, deque
from contextlib import contextmanager

from . import settings, visitors
from .errors import AppError

_slots = None
_making = threading.Lock()
_held = threading.local()  # the visitor this thread computes for now: a nested compute_slot() is part of it


SHORTEST_SECONDS = 0.001  # a prediction below this counts as this much (a ratio needs a number above 0)


class Ticket:
    """One request waiting for a slot: when it asked, and how long it will compute."""

    def __init__(self, seconds):
        self.seconds = max(seconds, SHORTEST_SECONDS)
        self.asked = time.monotonic()


class FairSlots:
    """`count` slots; each visitor holds at most `per_visitor` of them, and waiting visitors take turns."""

    def __init__(self, count, per_visitor, waiting_per_visitor):
        self.count, self.per_visitor, self.waiting_per_visitor = count, per_visitor, waiting_per_visitor
        self._busy = 0
        self._running = Counter()  # visitor -> slots held
        self._turns = {}  # visitor -> deque of its waiting tickets; the dict's order is the order of turns
        self._served = {}  # visitor -> when it last got or gave back a slot (its waiting counts from then)
        self._now = time.monotonic()  # the moment every waiting thread ranks the tickets at (see _change)
        self._changed = threading.Condition()

    def _change(self):
        """Something changed: every waiting thread looks again, all ranking at this one moment (were each
        to read the clock, two could each see the other first and both sleep with a slot free)."""
        self._now = time.monotonic()
        self._changed.notify_all()

    def _ratio(self, visitor, ticket):
        waited = self._now - max(ticket.asked, self._served.get(visitor, ticket.asked))
        return (max(waited, 0.0) + ticket.seconds) / ticket.seconds

    def _next_ticket(self):
        """The ticket served next: of each visitor who may compute more now, its oldest; of those, the one
        with the highest response ratio (the first in turn, of equals)."""
        if self._busy >= self.count:
            return None
        ready = [(visitor, tickets[0]) for visitor, tickets in self._turns.items()
                 if self._running[visitor] < self.per_visitor]
        if not ready:
            return None
        return max(ready, key=lambda pair: self._ratio(*pair))[1]  # (max keeps the first of equals)

    def acquire(self, visitor, seconds=0.0):
        """Wait for a slot for `visitor`'s computation of about `seconds` (its turn, its cost), then hold it."""
        ticket = Ticket(seconds)
        with self._changed:
            waiting = self._turns.get(visitor, ())
            if visitor is not None and len(waiting) >= self.waiting_per_visitor:
                raise AppError(f"You already have {len(waiting) + self._running[visitor]} requests (pictures, walks, "
                               "evaluations) being computed or waiting their turn: wait for their answers before "
                               "asking for more.")
            self._turns.setdefault(visitor, deque()).append(ticket)
            self._change()
            try:
                self._changed.wait_for(lambda: self._next_ticket() is ticket)
            except BaseException:
                self._forget(visitor, ticket)
                raise
            tickets = self._turns.pop(visitor)  # served: its other requests go to the back of the turns
            tickets.popleft()
            if tickets:
                self._turns[visitor] = tickets
            self._busy += 1
            self._running[visitor] += 1
            self._served[visitor] = time.monotonic()
            self._change()  # the order of turns changed: the next in turn may take a free slot

    def _forget(self, visitor, ticket):
        tickets = self._turns.get(visitor)
        if tickets is not None and ticket in tickets:
            tickets.remove(ticket)
            if not tickets:
                del self._turns[visitor]
                if not self._running[visitor]:
                    self._served.pop(visitor, None)  # nothing running nor waiting: nothing to remember
        self._change()

    def release(self, visitor):
        with self._changed:
            self._busy -= 1
            self._running[visitor] -= 1
            if self._running[visitor] <= 0:
                del self._running[visitor]
            if visitor in self._turns:
                self._served[visitor] = time.monotonic()  # its next request waits from now, not while it computed
            elif not self._running[visitor]:
                self._served.pop(visitor, None)  # nothing running nor waiting: nothing to remember
            self._change()

    def waiting(self):
        """How many requests wait for a slot now (of every visitor)."""
        with self._changed:
            return sum(len(tickets) for tickets in self._turns.values())


def slots():
    """The server's compute slots: GENAI_COMPUTE_CONCURRENCY of them (default: the number of CPU cores)."""
    global _slots
    with _making:
        if _slots is None:
            _slots = FairSlots(settings.compute_concurrency(), settings.heavy_per_visitor(),
                               settings.heavy_waiting_per_visitor())
        return _slots


@contextmanager
def compute_slot(seconds=0.0):
    """Hold a compute slot while computing, taking turns with the other visitors; seconds: how long it will
    compute, predicted (genai/ui/request_costs.py; 0 for small work that draws from no model)."""
    visitor = visitors.current()
    if visitor is not None and getattr(_held, "visitor", None) == visitor:
        yield  # already computing for this visitor in this thread: waiting for a second slot would never end
        return
    # Each computation outside a request is a visitor of its own: it waits only for a free slot.
    key = visitor if visitor is not None else object()
    fair = slots()
    fair.acquire(key, seconds)
    _held.visitor = visitor
    try:
        yield
    finally:
        _held.visitor = None
        fair.release(key)
