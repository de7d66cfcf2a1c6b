"""Autoguidance: a diffusion model guided by a smaller one (genai/models/diffusion.py).

v = v_guide(x, t) + w (v(x, t) - v_guide(x, t)); scale 1 is the model on its own. The guide is
stored inside the guided model's checkpoint (`python -m genai add-guide`), never trained there.
A conditional model is guided by a conditional guide told the same digit, in place of
classifier-free guidance.
"""

import json
import shutil

import pytest
import torch

from genai.checkpoints import load_model, save_model
from genai.model_card import model_card
from genai.models import ModelError, create_model
from genai.sampling import sample
from test_cli import cli, files_on_disk, read_metadata


def diffusion(seed, channels=16, conditional=False, **config):
    return create_model("diffusion", "unet", seed=seed, conditional=conditional, channels=channels,
                        **{"sampling_steps": 4, **config})


def noise(n=5):
    return torch.randn(n, 784, generator=torch.Generator().manual_seed(7))


def test_one_guided_step_is_the_guide_plus_scale_times_the_difference():
    model, guide = diffusion(0, ema_decay=0.9), diffusion(1, channels=8, ema_decay=0.9)
    guided = model.with_guide(guide, 2.5)
    z = noise()
    x = z.reshape(-1, 1, 28, 28)
    t = torch.ones(len(z))
    with torch.no_grad():  # the networks that sample: each model's moving average
        weak, strong = guide.unet_ema(x, t), model.unet_ema(x, t)
        expected = ((x - (weak + 2.5 * (strong - weak))) + 1) / 2
    assert torch.allclose(guided.generate(z, sampling_steps=1), expected.clamp(0, 1), atol=1e-6)


def test_scale_one_draws_what_the_model_draws_alone_and_other_scales_differ():
    model, guide = diffusion(0), diffusion(1, channels=8)
    guided = model.with_guide(guide, 3.0)
    z = noise()
    assert torch.equal(guided.generate(z, guidance_scale=1.0), model.generate(z))
    assert not torch.equal(guided.generate(z), model.generate(z))


def test_a_conditional_model_is_guided_by_its_guide_told_the_same_digit_instead_of_by_its_unconditional_answer():
    model, guide = diffusion(0, conditional=True), diffusion(1, channels=8, conditional=True)
    guided = model.with_guide(guide, 2.0)
    z, digits = noise(), torch.tensor([0, 3, 3, 7, 9])
    x, t = z.reshape(-1, 1, 28, 28), torch.ones(len(z))
    with torch.no_grad():
        weak, strong = guide.unet(x, t, digits), model.unet(x, t, digits)
        expected = ((x - (weak + 2.0 * (strong - weak))) + 1) / 2
    assert torch.allclose(guided.generate(z, digits, sampling_steps=1), expected.clamp(0, 1), atol=1e-6)
    assert not torch.equal(guided.generate(z, digits), model.generate(z, digits, guidance_scale=2.0))
    assert torch.equal(guided.generate(z, digits, guidance_scale=1.0), model.generate(z, digits, guidance_scale=1.0))
    mix = torch.zeros(5, 10)
    mix[:, 3] = mix[:, 8] = 0.5  # halfway between a 3 and an 8: both networks blend their label vectors
    assert guided.generate(z, mix).shape == (5, 1, 28, 28)


def test_the_guidance_interval_limits_autoguidance_too():
    model, guide = diffusion(0, guidance_t_min=0.0, guidance_t_max=0.1), diffusion(1, channels=8)
    nowhere = model.with_guide(guide, 3.0)  # 4 steps: t = 1, 0.75, 0.5, 0.25, none of them <= 0.1
    z = noise()
    assert torch.equal(nowhere.generate(z), model.generate(z))
    middle = diffusion(0, guidance_t_min=0.3, guidance_t_max=0.8).with_guide(guide, 3.0)
    everywhere = model.with_guide(guide, 3.0)
    everywhere.config.guidance_t_max = 1.0
    partial = middle.generate(z)
    assert not torch.equal(partial, model.generate(z)) and not torch.equal(partial, everywhere.generate(z))


