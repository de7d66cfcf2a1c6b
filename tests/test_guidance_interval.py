"""Classifier-free guidance limited to an interval of t (genai/models/diffusion.py).

Outside guidance_t_min < t <= guidance_t_max the sampler uses the plain conditional velocity, so
an interval that holds none of the sampling steps' t draws exactly what guidance scale 1 draws.
"""

import pytest
import torch

from genai.models import ModelError, create_model
from test_cli import cli, read_metadata


def conditional_diffusion(**config):
    return create_model("diffusion", "unet", seed=0, conditional=True, channels=8, **{"sampling_steps": 10, **config})


def draw(model, scale):
    z = torch.randn(6, 784, generator=torch.Generator().manual_seed(3))
    return model.generate(z, torch.arange(6), guidance_scale=scale)


def test_an_interval_without_any_step_is_plain_conditional_and_the_full_interval_is_the_old_sampler():
    everywhere = conditional_diffusion()  # the default: 0 < t <= 1, every step guided
    nowhere = conditional_diffusion(guidance_t_min=0.0, guidance_t_max=0.05)  # steps are at t = 1, 0.9, ..., 0.1
    nowhere.load_state_dict(everywhere.state_dict())
    assert torch.equal(draw(nowhere, 3.0), draw(everywhere, 1.0))
    assert not torch.equal(draw(everywhere, 3.0), draw(everywhere, 1.0))


def test_a_partial_interval_guides_some_steps_only():
    full = conditional_diffusion()
    middle = conditional_diffusion(guidance_t_min=0.25, guidance_t_max=0.75)
    middle.load_state_dict(full.state_dict())
    partial = draw(middle, 3.0)
    assert not torch.equal(partial, draw(full, 3.0)) and not torch.equal(partial, draw(full, 1.0))


@pytest.mark.parametrize("low, high, message", [
    (0.8, 0.2, "guidance_t_min must be below guidance_t_max"),
    (0.5, 0.5, "guidance_t_min must be below guidance_t_max"),
    (-0.1, 1.0, "guidance_t_min must be a number from 0 to 1"),
    (0.0, 1.5, "guidance_t_max must be a number from 0 to 1"),
])
def test_impossible_intervals_are_refused_with_a_message(low, high, message):
    with pytest.raises(ModelError, match=message):
        conditional_diffusion(guidance_t_min=low, guidance_t_max=high)


def test_tune_guidance_with_an_interval_writes_it_into_the_config_and_refuses_an_impossible_one(mnist_dir, tmp_path):
    from genai.checkpoints import load_model, save_model

    folder = save_model(conditional_diffusion(sampling_steps=2), tmp_path / "d", dataset="mnist")
    before = (folder / "config.json").read_bytes()
    for interval, message in (([0.9, 0.1], "t_min must be below t_max"), ([0, 2], "guidance_t_max must be a number from 0 to 1")):
        code, _, err = cli("tune-guidance", "--checkpoint", folder, "--scales", 1.5, "--interval", *interval,
                           "--n", 10, "--data-dir", mnist_dir)
        assert code == 2 and message in err, err
    assert (folder / "config.json").read_bytes() == before
    code, out, err = cli("tune-guidance", "--checkpoint", folder, "--scales", 1.5, 3, "--interval", 0.2, 0.85,
                         "--n", 20, "--data-dir", mnist_dir)
    assert code == 0, err
    assert "for 0.2 < t <= 0.85" in out
    metadata = read_metadata(folder)
    assert metadata["guidance_choice"]["interval"] == [0.2, 0.85]
    model, _ = load_model(folder)
    assert (model.config.guidance_t_min, model.config.guidance_t_max) == (0.2, 0.85)
    assert model.config.guidance_scale == metadata["guidance_choice"]["chosen"]
