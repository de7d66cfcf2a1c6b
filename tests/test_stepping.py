"""Step mode: a paused run advances exactly as asked, shows each step, and learns what it would have learned."""

import threading

import pytest
import torch

from genai.data import load_dataset
from genai.models import create_model
from genai.stepping import StepControl
from genai.train import TrainSettings, TrainingError, train

SMALL = {"gan": ("dcgan", {"channels": 8}), "vae": ("mlp", {}), "diffusion": ("unet", {"channels": 8}),
         "autoregressive": ("pixelcnn", {"channels": 8, "layers": 2})}


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=512)


def small_model(family, conditional=False):
    arch, options = SMALL[family]
    return create_model(family, arch, seed=0, conditional=conditional, **options)


def settings(steps=12):
    return TrainSettings(max_steps=steps, batch_size=16, seed=3, log_every=5, preview_images=4)


def run_in_thread(model, dataset, control, steps=12):
    events = []
    thread = threading.Thread(target=lambda: events.extend(train(model, dataset, settings(steps), stepper=control)))
    thread.start()
    return thread, events


@pytest.mark.parametrize("family", sorted(SMALL))
def test_stepping_shows_each_step_and_changes_nothing_it_learns(digits, family):
    stepped_model = small_model(family, conditional=family != "autoregressive")
    control = StepControl()
    control.pause()
    thread, events = run_in_thread(stepped_model, digits, control)
    one = control.wait_for(control.advance(1), timeout=60)
    assert one.step == 1
    ten = control.wait_for(control.advance(10), timeout=60)
    assert ten.step == 11
    control.resume()
    thread.join(60)
    assert not thread.is_alive() and events[-1].done and events[-1].step == 12

    # Each inspected step was reported at once, with a preview; the others at the usual log_every.
    inspected = [event.step for event in events if event.inspection is not None]
    assert inspected == [1, 11]
    assert all(event.preview is not None for event in events if event.inspection is not None)

    # Before and after: the same loss terms (as training_step names them), on the same images.
    for report in (one, ten):
        assert set(report.before.losses) == set(report.after.losses) == set(stepped_model.loss_names)
        assert report.before.losses != report.after.losses  # the update moved something
        for before, after in zip(report.before.rows, report.after.rows):
            assert before.images.shape == (16, 1, 28, 28) and 0 <= before.images.min() <= before.images.max() <= 1
            for name, values in before.scores.items():
                assert values.shape == (16,) and torch.isfinite(values).all() and after.scores[name].shape == (16,)
        assert torch.equal(report.before.rows[0].images, report.after.rows[0].images)  # the real batch

    # Looking changed nothing: the same weights as a run never paused.
    plain_model = small_model(family, conditional=family != "autoregressive")
    list(train(plain_model, digits, settings()))
    for name, tensor in plain_model.state_dict().items():
        assert torch.equal(tensor, stepped_model.state_dict()[name]), name


def test_a_gan_step_reports_what_the_discriminator_says_of_each_image(digits):
    model = small_model("gan")
    control = StepControl()
    control.pause()
    thread, _ = run_in_thread(model, digits, control)
    report = control.wait_for(control.advance(1), timeout=60)
    control.resume()
    thread.join(60)
    real, fake = report.before.rows
    assert list(real.scores) == ["D(x)"] and list(fake.scores) == ["D(G(z))"]
    assert abs(float(real.scores["D(x)"].mean()) - report.before.losses["D(x)"]) < 1e-5
    # L_D = -[log D(x) + log(1 - D(G(z)))], from the per-image scores.
    expected = float(-torch.log(real.scores["D(x)"]).mean() - torch.log(1 - fake.scores["D(G(z))"]).mean())
    assert report.before.losses["L_D"] == pytest.approx(expected, rel=1e-4)


def test_a_vae_step_reports_each_digits_reconstruction_and_kl(digits):
    model = small_model("vae")
    model.config.beta = 2.0
    control = StepControl()
    control.pause()
    thread, _ = run_in_thread(model, digits, control)
    report = control.wait_for(control.advance(1), timeout=60)
    control.resume()
    thread.join(60)
    scores = report.before.rows[1].scores
    assert report.before.losses["reconstruction"] == pytest.approx(float(scores["rec"].mean()), rel=1e-5)
    assert report.before.losses["KL"] == pytest.approx(float(scores["KL"].mean()), rel=1e-5)
    assert report.before.losses["total"] == pytest.approx(
        float(scores["rec"].mean() + 2.0 * scores["KL"].mean()), rel=1e-5)


def test_pause_does_not_count_against_the_time_limit_but_a_long_pause_ends_the_run(digits):
    control = StepControl(max_pause_seconds=0.5)
    control.pause()
    model = small_model("vae")
    events = list(train(model, digits, TrainSettings(max_seconds=0.3, batch_size=16, preview_images=0), stepper=control))
    assert events[-1].done and events[-1].reason == "stopped" and "paused" in events[-1].message
    assert events[-1].step == 0 and events[-1].elapsed_seconds < 0.3  # the pause was not training time
    assert control.ended and control.wait_for(control.advance(1), timeout=1) is None  # nobody waits forever


def test_stop_reaches_a_paused_run(digits):
    control = StepControl()
    control.pause()
    stop = threading.Event()
    events = []
    thread = threading.Thread(target=lambda: events.extend(
        train(small_model("vae"), digits, TrainSettings(max_steps=1000, batch_size=16, preview_images=0),
              stop=stop, stepper=control)))
    thread.start()
    stop.set()
    thread.join(30)
    assert not thread.is_alive() and events[-1].reason == "stopped" and events[-1].step <= 1


def test_step_mode_refuses_a_run_of_several_processes(digits):
    class Team:  # just enough of genai.distributed.Team to reach the check
        world_size, rank, is_main = 2, 0, True

    with pytest.raises(TrainingError, match="Step mode"):
        next(train(small_model("vae"), digits, settings(), team=Team(), stepper=StepControl()))
