"""The training loop's pieces, each on its own (genai/train.py, genai/train_hooks.py, genai/previews.py).

The loop's behaviour as a whole (learning, stopping, determinism, resuming, step mode, several
processes) is tested in test_train.py, test_resume.py, test_stepping.py and test_distributed.py.
Here each piece is checked with small stand-ins, and the loop is held to one screen.
"""

import inspect
import json
import threading
from types import SimpleNamespace

import pytest
import torch

from genai import train as train_module
from genai.checkpoints import load_model, read_metadata, save_model
from genai.data import load_dataset
from genai.knobs import LiveKnobs
from genai.models import create_model
from genai.previews import Previews
from genai.run_state import RunStateError, load_run_state
from genai.stepping import StepControl, Turn
from genai.train import BatchOrder, Budget, Clock, TrainSettings, train
from genai.train_hooks import KnobTurns, Rollback, StepMode, Teamwork

from test_cli import cli


def test_the_core_loop_reads_in_one_screen():
    lines = inspect.getsource(train_module.training_loop).splitlines()
    assert len(lines) <= 80, f"training_loop has {len(lines)} lines: move what is not the loop itself into a piece"


# --- the clock, the batch order and the budget ------------------------------------------------


def test_the_clock_leaves_out_the_time_spent_paused():
    clock = Clock()
    before = clock.seconds()
    clock.pause(100.0)
    assert clock.seconds() < before  # 100 s of waiting taken off; far less than that passed
    assert clock.seconds() + 100.0 >= before


def test_the_batch_order_is_a_fresh_permutation_each_epoch_cut_into_whole_batches():
    order = BatchOrder(10, 3, torch.Generator().manual_seed(0), "cpu")
    batches = order.batches()
    first_epoch = [next(batches) for _ in range(3)]  # 10 // 3 = 3 batches; one image left out
    assert order.steps_per_epoch == 3 and all(len(b) == 3 for b in first_epoch)
    assert len(set(torch.cat(first_epoch).tolist())) == 9
    second_epoch = [next(batches) for _ in range(3)]
    assert not torch.equal(torch.cat(first_epoch), torch.cat(second_epoch))


def test_the_batch_order_from_a_saved_state_goes_on_with_the_same_batches():
    whole = BatchOrder(12, 4, torch.Generator().manual_seed(5), "cpu")
    batches = whole.batches()
    expected = [next(batches) for _ in range(8)]  # 3 steps an epoch: into the third epoch
    for stop_after in (0, 2, 3, 5, 6):  # mid-epoch and at an epoch's end (next epoch not drawn yet)
        part = BatchOrder(12, 4, torch.Generator().manual_seed(5), "cpu")
        taken = part.batches()
        for _ in range(stop_after):
            next(taken)
        state = part.state_after(stop_after)
        again = BatchOrder(12, 4, torch.Generator().set_state(state), "cpu").batches(stop_after)
        rest = [next(again) for _ in range(8 - stop_after)]
        assert all(torch.equal(a, b) for a, b in zip(rest, expected[stop_after:])), stop_after


def test_the_batch_order_state_after_an_epoch_already_drawn_is_from_before_it_was_drawn():
    """A run left paused at an epoch's end has drawn the next epoch already: it is drawn again when continued."""
    order = BatchOrder(12, 4, torch.Generator().manual_seed(5), "cpu")
    batches = order.batches()
    for _ in range(4):  # the 4th batch is the first of epoch 1: epoch 1 is drawn, 3 steps taken
        first_of_epoch_1 = next(batches)
    again = BatchOrder(12, 4, torch.Generator().set_state(order.state_after(3)), "cpu").batches(3)
    assert torch.equal(next(again), first_of_epoch_1)


def test_the_budget_says_why_a_run_ended():
    budget = Budget(TrainSettings(max_steps=100, max_seconds=5), steps_per_epoch=10)
    assert budget.why_it_ended(100, 1.0, stopped=False) == ("finished", "")
    assert budget.why_it_ended(40, 5.0, stopped=False) == ("time limit", "Stopped at step 40 of 100 (time limit of 5 s).")
    assert budget.why_it_ended(40, 5.0, stopped=True) == ("stopped", "Stopped at step 40 of 100.")
    timed = Budget(TrainSettings(max_seconds=5), steps_per_epoch=10)
    assert timed.why_it_ended(1234, 1.0, stopped=True) == ("stopped", "Stopped at step 1,234.")


# --- step mode --------------------------------------------------------------------------------


class FakeStepper:
    """Just enough of stepping.StepControl: paused, with the turns it hands out given in advance."""

    paused, max_pause_seconds = True, 30

    def __init__(self, *turns):
        self.turns, self.posted = list(turns), []

    def next_turn(self, stop):
        return self.turns.pop(0)

    def post(self, report):
        self.posted.append(report)


