"""A deeper DCGAN: extra 3x3 conv layers at 7x7 and 14x14, in G and D."""

import numpy as np
import pytest
import torch
from torch import nn

from genai.checkpoints import load_model, save_model
from genai.data import load_dataset
from genai.models import create_model
from genai.models.base import ModelError
from genai.sampling import sample
from genai.train import TrainSettings, train


def convs(network):
    return [m for m in network.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]


def test_extra_layers_add_size_keeping_3x3_convs_to_both_networks():
    plain = create_model("gan", "dcgan", seed=0, conditional=False, channels=8)
    deeper = create_model("gan", "dcgan", seed=0, conditional=False, channels=8, extra_layers=2)
    assert convs(plain.generator) == [] and convs(plain.discriminator) == []
    assert len(convs(deeper.generator)) == 4 and len(convs(deeper.discriminator)) == 4
    assert deeper.parameter_count() > plain.parameter_count()
    assert deeper.generator(torch.randn(3, 100)).shape == (3, 1, 28, 28)
    assert deeper.discriminator(torch.zeros(3, 1, 28, 28)).shape == (3,)
    assert "2 extra 3x3 conv layers per resolution" in deeper.describe()
    assert "extra" not in plain.describe()


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=64)


def test_a_deeper_dcgan_with_r1_trains_and_round_trips(tmp_path, digits):
    model = create_model("gan", "dcgan", seed=0, conditional=False, channels=8, extra_layers=1, r1_gamma=1.0)
    last = list(train(model, digits, TrainSettings(max_steps=3, batch_size=16, seed=0, preview_images=0)))[-1]
    assert last.step == 3 and all(torch.isfinite(torch.as_tensor(v)) for v in last.losses.values())
    loaded, metadata = load_model(save_model(model, tmp_path / "deeper"))
    assert metadata["config"]["extra_layers"] == 1
    assert np.array_equal(sample(loaded, 0, 4), sample(model, 0, 4))


@pytest.mark.parametrize("bad", [-1, 9, 1.5])
def test_a_wrong_number_of_extra_layers_is_refused_with_its_range(bad):
    with pytest.raises(ModelError, match="extra_layers"):
        create_model("gan", "dcgan", seed=0, extra_layers=bad)


def test_an_mlp_has_no_extra_layers_to_set():
    with pytest.raises(ModelError):
        create_model("gan", "mlp", seed=0, extra_layers=1)
