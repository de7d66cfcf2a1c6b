"""The warm-up run the app takes when it starts (genai/warm_up.py, genai/ui/warm_start.py).

What it saves is measured by benchmarks/cold_start.py, never here. These tests check that it
trains through the real loop, leaves nothing behind that would change a learner's run, writes
nothing, and that a failure or GENAI_WARM_UP=0 never stops the app.
"""

import threading

import pytest
import torch

from genai import warm_up as warm_up_module
from genai.data import load_dataset
from genai.models import create_model
from genai.train import TrainSettings, train
from genai.warm_up import random_digits, warm_up, warm_up_in_background


def trained_weights(dataset):
    model = create_model("gan", "dcgan", seed=3, conditional=True, channels=8, latent_dim=16)
    for _ in train(model, dataset, TrainSettings(batch_size=16, max_steps=4, seed=5, preview_images=0)):
        pass
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_random_digits_are_a_dataset_of_every_label_that_leaves_the_global_generator_alone():
    before = torch.random.get_rng_state()
    data = random_digits(25, seed=1)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert data.images.shape == (25, 28, 28) and data.images.dtype == torch.uint8
    assert sorted(set(data.labels.tolist())) == list(range(10)) and len(data) == 25
    assert torch.equal(data.images, random_digits(25, seed=1).images)  # the same seed, the same pixels


def test_warm_up_trains_the_default_model_and_a_run_after_it_learns_exactly_what_it_would_have(mnist_dir,
                                                                                               tmp_path, monkeypatch):
    dataset = load_dataset("mnist", data_dir=mnist_dir, limit=64)
    before = trained_weights(dataset)
    monkeypatch.chdir(tmp_path)
    seen = []
    real_train = warm_up_module.train

    def watched_train(model, data, settings):
        for event in real_train(model, data, settings):
            seen.append(event)
            yield event

    monkeypatch.setattr(warm_up_module, "train", watched_train)
    seconds = warm_up("cpu", steps=2, preview_images=10)
    assert seconds > 0
    assert seen[-1].done and seen[-1].step == 2 and seen[-1].reason == "finished"
    assert seen[-1].preview.shape == (10, 28, 28)  # the sampling path is warmed up too
    assert list(tmp_path.iterdir()) == []  # nothing written
    after = trained_weights(dataset)
    assert all(torch.equal(before[name], after[name]) for name in before)


def test_a_failed_warm_up_is_one_line_in_the_log_and_never_an_error(monkeypatch):
    def broken(device, **options):
        raise RuntimeError("CUDA out of memory")

    crashes, lines = [], []
    monkeypatch.setattr(warm_up_module, "warm_up", broken)
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    warm_up_in_background("cpu", log=lines.append).join(timeout=30)
    assert crashes == []
    assert lines == ["Warm-up skipped (RuntimeError: CUDA out of memory); the first training run starts slower."]


def test_a_warm_up_in_the_background_says_how_long_it_took(monkeypatch):
    lines = []
    monkeypatch.setattr(warm_up_module, "warm_up", lambda device, **options: 1.25)
    thread = warm_up_in_background("cpu", log=lines.append)
    thread.join(timeout=30)
    assert thread.daemon and lines == ["Warmed up training on cpu in 1.2 s."]


@pytest.mark.parametrize("value", ["0", "off", "OFF", " no "])
def test_the_app_skips_its_warm_up_when_told_to(monkeypatch, value):
    from genai.ui import warm_start

    monkeypatch.setenv("GENAI_WARM_UP", value)
    monkeypatch.setattr(warm_start, "warm_up_in_background", lambda *args, **kwargs: pytest.fail("warmed up"))
    assert warm_start.start_warm_up() is None


def test_on_a_zero_gpu_space_the_app_warms_up_on_the_cpu(monkeypatch):
    from genai.ui import model_store, warm_start

    calls = []
    monkeypatch.delenv("GENAI_WARM_UP", raising=False)
    monkeypatch.setattr(warm_start, "zero_gpu", lambda: True)
    monkeypatch.setattr(model_store, "app_device", lambda: pytest.fail("the GPU is only lent inside a request"))
    monkeypatch.setattr(warm_start, "warm_up_in_background",
                        lambda device, **options: calls.append((device, options)) or "thread")
    assert warm_start.start_warm_up() == "thread"
    assert calls[0][0] == "cpu"
    assert calls[0][1]["family"] == "gan" and calls[0][1]["preview_images"] == 100  # the Train tab's preview
