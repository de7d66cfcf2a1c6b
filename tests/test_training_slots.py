"""Training slots: a run paused in step mode lends its slot to a run that waits, and takes one again
before its next step, so a paused run never keeps the class waiting and no step runs without a slot."""

import threading
import time

import pytest

from genai.data import load_dataset
from genai.models import create_model
from genai.stepping import StepControl
from genai.train import TrainSettings, train
from genai.ui.training_slots import TrainingSlots


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=512)


def paused_run(digits, slot, stop=None):
    """A small VAE run holding `slot`, paused before its first step, training in a thread."""
    control = StepControl(slot=slot)
    control.pause()
    events = []
    settings = TrainSettings(max_steps=5, batch_size=16, seed=0, preview_images=0)
    thread = threading.Thread(target=lambda: events.extend(
        train(create_model("vae", "mlp", seed=0), digits, settings, stop=stop, stepper=control)), daemon=True)
    thread.start()
    return control, thread, events


def test_a_slot_is_never_held_twice_nor_given_back_twice():
    slots = TrainingSlots(1)
    first, second = slots.lease(), slots.lease()
    assert first.take(timeout=0) and first.take(timeout=0)  # taking again what it holds changes nothing
    assert not second.take(timeout=0.05) and slots.free == 0
    first.give_back()
    first.give_back()
    assert slots.free == 1
    with pytest.raises(RuntimeError, match="nobody held"):
        slots.give_back()


def test_a_paused_run_keeps_its_slot_while_nobody_waits(digits):
    slots = TrainingSlots(1)
    slot = slots.lease()
    assert slot.take(timeout=0)
    control, thread, events = paused_run(digits, slot)
    time.sleep(1.0)  # paused, polling: nobody wants the slot
    assert slot.held and slots.free == 0
    control.resume()
    thread.join(60)
    assert events[-1].step == 5 and slot.held
    slot.give_back()


def test_a_paused_run_lends_its_slot_and_takes_one_again_before_its_next_step(digits):
    slots = TrainingSlots(1)
    first = slots.lease()
    assert first.take(timeout=0)
    started = time.monotonic()
    control, thread, events = paused_run(digits, first)
    second = slots.lease()
    assert second.take(timeout=10)  # the paused run lent it
    assert not first.held
    ticket = control.advance(1)
    assert control.wait_for(ticket, timeout=3.0) is None  # no step without a slot ...
    assert control.waiting_for_slot
    second.give_back()  # ... and one as soon as the slot is free again
    report = control.wait_for(ticket, timeout=30)
    assert report is not None and report.step == 1 and first.held and not control.waiting_for_slot
    control.resume()
    thread.join(60)
    assert not thread.is_alive() and events[-1].step == 5
    assert events[-1].elapsed_seconds < time.monotonic() - started - 3.0  # the wait for a slot was no training time
    first.give_back()
    assert slots.free == 1


def test_a_stopped_run_waiting_for_its_slot_takes_its_last_step_only_with_one(digits):
    slots = TrainingSlots(1)
    first = slots.lease()
    assert first.take(timeout=0)
    stop = threading.Event()
    control, thread, events = paused_run(digits, first, stop=stop)
    second = slots.lease()
    assert second.take(timeout=10)
    stop.set()
    thread.join(1.0)
    assert thread.is_alive() and control.waiting_for_slot  # the last step waits for a slot, too
    second.give_back()
    thread.join(30)
    assert not thread.is_alive() and events[-1].reason == "stopped" and first.held
    first.give_back()


# --------------------------------------------------------------------------------------------
# The Train tab on a server with one training slot (GENAI_TRAIN_CONCURRENCY=1)
# --------------------------------------------------------------------------------------------

WIDGETS = ["progress", "losses", "preview", "status", "model_name", "download", "start", "stop", "dataset_status",
           "session", "replay_frame", "replay_picture", "replay_caption", "histogram", "digits", "link"]
OUTPUTS = {name: name for name in WIDGETS} | {"pickers": [], "vae_pickers": [], "lists": [], "knobs": {}}


def vae_form(max_steps):
    return {"dataset": "mnist", "family": "vae", "arch": "mlp", "conditional": False, "latent_dim": 20, "seconds": 60,
            "batch_size": 64, "lr": 1e-3, "beta": 1.0, "seed": 0, "max_steps": max_steps, "d_lr_ratio": 1.0}


def test_a_paused_run_does_not_keep_another_visitor_from_training(monkeypatch, mnist_dir):
    pytest.importorskip("gradio")
    from genai.ui import step_mode, train_tab
    from genai.ui.session import Session

    monkeypatch.setenv("GENAI_TRAIN_CONCURRENCY", "1")
    monkeypatch.setenv("GENAI_DATA_DIR", str(mnist_dir))
    monkeypatch.setattr(train_tab, "_slots", None)  # made afresh, with one slot
    paused, other = Session(), Session()
    first_updates = []
    first = threading.Thread(target=lambda: first_updates.extend(
        train_tab.train_model(vae_form(100_000), paused, outputs=OUTPUTS)), daemon=True)
    first.start()
    deadline = time.monotonic() + 60
    while paused.controls().stepper is None:  # until the first run trains (it loads the data first)
        assert time.monotonic() < deadline and first.is_alive()
        time.sleep(0.1)
    assert "Paused" in step_mode.pause_run(paused)

    statuses = []
    for update in train_tab.train_model(vae_form(5), other, outputs=OUTPUTS):
        statuses.append(str(update.get("status", "")))
        assert time.monotonic() < deadline + 60, statuses[-3:]
    assert any(status.startswith("Training:") for status in statuses)
    assert "Your model is" in statuses[-1] and other.models  # the second visitor's run trained and was kept

    train_tab.stop_training(paused)
    step_mode.resume_run(paused)
    first.join(60)
    assert not first.is_alive() and paused.models
    assert train_tab.training_slots().free == 1  # every slot back