def test_adding_a_guide_changes_neither_model_and_the_guide_is_not_trained_or_counted():
    model, guide = diffusion(0), diffusion(1, channels=8)
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in (model, guide)]
    guided = model.with_guide(guide, 2.0)
    for m, state in zip((model, guide), before):
        assert all(torch.equal(state[k], v) for k, v in m.state_dict().items())
    assert guided.parameter_count() == model.parameter_count()
    assert "autoguided by a" in guided.describe() and "autoguided" not in model.describe()
    assert not any(p.requires_grad for p in guided.guide.parameters())
    optimized = {id(p) for group in guided.configure_optimizers(1e-3)["unet"].param_groups for p in group["params"]}
    assert not optimized & {id(p) for p in guided.guide.parameters()}
    # Only a guided model offers a guidance scale (the Sample tab's slider follows sampling_options).
    assert "guidance_scale" in guided.sampling_options and "guidance_scale" not in model.sampling_options


def test_a_saved_guided_model_loads_and_draws_the_same_digits(tmp_path):
    guided = diffusion(0).with_guide(diffusion(1, channels=8, extra_layers=1), 2.0)
    folder = save_model(guided, tmp_path / "guided", dataset="mnist")
    loaded, metadata = load_model(folder)
    assert metadata["config"]["guide_channels"] == 8 and metadata["config"]["guide_extra_layers"] == 1
    assert (sample(loaded, 42, n=6) == sample(guided, 42, n=6)).all()
    assert (sample(loaded, 42, n=6, guidance_scale=1) != sample(loaded, 42, n=6)).any()


@pytest.mark.parametrize("model, guide, message", [
    (lambda: diffusion(0, conditional=True), lambda: diffusion(1), "must be of the same kind"),
    (lambda: diffusion(0), lambda: diffusion(1, conditional=True), "must be of the same kind"),
    (lambda: diffusion(0, conditional=True), lambda: diffusion(1, conditional=True, num_classes=5), "must be of the same kind"),
    (lambda: diffusion(0), lambda: create_model("gan", "mlp", seed=0), "only be guided by another diffusion model"),
    (lambda: create_model("vae", "mlp", seed=0), lambda: diffusion(1), "only diffusion models can"),
    (lambda: diffusion(0).with_guide(diffusion(1), 2), lambda: diffusion(1), "already has a guide"),
])
def test_models_that_cannot_be_guided_are_refused_with_a_reason(model, guide, message):
    with pytest.raises(ModelError, match=message):
        model().with_guide(guide(), 2.0)


@pytest.mark.parametrize("options, message", [
    ({"guide_channels": 12}, "guide UNet's channels must be a multiple of 8"),
    ({"guide_channels": -8}, "guide_channels must be a whole number from 0 to 256"),
    ({"guide_channels": 8, "guide_extra_layers": 50}, "guide_extra_layers must be a whole number from 0 to 8"),
])
def test_impossible_guide_settings_are_refused(options, message):
    with pytest.raises(ModelError, match=message):
        diffusion(0, **options)


def test_an_absurd_guidance_scale_is_refused_when_the_guide_is_added():
    with pytest.raises(ModelError, match="guidance_scale must be a number from 0 to 20"):
        diffusion(0).with_guide(diffusion(1), 50.0)


@pytest.fixture(scope="module")
def trained_pair(tmp_path_factory, mnist_dir):
    """Two tiny unconditional diffusion runs by the CLI: the model and its (narrower) guide."""
    root = tmp_path_factory.mktemp("autoguidance")
    for name, channels in (("model", 16), ("guide", 8)):
        code, _, err = cli("train", "--model", "diffusion", "--no-conditional", "--channels", channels, "--max-steps", 3,
                           "--batch-size", 16, "--limit", 200, "--data-dir", mnist_dir, "--device", "cpu",
                           "--out", root / name)
        assert code == 0, err
    return root


