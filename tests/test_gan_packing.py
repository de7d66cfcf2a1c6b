"""PacGAN: a discriminator that judges packs of images, one logit per pack."""

import numpy as np
import pytest
import torch

from genai.checkpoints import load_model, save_model
from genai.data import load_dataset
from genai.models import create_model
from genai.models.base import ModelError
from genai.sampling import sample
from genai.train import TrainSettings, train


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("conditional", [False, True])
def test_d_gives_one_logit_per_pack_and_its_judgement_depends_on_every_image_of_the_pack(arch, conditional):
    width = {"channels": 8} if arch == "dcgan" else {}
    model = create_model("gan", arch, seed=0, conditional=conditional, pack=4, **width).eval()
    images = torch.rand(8, 1, 28, 28) * 2 - 1
    labels = torch.arange(8) % 10 if conditional else None
    with torch.no_grad():
        logits = model.discriminator(images, labels)
        assert logits.shape == (2,)
        changed = images.clone()
        changed[3] = -1  # the last image of the first pack
        again = model.discriminator(changed, labels)
    assert again[0] != logits[0] and again[1] == logits[1]  # only its own pack's score moves


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=64)


def test_a_packed_gan_trains_shows_each_image_its_packs_score_round_trips_and_says_so(tmp_path, digits):
    model = create_model("gan", "mlp", seed=0, conditional=False, pack=2)
    last = list(train(model, digits, TrainSettings(max_steps=3, batch_size=16, seed=0, preview_images=0)))[-1]
    assert last.step == 3 and all(torch.isfinite(torch.as_tensor(v)) for v in last.losses.values())
    histograms = model.diagnostics()
    assert histograms["D(x): real digits"].shape == (8,)  # 16 images, 8 packs of 2
    with torch.no_grad():
        report = model.inspect_batch(digits.images[:16].float().unsqueeze(1) / 255, None, torch.Generator().manual_seed(0))
    scores = report.rows[0].scores["D(x)"]
    assert scores.shape == (16,) and torch.equal(scores[0::2], scores[1::2])  # both images of a pack share its score
    assert "D judges packs of 2" in model.describe()
    loaded, metadata = load_model(save_model(model, tmp_path / "packed"))
    assert metadata["config"]["pack"] == 2
    assert np.array_equal(sample(loaded, 0, 4), sample(model, 0, 4))


def test_a_batch_that_is_not_whole_packs_is_refused_before_training(digits):
    model = create_model("gan", "mlp", seed=0, conditional=False, pack=3)
    with pytest.raises(ModelError, match=r"packs of 3 images, so the batch size \(16\) must be a multiple of 3: choose e.g. 15"):
        next(iter(train(model, digits, TrainSettings(max_steps=1, batch_size=16, seed=0, preview_images=0))))


def test_what_is_off_costs_a_step_nothing():
    """pack 1 hands D's features on untouched, and a loss term that is off is not added as a 0
    (each addition would be one more kernel and backward step on every training step)."""
    from genai.models.gan import packs_of, total

    features = torch.randn(6, 10)
    assert packs_of(features, 1) is features
    assert packs_of(features, 2).shape == (3, 20)
    loss = torch.tensor(1.5, requires_grad=True)
    assert total(loss, None, None) is loss
    assert float(total(loss, torch.tensor(2.0), None)) == 3.5
