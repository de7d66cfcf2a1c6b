"""Grids asked for at the same moment are drawn in one forward pass, and each is what its seed draws alone."""

import threading

import numpy as np
import pytest

from genai.models import create_model
from genai.sampling import sample
from genai.ui import batching, request_costs


@pytest.fixture(autouse=True)
def known_speed(monkeypatch):
    """Each model's speed known already: timing it (request_costs.speed) would take the first compute slot
    and draw a few digits of its own, while these tests count the passes the requests make."""
    known = request_costs.Speed(per_call=0.001, per_image=1e-4)
    monkeypatch.setattr(request_costs, "known_speed", lambda model: known)
    monkeypatch.setattr(request_costs, "speed", lambda model: known)


@pytest.fixture
def busy_slots(monkeypatch, busy_slots):
    """conftest's busy_slots, with batching turned on: it is for accelerators, so on this CPU the tests
    turn it on, to see requests pile up as they do under load."""
    monkeypatch.setattr(batching, "BATCH_ON_CPU", True)
    return busy_slots


def ask_at_once(requests, busy_slots, model, token="model-a"):
    results, threads = [None] * len(requests), []

    def ask(i, seed, count, label):
        try:
            results[i] = batching.draw_together(token, model, seed, count, label, 1.0, {})
        except Exception as error:  # noqa: BLE001 - the test looks at it
            results[i] = error

    for i, (seed, count, label) in enumerate(requests):
        threads.append(threading.Thread(target=ask, args=(i, seed, count, label)))
        threads[-1].start()
    threading.Event().wait(0.3)  # all of them are waiting now
    busy_slots.close()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.parametrize("family,arch", [("gan", "dcgan"), ("vae", "conv"), ("diffusion", "unet")])
def test_simultaneous_grids_take_one_forward_pass_and_each_is_what_its_seed_draws_alone(monkeypatch, busy_slots,
                                                                                      family, arch):
    model = create_model(family, arch, seed=0, conditional=True, **({"channels": 8} if arch != "conv" else {}))
    passes = []
    real_decode = batching.decode
    monkeypatch.setattr(batching, "decode", lambda *args: passes.append(len(args[1])) or real_decode(*args))
    requests = [(seed, count, label) for seed, count, label in
                [(1, 64, None), (2, 10, 3), (3, 100, None), (1, 64, None), (4, 1, 9), (5, 30, 0)]]
    results = ask_at_once(requests, busy_slots, model)
    assert passes == [sum(count for _, count, _ in requests)]  # one pass for all six
    for (seed, count, label), images in zip(requests, results):
        assert np.array_equal(images, sample(model, seed, count, labels=label)), (seed, count, label)


def test_a_failed_pass_tells_every_request_that_waited_for_it(monkeypatch, busy_slots):
    model = create_model("gan", "mlp", seed=0)

    def broken(*args):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(batching, "decode", broken)
    results = ask_at_once([(1, 4, None), (2, 4, None), (3, 4, None)], busy_slots, model)
    assert all(isinstance(result, RuntimeError) for result in results)
    assert batching._waiting == {} and batching._led == set()  # nothing left behind for the next requests


def test_requests_for_different_models_or_settings_are_not_mixed(monkeypatch, busy_slots):
    gan, other = create_model("gan", "mlp", seed=0), create_model("gan", "mlp", seed=1)
    passes = []
    real_decode = batching.decode
    monkeypatch.setattr(batching, "decode", lambda *args: passes.append(len(args[1])) or real_decode(*args))
    results = []
    threads = [threading.Thread(target=lambda m, t: results.append((t, batching.draw_together(t, m, 7, 4, None, 1.0, {}))),
                                args=(model, token)) for model, token in ((gan, "a"), (other, "b"), (gan, "a"))]
    for thread in threads:
        thread.start()
    threading.Event().wait(0.3)
    busy_slots.close()
    for thread in threads:
        thread.join(30)
    assert sorted(passes) == [4, 8]  # the two requests for model a together, model b alone
    by_token = {token: images for token, images in results}
    assert np.array_equal(by_token["a"], sample(gan, 7, 4)) and np.array_equal(by_token["b"], sample(other, 7, 4))


def test_on_a_cpu_each_request_draws_its_own_grid_by_default(monkeypatch):
    """Measured: one pass of several grids is slower than separate passes for convolutional models on a CPU."""
    model = create_model("gan", "mlp", seed=0)
    passes = []
    real_decode = batching.decode
    monkeypatch.setattr(batching, "decode", lambda *args: passes.append(len(args[1])) or real_decode(*args))
    assert not batching.BATCH_ON_CPU
    images = batching.draw_together("model-a", model, 3, 12, None, 1.0, {})
    assert passes == [12] and np.array_equal(images, sample(model, 3, 12))
