"""Tests for genai.train: short runs on the real MNIST split learn, and the loop reports, stops,
times out, survives divergence and refuses bad settings with a clear message.

The runs are short (a few hundred steps of the MLP models, a few seconds on 2 CPU cores).
"""

import dataclasses
import math
import threading

import numpy as np
import pytest
import torch

from genai.data import load_dataset
from genai.models import create_model
from genai.sampling import decode, grid, label_tensor, latent_noise, sample
from genai.train import TrainingError, TrainSettings, train


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    """A subset of the train split: these runs are short, and the tests must not depend on MNIST's size."""
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=10_000)


def run(model, dataset, stop=None, **settings):
    """All events of a training run (previews off unless asked for)."""
    settings.setdefault("preview_images", 0)
    return list(train(model, dataset, TrainSettings(**settings), stop=stop))


def border_mean(images):
    """Mean of the 3-pixel frame around each 28x28 image: MNIST's background is black (0)."""
    images = np.asarray(images, dtype=np.float32)
    frame = np.ones((28, 28), dtype=bool)
    frame[3:-3, 3:-3] = False
    return float(images[:, frame].mean())


def mean_image_distance(images, dataset):
    """Mean absolute difference (0..255) between the average sample and the average training image."""
    return float(np.abs(np.asarray(images, np.float32).mean(0) - dataset.images.float().mean(0).numpy()).mean())


def assert_diverse(images):
    """No two images are the same and the batch varies pixel by pixel (no mode collapse)."""
    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    assert len({row.tobytes() for row in np.asarray(images)}) == len(images)
    assert float(flat.std(axis=0).mean()) > 4.0


def weights_finite(model):
    return all(bool(torch.isfinite(t.float()).all()) for t in model.state_dict().values())


# ---------------------------------------------------------------------------------------------
# Learning on real MNIST
# ---------------------------------------------------------------------------------------------


def test_a_short_vae_run_lowers_the_loss_and_draws_digit_like_images(mnist):
    model = create_model("vae", "mlp", seed=0)
    before = sample(model, 123, 64)
    events = run(model, mnist, epochs=5, max_steps=200, log_every=20)
    first, last = events[0].losses, events[-1].losses
    assert last["total"] < 0.7 * first["total"]
    assert last["reconstruction"] < 0.7 * first["reconstruction"]
    assert last["total"] == pytest.approx(last["reconstruction"] + last["KL"], rel=1e-5)  # beta = 1

    after = sample(model, 123, 64)
    assert_diverse(after)
    assert border_mean(before) > 100  # untrained: grey everywhere
    assert border_mean(after) < 20  # trained: white ink on a black background
    assert mean_image_distance(after, mnist) < 0.3 * mean_image_distance(before, mnist)


def test_a_short_gan_run_moves_the_samples_towards_the_data(mnist):
    """A GAN's losses are a two-player game and need not fall; its samples must approach the data."""
    model = create_model("gan", "mlp", seed=0)
    before = sample(model, 123, 64)
    events = run(model, mnist, epochs=5, max_steps=200, lr=1e-3, log_every=20)
    assert events[-1].reason == "finished"
    assert all(math.isfinite(v) for e in events for v in e.losses.values())
    assert 0 < events[-1].losses["D(x)"] < 1 and 0 < events[-1].losses["D(G(z))"] < 1

    after = sample(model, 123, 64)
    assert_diverse(after)
    assert border_mean(after) < 0.5 * border_mean(before)
    assert mean_image_distance(after, mnist) < 0.5 * mean_image_distance(before, mnist)


# ---------------------------------------------------------------------------------------------
# What the loop reports
# ---------------------------------------------------------------------------------------------


