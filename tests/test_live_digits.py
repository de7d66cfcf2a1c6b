"""The Train tab's live digit chart (genai/ui/live_digits.py): which digits the preview grid shows."""

import numpy as np
import pytest

from genai.classifier import SHIPPED_DIR
from genai.data import load_dataset
from genai.ui import live_digits

pytestmark = pytest.mark.skipif(not (SHIPPED_DIR / "model.safetensors").is_file(),
                                reason="needs the shipped classifier (checkpoints/classifier)")


def test_a_grid_of_real_digits_is_read_as_its_digits_and_noise_as_unsure(mnist_dir):
    test = load_dataset("mnist", data_dir=mnist_dir, split="test", limit=64)
    shares = live_digits.digit_shares(test.images.numpy())
    assert list(shares["digit"]) == [str(d) for d in range(10)] + ["?"]
    assert shares["share"].sum() == pytest.approx(1.0)
    truth = np.bincount(test.labels.numpy(), minlength=10) / 64
    assert np.abs(shares["share"][:10].to_numpy() - truth).sum() < 0.1  # a real digit or two may go to "?" or astray
    noise = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    assert live_digits.digit_shares(noise)["share"].iloc[-1] == 1.0  # noise is no digit: all "?"
    one_digit = np.repeat(test.images[:1].numpy(), 64, axis=0)  # mode collapse: one picture 64 times
    assert live_digits.digit_shares(one_digit)["share"].max() == 1.0


def test_the_chart_is_shown_for_mnist_previews_only(mnist_dir):
    images = load_dataset("mnist", data_dir=mnist_dir, split="test", limit=64).images.numpy()
    shown = live_digits.update(images, "mnist")
    assert shown["visible"] is True and len(shown["value"]) == 11
    for preview, dataset in ((images, "fashion-mnist"), (None, "mnist")):  # a digit classifier reads no clothes
        assert live_digits.update(preview, dataset) == {"__type__": "update", "value": None, "visible": False}
