"""Every CPU-heavy event is bounded twice: a concurrency limit in Gradio's queue, and a compute slot
(genai/ui/compute.py) held while it computes, so a class pressing buttons at once cannot thrash the cores."""

import threading
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("gradio")

from genai import metrics  # noqa: E402
from genai.timelapse import Timelapse  # noqa: E402
from genai.ui import compute, datasets, evaluate_tab, evaluate_time, model_store, replay, settings  # noqa: E402
from genai.ui.session import Session  # noqa: E402

HEAVY = ["sample", "drawing", "steps_side_by_side", "compare", "interpolate", "explore", "encode_drawing", "evaluate",
         "timelapse_gif", "train"]


@pytest.fixture(scope="module")
def events():
    """The app's events by api_name, as build_demo wires them."""
    from genai.ui import build_demo

    return {fn.api_name: fn for fn in build_demo().fns.values() if fn.api_name}


@pytest.mark.parametrize("api_name", HEAVY)
def test_every_cpu_heavy_event_has_a_concurrency_limit(events, api_name):
    limit = events[api_name].concurrency_limit
    assert isinstance(limit, int) and limit >= 1, (api_name, limit)  # None would run every request at once
    if api_name != "train":  # training has its own slots and waiting places (train_tab.py)
        assert limit <= settings.request_concurrency(), (api_name, limit)


def test_evaluations_leave_a_compute_slot_for_sampling(events):
    assert events["evaluate"].concurrency_limit == evaluate_tab.evaluate_concurrency()
    assert evaluate_tab.evaluate_concurrency() == max(1, settings.compute_concurrency() - 1)


def computes_only_in_a_slot(request, busy_slots, computed):
    """Run request() in a thread: `computed` (a list the heavy call appends to) stays empty while every
    slot is busy, and fills once one is free."""
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(request()), daemon=True)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive() and not computed  # it waits for a slot before computing
    busy_slots.close()
    thread.join(30)
    assert computed and outcome
    return outcome[0]


def test_the_timelapse_gif_is_encoded_in_a_compute_slot(monkeypatch, busy_slots, tmp_path):
    session = Session()
    timelapse = session.controls().timelapse = Timelapse()
    for step in range(3):
        preview = np.full((4, 28, 28), 60 * step, dtype=np.uint8)
        timelapse.add(SimpleNamespace(preview=preview, preview_columns=2, step=step, elapsed_seconds=step, losses={}))
    monkeypatch.setattr(replay, "pictures_folder", lambda: tmp_path)
    encoded, real = [], Timelapse.gif_bytes
    monkeypatch.setattr(Timelapse, "gif_bytes", lambda self: encoded.append(1) or real(self))
    update = computes_only_in_a_slot(lambda: replay.replay_gif("", session), busy_slots, encoded)
    assert update["value"].endswith(".gif") and update["visible"]


def test_an_evaluation_runs_in_a_compute_slot(monkeypatch, busy_slots):
    entry = SimpleNamespace(name="some-model", model="the model", metadata={})
    monkeypatch.setattr(model_store, "find", lambda name, session: entry)
    monkeypatch.setattr(model_store, "dataset_of", lambda entry: "mnist")
    monkeypatch.setattr(datasets, "get", lambda name, split: "the test split")
    evaluated = []

    def evaluate(model, test, **options):
        evaluated.append((model, test, options["n_samples"]))
        return {"class_counts": [50] * 10}

    monkeypatch.setattr(metrics, "evaluate", evaluate)
    monkeypatch.setattr(evaluate_tab, "figures_markdown", lambda results: "figures")
    monkeypatch.setattr(evaluate_time, "expected_seconds", lambda entry, samples: 5.0)  # (a fake model: no speed)
    markdown, counts = computes_only_in_a_slot(lambda: evaluate_tab.evaluate_model("some-model", 500, 0, None),
                                               busy_slots, evaluated)
    assert evaluated == [("the model", "the test split", 500)] and markdown.endswith("figures")
