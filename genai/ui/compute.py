"""The CPU-heavy part of a request runs in one of a few compute slots, one per core by default.

Thirty students moving sliders at once make thirty requests; running thirty forward passes
together only makes them share the cores and all finish late. Only the model's own work
(drawing a grid, a walk, encoding pictures) waits for a slot here; everything else about a
request (reading it, answering from the result cache, sending the picture) goes on meanwhile,
so a cached answer never queues behind a computation.

    with compute_slot():
        images = sample(model, seed, 64)
"""

import threading
from contextlib import contextmanager

from . import settings

_slots = None
_making = threading.Lock()


@contextmanager
def compute_slot():
    """Hold one of GENAI_COMPUTE_CONCURRENCY slots (default: the number of CPU cores) while computing."""
    global _slots
    with _making:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.compute_concurrency())
    with _slots:
        yield
