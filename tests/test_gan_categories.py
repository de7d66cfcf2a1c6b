"""InfoGAN: an unconditional GAN whose noise also chooses a category that D's head Q must read back."""

import numpy as np
import pytest
import torch

from genai.checkpoints import load_model, save_model
from genai.data import load_dataset
from genai.models import create_model
from genai.models.base import ModelError
from genai.models.gan import category_code, information_loss
from genai.sampling import sample
from genai.train import TrainSettings, train


def test_the_first_k_noise_numbers_become_a_one_hot_choice_that_is_uniform_over_the_categories():
    z = torch.randn(20_000, 12, generator=torch.Generator().manual_seed(0))
    code, chosen = category_code(z, 4)
    assert code.shape == z.shape and torch.equal(code[:, 4:], z[:, 4:])  # the rest of the noise is kept
    assert torch.equal(code[:, :4], torch.nn.functional.one_hot(z[:, :4].argmax(1), 4).float())
    assert torch.equal(chosen, z[:, :4].argmax(1))
    shares = torch.bincount(chosen, minlength=4) / len(chosen)
    assert torch.allclose(shares, torch.full((4,), 0.25), atol=0.01)


def test_the_information_loss_is_the_cross_entropy_of_q_reading_the_category():
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.0, 4.0]])
    expected = -torch.log_softmax(logits, 1)[[0, 1], [0, 1]].mean()  # the second row was asked for category 1
    assert torch.isclose(information_loss(logits, torch.tensor([0, 1])), expected)


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=64)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_a_gan_with_categories_trains_both_g_and_q_shows_q_in_step_mode_and_round_trips(tmp_path, digits, arch):
    width = {"channels": 8} if arch == "dcgan" else {}
    model = create_model("gan", arch, seed=0, conditional=False, categories=10, **width)
    reader_before = [p.detach().clone() for p in model.discriminator.reader.parameters()]
    last = list(train(model, digits, TrainSettings(max_steps=3, batch_size=16, seed=0, preview_images=0)))[-1]
    assert "L_I" in model.loss_names and torch.isfinite(torch.as_tensor(last.losses["L_I"]))
    assert all(not torch.equal(a, b) for a, b in zip(reader_before, model.discriminator.reader.parameters()))
    with torch.no_grad():
        report = model.inspect_batch(digits.images[:16].float().unsqueeze(1) / 255, None, torch.Generator().manual_seed(0))
    q = report.rows[1].scores["Q(c|G(z))"]
    assert q.shape == (16,) and bool(((q > 0) & (q < 1)).all()) and "L_I" in report.losses
    assert "10 categories found without labels (InfoGAN)" in model.describe()
    loaded, metadata = load_model(save_model(model, tmp_path / "info"))
    assert metadata["config"]["categories"] == 10
    assert np.array_equal(sample(loaded, 0, 4), sample(model, 0, 4))


def test_the_category_decides_the_image_and_the_rest_of_the_noise_does_not_leak_through_the_chosen_slots():
    model = create_model("gan", "mlp", seed=0, conditional=False, categories=10).eval()
    z = torch.randn(2, 100, generator=torch.Generator().manual_seed(1))
    same_choice = z.clone()
    same_choice[:, :10] *= 0.5  # smaller numbers, the same largest one: the same category
    other_choice = z.clone()
    other_choice[:, :10] = other_choice[:, :10].roll(1, dims=1)
    with torch.no_grad():
        assert torch.equal(model.generate(same_choice), model.generate(z))
        assert not torch.equal(model.generate(other_choice), model.generate(z))


@pytest.mark.parametrize("options, message", [
    ({"conditional": True, "categories": 10}, "categories is for unconditional GANs"),
    ({"conditional": False, "categories": 1}, r"from 2 to latent_dim - 1 \(99\)"),
    ({"conditional": False, "categories": 10, "latent_dim": 10}, r"from 2 to latent_dim - 1 \(9\)"),
    ({"conditional": False, "categories": -1}, "categories must be a whole number from 0 to 100"),
])
def test_settings_that_cannot_work_with_categories_are_refused_with_what_to_do(options, message):
    with pytest.raises(ModelError, match=message):
        create_model("gan", "mlp", **options)
