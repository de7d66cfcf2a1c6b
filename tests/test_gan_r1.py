"""The R1 penalty: D pays gamma/2 * ||grad_x logit_D(x)||^2 at real digits."""

import numpy as np
import pytest
import torch
from torch import nn

from genai.checkpoints import load_model, save_model
from genai.data import load_dataset
from genai.models import create_model
from genai.models.base import ModelError
from genai.models.gan import r1_penalty
from genai.sampling import sample
from genai.train import TrainSettings, train


def test_r1_is_half_gamma_times_the_squared_gradient_norm_of_the_logit_at_each_real_image():
    weights = torch.randn(1, 5)
    images = torch.randn(4, 5, requires_grad=True)
    logits = (images @ weights.T).squeeze(1) ** 2  # logit = (w.x)^2, so grad_x = 2 (w.x) w
    expected = (5.0 / 2 * (2 * (images @ weights.T)) ** 2 * weights.pow(2).sum()).mean()
    assert torch.allclose(r1_penalty(logits, images, gamma=5.0), expected)


def test_r1_takes_batchnorm_out_of_the_dcgan_discriminator():
    plain = create_model("gan", "dcgan", seed=0, conditional=False, channels=8)
    with_r1 = create_model("gan", "dcgan", seed=0, conditional=False, channels=8, r1_gamma=1.0)
    assert any(isinstance(m, nn.BatchNorm2d) for m in plain.discriminator.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in with_r1.discriminator.modules())


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=64)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_a_gan_with_r1_trains_reports_the_penalty_and_round_trips(tmp_path, digits, arch):
    width = {"channels": 8} if arch == "dcgan" else {}
    model = create_model("gan", arch, seed=0, conditional=arch == "dcgan", r1_gamma=10.0, **width)
    assert "R1" in model.loss_names
    last = list(train(model, digits, TrainSettings(max_steps=3, batch_size=16, seed=0, preview_images=0)))[-1]
    assert last.step == 3 and float(last.losses["R1"]) > 0
    assert all(torch.isfinite(torch.as_tensor(v)) for v in last.losses.values())
    assert "R1 penalty gamma 10" in model.describe()
    loaded, metadata = load_model(save_model(model, tmp_path / "r1"))
    assert metadata["config"]["r1_gamma"] == 10.0
    assert np.array_equal(sample(loaded, 0, 4), sample(model, 0, 4))


def test_a_negative_r1_weight_is_refused_with_its_range():
    with pytest.raises(ModelError, match="r1_gamma must be a number from 0 to 1,000 "):
        create_model("gan", "mlp", seed=0, r1_gamma=-1)
