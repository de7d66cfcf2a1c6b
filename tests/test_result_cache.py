"""The shared memory of recent results (genai/ui/result_cache.py): made once per key, bounded in bytes,
least recently used first out, safe to use from many request threads at once."""

import dataclasses
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from genai.ui.result_cache import ResultCache, size_of


def maker(calls, nbytes=1000):
    """A make() that counts its calls in `calls` and returns a new array of nbytes."""
    def make():
        calls.append(1)
        return np.zeros(nbytes, dtype=np.uint8)

    return make


def test_a_hit_returns_the_very_object_made_and_does_not_make_it_again():
    cache, calls = ResultCache(max_bytes=10_000), []
    first = cache.get_or_make(("sample", "model-a", 42), maker(calls))
    again = cache.get_or_make(("sample", "model-a", 42), maker(calls))
    assert again is first and len(calls) == 1
    assert (cache.hits, cache.misses, cache.bytes) == (1, 1, 1000)


def test_it_holds_at_most_max_bytes_and_forgets_the_least_recently_used_first():
    cache, calls = ResultCache(max_bytes=3000), []
    for key in ("a", "b", "c"):
        cache.get_or_make(key, maker(calls))
    cache.get_or_make("a", maker(calls))  # "a" used again: "b" is now the oldest
    cache.get_or_make("d", maker(calls))  # full: "b" goes
    assert cache.bytes == 3000 and len(calls) == 4
    for key in ("a", "c", "d"):
        cache.get_or_make(key, maker(calls))
    assert len(calls) == 4  # still there
    cache.get_or_make("b", maker(calls))
    assert len(calls) == 5 and cache.bytes == 3000  # made again, and "a" (now the oldest) went


def test_a_result_bigger_than_the_whole_memory_is_returned_but_not_kept():
    cache, calls = ResultCache(max_bytes=3000), []
    cache.get_or_make("small", maker(calls))
    big = cache.get_or_make("big", maker(calls, nbytes=5000))
    assert big.nbytes == 5000 and cache.bytes == 1000  # the small one stays
    cache.get_or_make("big", maker(calls, nbytes=5000))
    assert len(calls) == 3


@pytest.mark.parametrize("position", range(6))
def test_keys_that_differ_in_any_setting_miss(position):
    base = ("sample", "model-a", 42, 64, None, 1.0)
    changed = list(base)
    changed[position] = {0: "drawing", 1: "model-b", 2: 43, 3: 16, 4: 7, 5: 0.5}[position]
    cache, calls = ResultCache(max_bytes=10_000), []
    first = cache.get_or_make(base, maker(calls))
    other = cache.get_or_make(tuple(changed), maker(calls))
    assert other is not first and len(calls) == 2


def test_the_sample_tabs_key_names_every_setting_of_a_grid():
    from genai.ui.sample_tab import GridRequest

    base = GridRequest(SimpleNamespace(token="model-a"), seed=42, count=64, columns=8, label=None, temperature=1.0,
                       options={"sampling_steps": 20, "guidance_scale": 2.0})
    changes = {"entry": SimpleNamespace(token="model-b"), "seed": 43, "count": 16, "columns": 4, "label": 3,
               "temperature": 0.5, "options": {"sampling_steps": 10, "guidance_scale": 2.0}}
    assert set(changes) == {field.name for field in dataclasses.fields(GridRequest)}  # a new setting is tested too
    for name, value in changes.items():
        assert dataclasses.replace(base, **{name: value}).key() != base.key(), name


def test_a_failed_make_is_not_remembered():
    cache, calls = ResultCache(max_bytes=10_000), []

    def broken():
        raise ValueError("no such model")

    with pytest.raises(ValueError):
        cache.get_or_make("k", broken)
    assert cache.get_or_make("k", maker(calls)).nbytes == 1000 and len(calls) == 1 and cache.bytes == 1000


def test_requests_for_one_key_at_the_same_moment_make_it_once_and_share_it():
    cache, calls, results = ResultCache(max_bytes=10_000), [], []

    def slow():
        calls.append(1)
        time.sleep(0.3)  # a forward pass
        return np.zeros(100, dtype=np.uint8)

    threads = [threading.Thread(target=lambda: results.append(cache.get_or_make("seed 42", slow))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1 and len(results) == 16 and all(result is results[0] for result in results)


def test_many_threads_racing_over_many_keys_make_each_once_and_count_bytes_exactly():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        cache, made, lock = ResultCache(max_bytes=10**8), {}, threading.Lock()
        rounds, workers = 1500, 8
        barrier = threading.Barrier(workers)

        def make(key):
            with lock:
                made[key] = made.get(key, 0) + 1
            return np.zeros(100, dtype=np.uint8)

        def worker():
            for key in range(rounds):
                barrier.wait()  # every thread asks for the same new key at the same moment
                cache.get_or_make(key, lambda key=key: make(key))

        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sys.setswitchinterval(previous)
    assert made == {key: 1 for key in range(rounds)}  # each made once, whoever asked first
    assert cache.bytes == 100 * rounds and cache.misses == rounds and cache.hits == rounds * (workers - 1)


def test_sizes_are_counted_from_what_a_value_holds():
    assert size_of(b"x" * 10) == 10
    assert size_of(np.zeros((4, 28, 28), dtype=np.uint8)) == 4 * 28 * 28
    assert size_of(Image.new("RGB", (10, 20))) == 600
    assert size_of((Image.new("L", (10, 10)), 1.5)) == 100 + 1024  # anything else counts as 1 KB