def test_events_carry_progress_losses_speed_and_eta(mnist):
    model = create_model("vae", "mlp", seed=0)
    events = run(model, mnist, epochs=1, batch_size=100, log_every=10, max_steps=50)
    progress, final = events[:-1], events[-1]

    assert [e.step for e in progress] == [10, 20, 30, 40, 50]
    assert all(e.total_steps == 50 for e in events)
    assert [e.done for e in events] == [False] * 5 + [True]
    assert final.reason == "finished" and final.step == 50 and "50 steps" in final.message
    assert final.fraction == 1.0 and progress[0].fraction == pytest.approx(0.2)
    assert progress[-1].epoch == pytest.approx(50 / (len(mnist) // 100))
    for event in progress:
        assert tuple(event.losses) == model.loss_names
        assert all(isinstance(v, float) and math.isfinite(v) for v in event.losses.values())
        assert event.images_per_sec > 0 and event.elapsed_seconds > 0 and event.eta_seconds >= 0
    assert progress[-1].eta_seconds == 0
    elapsed = [e.elapsed_seconds for e in progress]
    assert elapsed == sorted(elapsed)


def test_a_whole_number_of_epochs_sets_the_total_steps(mnist):
    small = dataclasses.replace(mnist, images=mnist.images[:640], labels=mnist.labels[:640])
    events = run(create_model("vae", "mlp", seed=0), small, epochs=3, batch_size=64, log_every=5)
    assert events[-1].total_steps == 3 * 10 and events[-1].step == 30
    assert events[-1].epoch == pytest.approx(3.0)


def test_previews_come_from_the_fixed_preview_noise(mnist):
    model = create_model("gan", "mlp", seed=0, conditional=True)
    events = run(model, mnist, epochs=1, log_every=5, preview_every=10, preview_images=20, preview_seed=7, max_steps=20)
    with_preview = [e.step for e in events if e.preview is not None]
    assert with_preview == [5, 15, 20]  # first report, then every 10 steps, and the final event
    final = events[-1].preview
    # The images of the preview noise (seed 7); a conditional model draws digit i % 10 as image i,
    # shown as one column per digit. The engine gives images; the CLI and the app draw the grid.
    z = latent_noise(7, 20, model.latent_dim)
    expected = decode(model, z, label_tensor(model, None, 20))
    assert final.dtype == np.uint8 and final.shape == expected.shape == (20, 28, 28)
    assert np.array_equal(final, expected)
    assert events[-1].preview_columns == 10
    assert grid(final, events[-1].preview_columns).size == (10 * 30 + 2, 2 * 30 + 2)
    assert model.training  # previews run in eval mode, training resumes in train mode


def test_preview_images_zero_turns_previews_off(mnist):
    events = run(create_model("vae", "mlp", seed=0), mnist, epochs=1, log_every=5, preview_every=5, max_steps=10)
    assert all(e.preview is None for e in events)


@pytest.mark.parametrize("family", ["gan", "vae"])
def test_the_same_seed_trains_the_same_model_and_previews(mnist, family):
    def previews(seed):
        model = create_model(family, "mlp", seed=0)
        events = run(model, mnist, epochs=1, seed=seed, log_every=10, preview_every=10, preview_images=16, max_steps=30)
        return [np.asarray(e.preview) for e in events if e.preview is not None], events[-1].losses, model

    first, losses_1, model_1 = previews(seed=3)
    again, losses_2, model_2 = previews(seed=3)
    other, losses_3, _ = previews(seed=4)
    assert len(first) == 3  # steps 10, 20 and the final event
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert losses_1 == losses_2
    assert all(torch.equal(a, b) for a, b in zip(model_1.state_dict().values(), model_2.state_dict().values()))
    assert not np.array_equal(first[-1], other[-1]) and losses_1 != losses_3


# ---------------------------------------------------------------------------------------------
# Ending early: stop, time limit, divergence
# ---------------------------------------------------------------------------------------------


def test_setting_stop_ends_training_after_the_current_step(mnist):
    stop = threading.Event()
    events = []
    for event in train(create_model("vae", "mlp", seed=0), mnist, TrainSettings(epochs=5, log_every=10, preview_images=0), stop):
        events.append(event)
        if event.step == 20:
            stop.set()
    final = events[-1]
    assert final.done and final.reason == "stopped"
    assert final.step == 21 and final.total_steps == 5 * (len(mnist) // 64)
    assert "Stopped at step 21" in final.message
    assert sum(e.done for e in events) == 1


def test_a_stop_set_before_training_stops_after_one_step(mnist):
    stop = threading.Event()
    stop.set()
    events = run(create_model("gan", "mlp", seed=0), mnist, stop=stop, epochs=1)
    assert events[-1].reason == "stopped" and events[-1].step == 1


def test_max_seconds_ends_training_with_reason_time_limit(mnist):
    events = run(create_model("vae", "mlp", seed=0), mnist, epochs=50, max_seconds=0.3, log_every=1000)
    final = events[-1]
    assert final.reason == "time limit" and final.done
    assert 1 <= final.step < final.total_steps
    assert "time limit" in final.message


def test_max_steps_ends_training_as_finished(mnist):
    events = run(create_model("vae", "mlp", seed=0), mnist, epochs=50, max_steps=7, log_every=5)
    assert events[-1].reason == "finished" and events[-1].step == 7 and events[-1].total_steps == 7


def nan_after(model, steps, corrupt_weights=False):
    """Make model.training_step go wrong after `steps` good steps.

    corrupt_weights=False: the loss becomes NaN (what a too-large learning rate does).
    corrupt_weights=True: the update itself writes NaN into the weights; the loss of that step
    was computed before the update, so it still looks fine.
    """
    original, calls = model.training_step, [0]

    def training_step(images, labels, optimizers, rng):
        losses = original(images, labels, optimizers, rng)
        calls[0] += 1
        if calls[0] > steps and not corrupt_weights:
            losses = {name: value * float("nan") for name, value in losses.items()}
        if calls[0] == steps and corrupt_weights:
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))
        return losses

    model.training_step = training_step


@pytest.mark.parametrize("family", ["gan", "vae"])
def test_a_nan_loss_ends_training_as_diverged_and_rolls_back_the_weights(mnist, family):
    model = create_model(family, "mlp", seed=0)
    nan_after(model, steps=25)
    snapshots = {}
    events = []
    for event in train(model, mnist, TrainSettings(epochs=1, log_every=10, preview_images=4)):
        events.append(event)
        if not event.done:
            snapshots[event.step] = {k: v.clone() for k, v in model.state_dict().items()}
    final = events[-1]
    assert final.reason == "diverged" and final.step == 30
    assert "diverged" in final.message and "rolled back" in final.message and "learning rate" in final.message
    assert weights_finite(model)
    # Rolled back to the weights of the last good report (step 20).
    assert all(torch.equal(v, snapshots[20][k]) for k, v in model.state_dict().items())
    assert final.preview is not None  # drawn by the restored, finite model


def test_nan_weights_behind_a_finite_loss_are_not_kept_as_the_last_good_ones(mnist):
    model = create_model("vae", "mlp", seed=0)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    nan_after(model, steps=10, corrupt_weights=True)  # the 10th step is also a report
    events = run(model, mnist, epochs=1, log_every=10)
    assert events[-1].reason == "diverged"
    assert weights_finite(model)
    assert all(torch.equal(v, initial[k]) for k, v in model.state_dict().items())


# ---------------------------------------------------------------------------------------------
# Bad settings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"epochs": 0}, "epochs must be a whole number from 1 to 1,000,000, not 0"),
        ({"epochs": -3}, "epochs"),
        ({"epochs": 1.5}, "epochs"),
        ({"batch_size": 1}, "Batch size must be a whole number from 2 to 4,096, not 1"),
        ({"batch_size": 10_000}, "Batch size"),
        ({"batch_size": 200}, "Batch size 200 is larger than the dataset \\(100 images\\)"),
        ({"lr": 0}, "Learning rate must be a number above 0"),
        ({"lr": -0.01}, "Learning rate"),
        ({"lr": float("nan")}, "Learning rate"),
        ({"lr": 5.0}, "Learning rate"),
        ({"max_steps": 0}, "Max steps"),
        ({"max_steps": 2.5}, "Max steps"),
        ({"max_seconds": 0}, r"Train for \(seconds\)"),
        ({"max_seconds": float("nan")}, r"Train for \(seconds\)"),
        ({"max_seconds": float("inf")}, r"Train for \(seconds\)"),
        ({"max_seconds": -1}, r"Train for \(seconds\)"),
        ({"epochs": None}, "budget"),
    ],
)
def test_bad_settings_raise_a_training_error_before_any_step(mnist, settings, message):
    small = dataclasses.replace(mnist, images=mnist.images[:100], labels=mnist.labels[:100])
    model = create_model("vae", "mlp", seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(TrainingError, match=message):
        next(train(model, small, TrainSettings(**{"epochs": 1, **settings})))
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_labels_out_of_range_are_refused_once_before_any_step(mnist):
    bad = dataclasses.replace(mnist, images=mnist.images[:100], labels=mnist.labels[:100].clone())
    bad.labels[17] = 12
    model = create_model("gan", "mlp", seed=0, conditional=True)
    with pytest.raises(TrainingError, match="labels run from 0 to 12"):
        next(train(model, bad, TrainSettings(epochs=1)))


# ---------------------------------------------------------------------------------------------
# A budget in seconds; the training record; randomness owned by the run
# ---------------------------------------------------------------------------------------------


def test_a_time_budget_alone_runs_until_the_clock_says_stop(mnist):
    small = dataclasses.replace(mnist, images=mnist.images[:128], labels=mnist.labels[:128])
    events = run(create_model("vae", "mlp", seed=0), small, max_seconds=2, log_every=1)
    final = events[-1]
    assert final.reason == "time limit" and final.total_steps is None
    # More than one epoch of 2 steps (batch 64): epochs do not bound a timed run. (An epoch of 10
    # steps could fill the 2 s on a busy machine; 2 cannot.)
    assert final.step > 2
    assert all(e.total_steps is None for e in events)
    assert all(0 <= e.fraction <= 1 for e in events) and final.fraction == 1.0
    assert all(e.eta_seconds <= 2 for e in events)


def test_the_training_record_says_what_the_model_learned_from(mnist):
    from genai.train import training_record

    settings = TrainSettings(max_steps=5, batch_size=32, seed=3, preview_images=0)
    model = create_model("vae", "mlp", seed=0)
    last = list(train(model, mnist, settings))[-1]
    record = training_record(mnist, settings, "cpu", last, 1e-3, command="python -m genai train ...")
    assert record["dataset"] == "mnist" and record["split"] == "train" and record["images"] == len(mnist)
    assert record["verified_files"] is True and record["split_images"] >= len(mnist)
    assert record["seed"] == 3 and record["device"] == "cpu" and record["steps"] == 5
    assert record["batch_size"] == 32 and record["lr"] == 1e-3 and record["ended"] == "finished"
    assert record["seconds"] >= 0 and record["command"] == "python -m genai train ..."


@pytest.mark.parametrize("family", ["gan", "vae"])
def test_training_leaves_the_global_random_generator_alone(mnist, family):
    torch.manual_seed(1234)
    model = create_model(family, "mlp")  # no seed: builds from the global generator like any module
    state = torch.get_rng_state()
    run(model, mnist, max_steps=5, preview_images=4, preview_every=1, log_every=1)
    assert torch.equal(torch.get_rng_state(), state)


def test_two_same_seed_runs_at_once_give_the_weights_of_one_run_alone(mnist):
    """Two visitors of the app train at the same moment in one process: each gets what its seed promises."""
    def one_run(family, results, key):
        model = create_model(family, "mlp", seed=5, conditional=True)
        run(model, mnist, max_steps=40, seed=9, log_every=7)
        results[key] = model.state_dict()

    for family in ("gan", "vae"):
        alone = {}
        one_run(family, alone, "alone")
        together = {}
        threads = [threading.Thread(target=one_run, args=(family, together, k)) for k in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for key in ("a", "b"):
            assert all(torch.equal(alone["alone"][name], together[key][name]) for name in alone["alone"]), family


def test_live_knobs_are_applied_before_the_next_step_and_reported_once(mnist):
    from genai.knobs import LiveKnobs, check_turn
    from genai.settings import SettingsError

    model = create_model("vae", "mlp", seed=0, latent_dim=4)
    dataset = mnist
    knobs = LiveKnobs()
    settings = TrainSettings(max_steps=12, batch_size=16, log_every=4, preview_images=0, lr=1e-3)
    seen = []
    for event in train(model, dataset, settings, knobs=knobs):
        seen.extend(event.changes)
        if event.step == 4:
            knobs.turn(**check_turn(model, {"lr": 1e-4, "beta": 0.5}))
    assert seen == [{"step": 4, "lr": 1e-4, "beta": 0.5}] and model.config.beta == 0.5
    with pytest.raises(SettingsError, match="has no live setting 'beta'; it has lr"):
        check_turn(create_model("gan", "mlp"), {"beta": 2.0})
    with pytest.raises(SettingsError, match="β .weight of the KL term. must be a number from 0 to 1,000, not inf"):
        check_turn(model, {"beta": float("inf")})


def test_a_gans_discriminator_learns_at_its_ratio_of_the_learning_rate_even_when_the_lr_is_turned():
    from genai.knobs import apply_turn

    model = create_model("gan", "mlp", seed=0, d_lr_ratio=10.0)
    optimizers = model.configure_optimizers(1e-4)
    rates = {name: optimizer.param_groups[0]["lr"] for name, optimizer in optimizers.items()}
    assert rates == pytest.approx({"discriminator": 1e-3, "generator": 1e-4})
    assert apply_turn(model, optimizers, {"lr": 2e-4}, 1e-4) == 2e-4  # a live knob keeps D's ratio ...
    rates = {name: optimizer.param_groups[0]["lr"] for name, optimizer in optimizers.items()}
    assert rates == pytest.approx({"discriminator": 2e-3, "generator": 2e-4})
    apply_turn(model, optimizers, {"d_lr_ratio": 0.5}, 2e-4)  # ... and the ratio itself may be turned
    rates = {name: optimizer.param_groups[0]["lr"] for name, optimizer in optimizers.items()}
    assert rates == pytest.approx({"discriminator": 1e-4, "generator": 2e-4}) and model.config.d_lr_ratio == 0.5
