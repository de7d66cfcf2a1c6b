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


# --------------------------------------------------------------------------------------------
# Runs of one group share a slot (genai/training_together.py: they take their steps together)
# --------------------------------------------------------------------------------------------

def test_runs_of_one_group_share_a_slot_while_they_fit_in_its_memory():
    slots = TrainingSlots(1, slot_mb=100)
    members = [slots.lease(group="vae", mb=30) for _ in range(3)]
    assert all(member.take(timeout=0) for member in members)  # one slot, three runs, no wait
    assert slots.free == 0
    fourth = slots.lease(group="vae", mb=30)
    assert not fourth.take(timeout=0.05)  # 120 MB would not fit in the slot's 100
    members[0].end()
    assert fourth.take(timeout=0)  # a member left: room again
    members[1].give_back()  # (as a paused run lends its slot) ...
    assert members[1].take(timeout=0)  # ... and it joins again at once, nobody waiting
    for member in members[1:] + [fourth]:
        member.end()
    assert slots.free == 1 and slots._open == {}  # the last member gave the slot back


def test_joining_a_groups_slot_jumps_no_queue():
    """While a run of another kind waits, newcomers of the group wait behind it: the slot empties, the other
    run trains, and only then does the group take the slot again, in the order its runs came."""
    slots = TrainingSlots(1)
    member = slots.lease(group="vae")
    assert member.take(timeout=0)
    other, newcomer, later = slots.lease(group="gan"), slots.lease(group="vae"), slots.lease(group="vae")
    assert not other.take(timeout=0.05)  # waits for a free slot, and keeps its place between tries
    assert not newcomer.take(timeout=0.05)  # its group's slot has room, but `other` waited longer
    member.lend_if_wanted()  # a paused member alone in its slot lends it ...
    assert not member.held and other.take(timeout=0) and not newcomer.take(timeout=0.05)  # ... to `other`
    assert member.take(timeout=0.05) is False  # back in line behind newcomer
    other.end()
    assert newcomer.take(timeout=0)  # first in line: the free slot, its group's again
    assert later.take(timeout=0) is False  # member is in line ahead of later ...
    assert member.take(timeout=0) and later.take(timeout=0)  # ... joins, then later joins
    for lease in (member, newcomer, later):
        lease.end()
    assert slots.free == 1 and not slots.wanted()


def test_a_paused_member_keeps_a_slot_it_shares_since_lending_it_would_free_nothing():
    slots = TrainingSlots(1)
    members = [slots.lease(group="vae") for _ in range(2)]
    assert all(member.take(timeout=0) for member in members)
    other = slots.lease(group="gan")
    assert not other.take(timeout=0.05) and slots.wanted()
    members[0].lend_if_wanted()
    assert members[0].held  # the other member trains on in the slot anyway
    members[1].end()
    members[0].lend_if_wanted()  # alone in it now: lent
    assert not members[0].held and other.take(timeout=0)
    other.end()
    members[0].end()
    assert slots.free == 1


def test_a_run_waiting_for_a_slot_gets_it_when_the_groups_last_member_ends():
    slots = TrainingSlots(1)
    members = [slots.lease(group="vae") for _ in range(2)]
    assert all(member.take(timeout=0) for member in members)
    other = slots.lease(group="gan")
    got = []
    waiting = threading.Thread(target=lambda: got.append(other.take(timeout=30)), daemon=True)
    waiting.start()
    members[0].end()
    waiting.join(0.3)
    assert waiting.is_alive()  # one member still trains
    members[1].end()
    waiting.join(30)
    assert got == [True]
    other.end()


def leased_run(slots, digits, group, model, settings, control=None):
    """A run as the Train tab starts it: lease a slot (of its group), wait for it, train holding it, end it."""
    lease = slots.lease(group=group, mb=10)
    control = control or StepControl(slot=lease)
    control.slot = lease
    record = {"events": [], "started": None}

    def run():
        try:
            while not lease.take(timeout=0.1):
                pass
            record["started"] = time.monotonic()
            record["events"].extend(train(model, digits, settings, stepper=control))
        finally:
            record["ended"] = time.monotonic()
            lease.end()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, record


def test_three_runs_of_one_kind_train_at_once_in_one_slot_and_another_kind_waits(digits, monkeypatch):
    from genai.training_together import run_group

    monkeypatch.setenv("GENAI_STACK_RUNS", "1")
    slots = TrainingSlots(1, slot_mb=100)
    vae = run_group("vae", "mlp", {}, 16, "cpu")
    gan = run_group("gan", "mlp", {}, 16, "cpu")
    assert vae is not None and gan is not None and vae != gan
    paused = StepControl()
    paused.pause()  # the first VAE run pauses before its first step: it must hold up nobody
    runs = [leased_run(slots, digits, vae, create_model("vae", "mlp", seed=k),
                       TrainSettings(max_steps=100, batch_size=16, seed=k, preview_images=0),
                       control=paused if k == 0 else None) for k in range(3)]
    deadline = time.monotonic() + 60
    while not all(record["started"] for _, record in runs):
        assert time.monotonic() < deadline, "the runs of one group did not all get the one slot"
        time.sleep(0.05)
    other = leased_run(slots, digits, gan, create_model("gan", "mlp", seed=0),
                       TrainSettings(max_steps=5, batch_size=16, seed=0, preview_images=0))
    for thread, _ in runs[1:]:
        thread.join(120)
        assert not thread.is_alive()
    other[0].join(120)  # the paused run lent its share: the GAN got the slot when the others ended
    assert not other[0].is_alive() and other[1]["events"][-1].step == 5
    assert other[1]["started"] >= max(record["ended"] for _, record in runs[1:])
    paused.resume()
    runs[0][0].join(120)
    assert not runs[0][0].is_alive() and runs[0][1]["events"][-1].step == 100
    assert slots.free == 1 and slots._open == {}


def test_three_visitors_training_the_same_model_share_the_one_slot_without_waiting(monkeypatch, mnist_dir):
    pytest.importorskip("gradio")
    from genai.ui import train_tab
    from genai.ui.session import Session

    monkeypatch.setenv("GENAI_TRAIN_CONCURRENCY", "1")
    monkeypatch.setenv("GENAI_STACK_RUNS", "1")  # (on a CPU it is off unless asked for)
    monkeypatch.setenv("GENAI_DATA_DIR", str(mnist_dir))
    monkeypatch.setattr(train_tab, "_slots", None)  # made afresh, with one slot
    sessions, statuses = [Session() for _ in range(3)], [[], [], []]
    threads = [threading.Thread(target=lambda k=k: statuses[k].extend(
        str(update.get("status", "")) for update in train_tab.train_model(vae_form(30), sessions[k], outputs=OUTPUTS)),
        daemon=True) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
        assert not thread.is_alive()
    for run in statuses:
        assert not any(status.startswith("Waiting:") for status in run), run  # nobody waited for the slot
        assert "Your model is" in run[-1]
    assert all(session.models for session in sessions)
    assert train_tab.training_slots().free == 1 and train_tab.training_slots()._open == {}
