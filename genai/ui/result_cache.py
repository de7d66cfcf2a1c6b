"""A small shared memory of recent results, so a class dragging the same slider is answered from memory.

When thirty students move the seed slider to 42 at once, the model draws seed 42 once; the
other requests get the same picture. Results are remembered by a key that names everything
they depend on (the model's identity, seed, grid size, digit, temperature), and the
least recently used ones are forgotten once the memory holds `max_bytes`.

    CACHE = ResultCache(max_bytes=64 * 2**20)
    image = CACHE.get_or_make(("sample", entry.token, seed, side, label, temperature), lambda: draw(...))
"""

import threading
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np
from PIL import Image


def size_of(value):
    """Bytes a cached value holds (PIL images, numpy arrays, bytes; anything else counts as 1 KB)."""
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, Image.Image):
        return value.width * value.height * len(value.getbands())
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(size_of(item) for item in value)
    return 1024


class ResultCache:
    """Thread-safe least-recently-used memory bounded in bytes; requests for one key at once share one make()."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._items = OrderedDict()  # key -> (value, bytes)
        self._bytes = 0
        self._lock = threading.Lock()
        self._making = {}  # key -> Lock held while the first request makes it
        self.hits = self.misses = 0

    def get_or_make(self, key, make):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0]
            making = self._making.setdefault(key, threading.Lock())
        with making:  # simultaneous requests for the same key wait for the first one's result
            with self._lock:
                if key in self._items:
                    self.hits += 1
                    return self._items[key][0]
            try:
                value = make()
            except BaseException:
                with self._lock:
                    self._making.pop(key, None)
                raise
            with self._lock:  # stored before the key stops being "in the making": no second request makes it
                self.misses += 1
                self._store(key, value)
                self._making.pop(key, None)
            return value

    @contextmanager
    def making(self, key):
        """Make key's value elsewhere (a grid shown while it is drawn, then put()): while this is held, other
        requests for the key wait for it (get_or_make, or making() again) instead of making it twice."""
        with self._lock:
            lock = self._making.setdefault(key, threading.Lock())
        with lock:
            try:
                yield
            finally:
                with self._lock:
                    if self._making.get(key) is lock:
                        del self._making[key]

    def get(self, key):
        """The value kept for key (now the most recently used), or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key][0]

    def put(self, key, value):
        """Keep a value made elsewhere (a grid shown while it was drawn, then kept whole)."""
        with self._lock:
            self.misses += 1
            self._store(key, value)

    def _store(self, key, value):
        size = size_of(value)
        replaced = self._items.pop(key, None)  # made twice (after a failed first try): counted once
        if replaced is not None:
            self._bytes -= replaced[1]
        if size > self.max_bytes:
            return
        self._items[key] = (value, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, dropped) = self._items.popitem(last=False)
            self._bytes -= dropped

    @property
    def bytes(self):
        return self._bytes