def test_add_guide_writes_a_new_guided_checkpoint_and_tune_guidance_chooses_its_scale(trained_pair, mnist_dir):
    root = trained_pair
    untouched = files_on_disk(root)
    code, out, err = cli("add-guide", "--checkpoint", root / "model", "--guide", root / "guide",
                         "--out", root / "guided", "--scale", 2)
    assert code == 0, err
    assert "tune-guidance" in out
    assert files_on_disk(root / "model") == {k[len("model/"):]: v for k, v in untouched.items() if k.startswith("model/")}
    metadata = read_metadata(root / "guided")
    assert metadata["config"]["guide_channels"] == 8 and metadata["config"]["guidance_scale"] == 2.0
    assert metadata["training"] == read_metadata(root / "model")["training"]  # what the model itself learned from
    assert metadata["guide"]["training"]["split"] == "train" and metadata["guide"]["checkpoint"] == str(root / "guide")
    assert "add-guide" in metadata["guide_added"]["command"]
    from genai.ui.model_store import summary  # the line the app's tabs show about a model

    assert "guided by a smaller UNet (8 channels; autoguidance)" in summary(metadata, "yours")
    card = model_card("guided", metadata, None)
    assert "autoguidance, scale 2)" in card and card.count("Learned from: mnist train split") == 2
    metadata["config"].update(guidance_t_min=0.3, guidance_t_max=0.8)
    assert "autoguidance, scale 2 for 0.3 < t <= 0.8)" in model_card("guided", metadata, None)

    code, out, err = cli("tune-guidance", "--checkpoint", root / "guided", "--scales", 1, 2.5, "--n", 20,
                         "--data-dir", mnist_dir)
    assert code == 0, err
    chosen = read_metadata(root / "guided")["guidance_choice"]["chosen"]
    assert chosen in (1.0, 2.5) and load_model(root / "guided")[0].config.guidance_scale == chosen


def test_add_guide_refuses_bad_input_and_changes_nothing(trained_pair, tmp_path):
    root = trained_pair
    other_data = tmp_path / "guide-fashion"
    shutil.copytree(root / "guide", other_data)
    config = json.loads((other_data / "config.json").read_text())
    config["dataset"] = "fashion-mnist"
    (other_data / "config.json").write_text(json.dumps(config))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    before = files_on_disk(tmp_path), files_on_disk(root)
    for args, message in (
        (["--guide", other_data, "--out", tmp_path / "new"], "a guide must learn from the same data"),
        (["--guide", root / "guide", "--out", tmp_path / "taken"], "already exists and is not empty"),
        (["--guide", tmp_path / "missing", "--out", tmp_path / "new"], "No checkpoint folder"),
        (["--guide", root / "guide", "--out", tmp_path / "new", "--scale", 0], "must be a finite number above 0"),
        (["--guide", root / "guide", "--out", tmp_path / "new", "--scale", 21], "guidance_scale must be a number from 0 to 20"),
    ):
        code, _, err = cli("add-guide", "--checkpoint", root / "model", *args)
        assert code == 2 and message in err and "Traceback" not in err, err
    assert (files_on_disk(tmp_path), files_on_disk(root)) == before


def test_tune_guidance_refuses_an_unguided_unconditional_model(trained_pair, mnist_dir):
    code, _, err = cli("tune-guidance", "--checkpoint", trained_pair / "model", "--scales", 2, "--n", 10,
                       "--data-dir", mnist_dir)
    assert code == 2 and "add-guide" in err, err


def test_the_sample_tab_offers_a_guidance_scale_for_a_guided_model_only(tmp_path, monkeypatch):
    from genai.ui import sample_tab

    guided = diffusion(0, guidance_t_min=0.3, guidance_t_max=0.8).with_guide(diffusion(1, channels=8), 2.5)
    save_model(guided, tmp_path / "guided", dataset="mnist")
    save_model(diffusion(2), tmp_path / "plain", dataset="mnist")
    monkeypatch.setenv("GENAI_CHECKPOINTS_DIR", str(tmp_path))
    text, digit, steps, guidance = sample_tab.model_info("guided", None)
    assert "guided by a smaller UNet" in text and not digit["interactive"]
    assert steps["interactive"] and guidance["interactive"] and guidance["value"] == 2.5
    _, _, steps, guidance = sample_tab.model_info("plain", None)
    assert steps["interactive"] and not guidance["interactive"]
