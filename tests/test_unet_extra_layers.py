"""A deeper diffusion UNet: extra residual blocks at 7x7, where the digit's shape is decided."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genai.__main__ import build_parser, train_options
from genai.checkpoints import load_model, save_model
from genai.data import load_dataset
from genai.models import create_model
from genai.models.base import ModelError
from genai.models.diffusion import ResidualBlock
from genai.sampling import sample
from genai.settings import SettingsError
from genai.train import TrainSettings, train

REPO = Path(__file__).resolve().parents[1]


def blocks(model):
    return [m for m in model.unet.modules() if isinstance(m, ResidualBlock)]


def test_extra_layers_add_residual_blocks_at_7x7():
    plain = create_model("diffusion", "unet", seed=0, conditional=False, channels=8)
    deeper = create_model("diffusion", "unet", seed=0, conditional=False, channels=8, extra_layers=2)
    assert len(blocks(plain)) == 3 and len(blocks(deeper)) == 5
    assert deeper.parameter_count() > plain.parameter_count()
    seen = []
    hook = deeper.unet.extra_middle[0].register_forward_hook(lambda module, args, out: seen.append(out.shape))
    x = torch.randn(3, 1, 28, 28)
    assert deeper.unet(x, torch.rand(3)).shape == (3, 1, 28, 28)
    hook.remove()
    assert seen == [(3, 16, 7, 7)]
    assert "2 extra residual blocks at 7x7" in deeper.describe() and "extra" not in plain.describe()


def test_a_unet_saved_before_extra_layers_existed_loads_and_the_shipped_one_has_its_blocks(tmp_path):
    folder = save_model(create_model("diffusion", "unet", seed=0, conditional=True, channels=8), tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    del config["config"]["extra_layers"]  # as config.json files were written before the setting existed
    (folder / "config.json").write_text(json.dumps(config))
    model, metadata = load_model(folder)
    assert "extra_layers" not in metadata["config"] and model.config.extra_layers == 0
    assert len(model.unet.extra_middle) == 0
    model, metadata = load_model(REPO / "checkpoints" / "diffusion")
    assert len(model.unet.extra_middle) == metadata["config"]["extra_layers"] == 2


def test_a_deeper_unet_trains_and_round_trips(tmp_path, mnist_dir):
    digits = load_dataset("mnist", data_dir=mnist_dir, download=False, limit=64)
    model = create_model("diffusion", "unet", seed=0, conditional=True, channels=8, extra_layers=1,
                         ema_decay=0.9, sampling_steps=3)
    last = list(train(model, digits, TrainSettings(max_steps=3, batch_size=16, seed=0, preview_images=0)))[-1]
    assert last.step == 3 and np.isfinite(last.losses["loss"])
    loaded, metadata = load_model(save_model(model, tmp_path / "deeper"))
    assert metadata["config"]["extra_layers"] == 1
    assert np.array_equal(sample(loaded, 0, 4, labels=3), sample(model, 0, 4, labels=3))


@pytest.mark.parametrize("bad", [-1, 9, 1.5])
def test_a_wrong_number_of_extra_blocks_is_refused_with_its_range(bad):
    with pytest.raises(ModelError, match="extra_layers"):
        create_model("diffusion", "unet", seed=0, extra_layers=bad)


def test_the_cli_takes_extra_layers_for_the_unet_and_refuses_them_for_a_pixelcnn():
    args = build_parser().parse_args(["train", "--model", "diffusion", "--extra-layers", "2"])
    assert train_options(args)["extra_layers"] == 2
    args = build_parser().parse_args(["train", "--model", "autoregressive", "--extra-layers", "2"])
    with pytest.raises(SettingsError, match="--extra-layers only applies to --model gan --arch dcgan or --model diffusion"):
        train_options(args)
