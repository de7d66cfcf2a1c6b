"""Tests for genai.ui.model_store: bad folders are skipped, failures remembered, and one model
loading never blocks a visitor who samples another."""

import json
import threading
import time

import pytest
import torch
from safetensors.torch import save_file

from genai.checkpoints import CONFIG_FILE, WEIGHTS_FILE, save_model
from genai.models import create_model
from genai.ui import model_store
from genai.ui.errors import AppError


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A checkpoints folder with two good models."""
    monkeypatch.setenv("GENAI_CHECKPOINTS_DIR", str(tmp_path))
    monkeypatch.setattr(model_store, "_device", "cpu")
    for name, family in (("a-gan", "gan"), ("b-vae", "vae")):
        save_model(create_model(family, "mlp", seed=0), tmp_path / name)
    return tmp_path


def test_a_folder_with_an_unbuildable_config_is_skipped_and_the_rest_served(root):
    config = json.loads((root / "a-gan" / CONFIG_FILE).read_text())
    config["config"]["label_embedding_dim"] = 10**7
    (root / "a-gan" / CONFIG_FILE).write_text(json.dumps(config))
    assert list(model_store.pretrained_folders()) == ["b-vae"]
    assert [name for _, name in model_store.choices(None)] == ["b-vae"]


def test_a_failed_load_is_remembered_and_not_repeated(root, monkeypatch):
    weights = {k: v.contiguous() for k, v in create_model("gan", "mlp").state_dict().items()}
    weights["generator.net.0.weight"][0, 0] = float("nan")  # the header is fine; the numbers are not
    save_file(weights, root / "a-gan" / WEIGHTS_FILE, metadata={"format": "pt"})
    assert "a-gan" in model_store.pretrained_folders()
    with pytest.raises(AppError, match="'a-gan' cannot be loaded: .*NaN or infinite") as first:
        model_store.find("a-gan", None)
    assert str(root) not in str(first.value)  # the server's path is never shown to a visitor
    calls = []
    monkeypatch.setattr(model_store, "load_model", lambda *args: calls.append(args))
    with pytest.raises(AppError, match="cannot be loaded"):
        model_store.find("a-gan", None)
    assert calls == []


def test_loading_one_model_never_blocks_another(root, monkeypatch):
    real_load = model_store.load_model
    release = threading.Event()

    def slow_load(folder, device):
        if folder.name == "a-gan":
            release.wait(10)  # a big model still loading
        return real_load(folder, device)

    monkeypatch.setattr(model_store, "load_model", slow_load)
    loader = threading.Thread(target=model_store.find, args=("a-gan", None))
    loader.start()
    time.sleep(0.2)
    found = []
    other = threading.Thread(target=lambda: found.append(model_store.find("b-vae", None)))
    other.start()
    other.join(timeout=8)
    finished_while_a_gan_loads = not other.is_alive() and not release.is_set()
    release.set()
    loader.join()
    other.join()
    assert finished_while_a_gan_loads and found[0].model.family == "vae"
    assert model_store.find("a-gan", None) is model_store.find("a-gan", None)  # loaded once, shared
    assert not any(p.requires_grad for p in model_store.find("a-gan", None).model.parameters())
    assert isinstance(model_store.find("a-gan", None).model.generator.net[0].weight, torch.Tensor)


def test_a_models_line_says_when_it_samples_from_a_fitted_mixture():
    from genai.ui.model_store import summary

    metadata = {"family": "vae", "arch": "mlp", "dataset": "mnist", "steps": 100,
                "config": {"latent_dim": 16, "conditional": False, "prior_components": 10}}
    assert summary(metadata, "pretrained") == ("pretrained: VAE (MLP), 16-D latent, samples from 10 Gaussians fitted "
                                               "to its training codes, 100 steps on MNIST")
    metadata["config"]["prior_components"] = 0
    assert "Gaussians" not in summary(metadata, "pretrained")


def test_a_models_line_says_when_its_noise_chooses_a_category():
    from genai.ui.model_store import summary

    metadata = {"family": "gan", "arch": "mlp", "dataset": "mnist", "steps": 40000,
                "config": {"latent_dim": 72, "conditional": False, "categories": 10}}
    assert summary(metadata, "pretrained") == ("pretrained: GAN (MLP), 72-D latent, 10 categories found without "
                                               "labels (InfoGAN), 40,000 steps on MNIST")
    metadata["config"]["categories"] = 0
    assert "categories" not in summary(metadata, "pretrained")
