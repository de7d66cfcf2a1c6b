"""The CPU-heavy part of a request runs in one of a few compute slots, one per core by default,
shared fairly across visitors.

Thirty students moving sliders at once make thirty requests; running thirty forward passes
together only makes them share the cores and all finish late. Only the model's own work
(drawing a grid, a walk, encoding pictures, an evaluation) waits for a slot here; everything else
about a request (reading it, answering from the result cache, sending the picture) goes on
meanwhile, so a cached answer never queues behind a computation.

    with compute_slot():
        images = sample(model, seed, 64)

Fair share: a visitor (genai/ui/visitors.py: a client address, however many sessions it makes)
computes at most GENAI_HEAVY_PER_VISITOR things at once (1), and when a slot comes free it goes to
the next visitor in turn (round robin), not to whoever asked first. So one student sending twelve
requests at once holds one slot, and another student's request is served as soon as a slot is
free. A visitor may have GENAI_HEAVY_WAITING_PER_VISITOR more requests waiting (4); beyond that a
request is refused at once, so one visitor's requests never take every place in Gradio's queue.
Outside a request (tests, the command line) there is no visitor, and each computation counts alone.

Cost: a request says before it runs whether it is light (a model that draws in one pass: a grid in
milliseconds) or heavy (a diffusion or autoregressive grid, a walk, an evaluation: up to seconds). A
free slot goes to a light request first, in turn among visitors, then to a heavy one: a GAN's grid
then waits for at most one computation to end, not for every other visitor's diffusion grid.
"""

import threading
from collections import Counter, deque
from contextlib import contextmanager

from . import settings, visitors
from .errors import AppError

_slots = None
_making = threading.Lock()
_held = threading.local()  # the visitor this thread computes for now: a nested compute_slot() is part of it


class Ticket:
    """One request waiting for a slot; light: it computes for milliseconds, not seconds."""

    def __init__(self, light):
        self.light = light


class FairSlots:
    """`count` slots; each visitor holds at most `per_visitor` of them, and waiting visitors take turns."""

    def __init__(self, count, per_visitor, waiting_per_visitor):
        self.count, self.per_visitor, self.waiting_per_visitor = count, per_visitor, waiting_per_visitor
        self._busy = 0
        self._running = Counter()  # visitor -> slots held
        self._turns = {}  # visitor -> deque of its waiting tickets; the dict's order is the order of turns
        self._changed = threading.Condition()

    def _next_ticket(self):
        """The ticket served next: the oldest one of the first visitor in turn who may compute more now, a
        light one first (each visitor's oldest ticket counts: its own requests keep their order)."""
        if self._busy >= self.count:
            return None
        ready = [tickets[0] for visitor, tickets in self._turns.items() if self._running[visitor] < self.per_visitor]
        return next((ticket for ticket in ready if ticket.light), ready[0] if ready else None)

    def acquire(self, visitor, light=False):
        ticket = Ticket(light)
        with self._changed:
            waiting = self._turns.get(visitor, ())
            if visitor is not None and len(waiting) >= self.waiting_per_visitor:
                raise AppError(f"You already have {len(waiting) + self._running[visitor]} requests (pictures, walks, "
                               "evaluations) being computed or waiting their turn: wait for their answers before "
                               "asking for more.")
            self._turns.setdefault(visitor, deque()).append(ticket)
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
            self._changed.notify_all()  # the order of turns changed: the next in turn may take a free slot

    def _forget(self, visitor, ticket):
        tickets = self._turns.get(visitor)
        if tickets is not None and ticket in tickets:
            tickets.remove(ticket)
            if not tickets:
                del self._turns[visitor]
        self._changed.notify_all()

    def release(self, visitor):
        with self._changed:
            self._busy -= 1
            self._running[visitor] -= 1
            if self._running[visitor] <= 0:
                del self._running[visitor]
            self._changed.notify_all()

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
def compute_slot(light=False):
    """Hold a compute slot while computing, taking turns with the other visitors (light: a few milliseconds of
    work, served before heavier requests)."""
    visitor = visitors.current()
    if visitor is not None and getattr(_held, "visitor", None) == visitor:
        yield  # already computing for this visitor in this thread: waiting for a second slot would never end
        return
    # Each computation outside a request is a visitor of its own: it waits only for a free slot.
    key = visitor if visitor is not None else object()
    fair = slots()
    fair.acquire(key, light)
    _held.visitor = visitor
    try:
        yield
    finally:
        _held.visitor = None
        fair.release(key)