def test_step_mode_without_a_stepper_passes_through():
    step_mode = StepMode(None, threading.Event(), Clock(), seed=0)
    assert step_mode.wait_for_turn() and not step_mode.inspecting
    step_mode.look_before(None, None, None, 0)  # nothing to look at: the model is not even touched
    step_mode.look_after(None, None, None, 0)
    assert step_mode.report is None


def test_step_mode_takes_the_wait_off_the_clock_and_posts_what_an_inspected_step_did():
    model = create_model("vae", "mlp", seed=0)
    images, labels = torch.rand(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)
    clock = Clock()
    stepper = FakeStepper(Turn(inspect=True, waited_seconds=50.0), Turn(waited_seconds=1.0))
    step_mode = StepMode(stepper, threading.Event(), clock, seed=3)
    assert step_mode.wait_for_turn() and step_mode.inspecting and clock.paused == 50.0
    step_mode.look_before(model, images, labels, 6)
    with torch.no_grad():
        next(model.parameters()).add_(0.1)  # "the update"
    step_mode.look_after(model, images, labels, 6)
    assert stepper.posted == [step_mode.report] and step_mode.report.step == 7
    assert step_mode.report.before.losses != step_mode.report.after.losses
    assert step_mode.wait_for_turn() and not step_mode.inspecting and step_mode.report is None  # the next step


def test_step_mode_ends_a_run_paused_too_long():
    step_mode = StepMode(FakeStepper(Turn(waited_seconds=30.0, expired=True)), threading.Event(), Clock(), seed=0)
    assert not step_mode.wait_for_turn()
    assert step_mode.too_long(12) == "Stopped at step 12: it stayed paused for more than 30 s in all. The model is kept."


# --- live knobs -------------------------------------------------------------------------------


def test_knob_turns_apply_before_the_next_step_and_are_reported_once():
    model = create_model("vae", "mlp", seed=0)
    optimizers = model.configure_optimizers(1e-3)
    assert KnobTurns(None).apply(model, optimizers, 1e-3, step=0) == 1e-3
    knobs = LiveKnobs()
    turns = KnobTurns(knobs)
    assert turns.apply(model, optimizers, 1e-3, step=0) == 1e-3 and turns.take_changes() == []
    knobs.turn(lr=1e-4, beta=0.5)
    assert turns.apply(model, optimizers, 1e-3, step=7) == 1e-4
    assert optimizers["vae"].param_groups[0]["lr"] == 1e-4 and model.config.beta == 0.5
    assert turns.take_changes() == [{"step": 7, "lr": 1e-4, "beta": 0.5}]
    assert turns.take_changes() == []


# --- several processes ------------------------------------------------------------------------


class FakeTeam:
    """Two processes, as seen from rank 1, with the other process's flag and losses made up."""

    rank, world_size = 1, 2

    def __init__(self, other_ends=False):
        self.other_ends, self.asked = other_ends, 0

    def shard(self, index):
        return index[len(index) // 2:]

    def any(self, flag, device):
        self.asked += 1
        return flag or self.other_ends

    def average_(self, tensors):
        for t in tensors:
            t.copy_((t + 2.0) / 2)  # the other process's sums are all 2.0


def test_teamwork_without_a_team_passes_through():
    alone = Teamwork(None, log_every=10, device="cpu")
    index, sums = torch.arange(8), {"loss": torch.tensor(3.0)}
    assert alone.shard(index) is index and alone.average(sums) is sums
    assert alone.end_together(True, False, step=3) and not alone.end_together(False, False, step=10)


def test_teamwork_shards_averages_and_ends_every_process_at_the_same_step():
    team = FakeTeam(other_ends=True)
    teamwork = Teamwork(team, log_every=10, device="cpu")
    assert teamwork.shard(torch.arange(8)).tolist() == [4, 5, 6, 7]
    averaged = teamwork.average({"L_D": torch.tensor(4.0), "L_G": 6.0})
    assert {name: float(v) for name, v in averaged.items()} == {"L_D": 3.0, "L_G": 4.0}
    # Between reports the processes do not talk: a stop waits for the next multiple of log_every ...
    assert not teamwork.end_together(True, False, step=7) and team.asked == 0
    # ... where one process's stop (here the other's) ends them all.
    assert teamwork.end_together(False, False, step=10) and team.asked == 1
    assert teamwork.end_together(False, True, step=13) and team.asked == 1  # the step budget is everyone's


# --- divergence ---------------------------------------------------------------------------------


def test_rollback_keeps_good_weights_and_puts_them_back_when_the_run_diverges():
    model = create_model("vae", "mlp", seed=0)
    rollback = Rollback(model)
    weight = next(model.parameters())
    with torch.no_grad():
        weight.add_(1.0)
    good = weight.detach().clone()
    assert not rollback.diverged({"total": 1.5})  # fine: these weights become the last good ones
    with torch.no_grad():
        weight.add_(1.0)
    assert rollback.diverged({"total": float("nan")}) and torch.equal(weight, good)
    assert Rollback.message(40, {"total": float("nan"), "KL": 1.0}) == (
        "Training diverged at step 40 (total = nan). The weights were rolled back to the last good ones. "
        "Try a smaller learning rate.")
    with torch.no_grad():
        weight.fill_(float("inf"))  # finite losses, bad weights
    assert rollback.diverged({"total": 1.0}) and torch.equal(weight, good)
    assert "NaN or infinite weights" in Rollback.message(41, {"total": 1.0})


# --- previews -----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def seconds(self):
        return self.now


def drawn(previews, clock, step, now, takes):
    """Draw a preview of a model that takes `takes` seconds to sample."""
    model = create_model("vae", "mlp", seed=0, conditional=False)
    event = SimpleNamespace(step=step)
    clock.now = now + takes
    previews.add_to(event, model, now)
    return event


def test_previews_come_every_preview_every_steps_starting_with_the_first_report():
    clock = FakeClock()
    previews = Previews(TrainSettings(max_steps=1, log_every=5, preview_every=20, preview_images=4), 0, clock)
    assert not previews.due(4, 0.1) and previews.due(5, 0.1)
    event = drawn(previews, clock, 5, 0.1, takes=0.01)
    assert event.preview.shape == (4, 28, 28) and event.preview_columns is None and event.diagnostics is not None
    assert not previews.due(20, 99.0) and previews.due(25, 99.0)  # no time rule without preview_seconds
    assert previews.due(21, 0.2, inspecting=True)  # an inspected step always shows one


def test_timed_previews_are_spaced_by_three_times_what_the_last_one_took():
    clock = FakeClock()
    settings = TrainSettings(max_steps=1, log_every=1, preview_every=10_000, preview_seconds=1.0, preview_images=4)
    previews = Previews(settings, 0, clock)
    drawn(previews, clock, 1, 0.0, takes=0.1)  # cheap: every preview_seconds
    assert not previews.due(2, 1.0) and previews.due(2, 1.11)
    drawn(previews, clock, 2, 1.11, takes=2.0)  # slow to sample: at least 3 x 2 s later
    assert not previews.due(3, 3.11 + 5.9) and previews.due(3, 3.11 + 6.01)


# --- resume -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=64)


def test_a_run_state_checks_that_it_fits(digits):
    settings = TrainSettings(max_steps=3, batch_size=16, preview_images=0)
    state = list(train(create_model("vae", "mlp", seed=0), digits, settings))[-1].run_state
    state.check_fits(64, 16, total_steps=10)
    for args, words in [((64, 16, 10, True), "several processes"), ((128, 16, 10), "learned from 64 images"),
                        ((64, 32, 10), "batches of 16, not 32"), ((64, 16, 3), "already trained 3 steps"),
                        ((64, 16, 2), "it ends at 2")]:
        with pytest.raises(RunStateError, match=words):
            state.check_fits(*args)
    state.check_fits(64, 16, total_steps=None)  # a time limit only: always more to do


def test_a_run_left_paused_at_an_epochs_end_continues_with_the_weights_of_one_uninterrupted_run(digits):
    """64 images in batches of 16: 4 steps an epoch. Paused after step 4, the run has already drawn epoch 2's
    order when the pause runs out; continued, it must draw that same order again."""
    settings = TrainSettings(max_steps=7, batch_size=16, seed=3, log_every=2, preview_images=0)
    whole = create_model("vae", "mlp", seed=0)
    list(train(whole, digits, settings))

    part = create_model("vae", "mlp", seed=0)
    control = StepControl(max_pause_seconds=0.3)
    control.advance(4)  # paused, with 4 steps granted: then the pause runs out
    last = list(train(part, digits, settings, stepper=control))[-1]
    assert last.reason == "stopped" and "paused" in last.message and last.run_state.step == 4
    list(train(part, digits, settings, resume=last.run_state))
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), part.state_dict().values()))


def test_a_training_record_with_the_pruned_precision_and_compile_keys_still_reads_and_continues(digits, mnist_dir,
                                                                                              tmp_path):
    """Models trained before bf16 and torch.compile were taken out record "precision" and "compile": a record only."""
    model = create_model("vae", "mlp", seed=0)
    last = list(train(model, digits, TrainSettings(max_steps=3, batch_size=16, preview_images=0)))[-1]
    training = {**train_module.training_record(digits, TrainSettings(max_steps=3, batch_size=16), "cpu", last, 1e-3),
                "precision": "bf16", "compile": "default", "command": "python -m genai train --precision bf16"}
    folder = save_model(model, tmp_path / "old", dataset="mnist", steps=3, training=training, run_state=last.run_state)
    assert read_metadata(folder)["training"]["precision"] == "bf16"
    loaded, metadata = load_model(folder)
    assert metadata["training"]["compile"] == "default" and load_run_state(folder).step == 3
    code, out, err = cli("train", "--resume", folder, "--max-steps", 5, "--data-dir", mnist_dir, "--out", tmp_path / "more")
    assert code == 0, err
    record = json.loads((tmp_path / "more" / "config.json").read_text())["training"]
    assert record["steps"] == 5 and "precision" not in record and "compile" not in record
