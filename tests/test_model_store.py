"""Tests for genai.ui.model_store: bad folders are skipped, failures remembered, and one model
loading never blocks a visitor who samples another."""

import json
import threading
import time

import pytest
import torch
from safetensors.torch import save_file

from genai.checkpoints import CONFIG_FILE, WEIGHTS_FILE, CheckpointError, save_model
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
    assert "a-gan" in model_store.pretrained_folders()  # it passed the scan; then its load fails (a disk error, say)
    calls = []

    def failing_load(folder, device):
        calls.append(folder)
        raise CheckpointError(f"The weights in {folder / WEIGHTS_FILE} cannot be read (input/output error).")

    monkeypatch.setattr(model_store, "load_model", failing_load)
    with pytest.raises(AppError, match="'a-gan' cannot be loaded: .*cannot be read") as first:
        model_store.find("a-gan", None)
    assert str(root) not in str(first.value)  # the server's path is never shown to a visitor
    with pytest.raises(AppError, match="cannot be loaded"):
        model_store.find("a-gan", None)
    assert len(calls) == 1


def skipped_lines(caplog):
    return [record.getMessage() for record in caplog.records if "Skipping the checkpoint folder" in record.getMessage()]


def with_nan(folder):
    weights = {k: v.contiguous() for k, v in create_model("gan", "mlp").state_dict().items()}
    weights["generator.net.0.weight"][0, 0] = float("nan")  # the header is fine; the numbers are not
    save_file(weights, folder / WEIGHTS_FILE, metadata={"format": "pt"})


def cut_short(folder):
    data = (folder / WEIGHTS_FILE).read_bytes()
    (folder / WEIGHTS_FILE).write_bytes(data[: len(data) - 1000])  # the header is whole; the numbers are not


@pytest.mark.parametrize("spoil, message", [(with_nan, "NaN or infinite values"), (cut_short, "not a valid safetensors")])
def test_weights_cut_short_or_not_finite_are_found_at_the_scan_with_one_log_line(root, caplog, spoil, message):
    spoil(root / "a-gan")
    for _ in range(3):  # however often the pickers ask, the folder is read once
        assert list(model_store.pretrained_folders()) == ["b-vae"]
    lines = skipped_lines(caplog)
    assert len(lines) == 1 and "a-gan" in lines[0] and message in lines[0]


@pytest.mark.parametrize("field, value, message", [
    ("steps", "lots", "steps must be a whole number from 0 to 1,000,000,000,000, not 'lots'"),
    ("steps", 10**400, "steps must be a whole number"),
    ("steps", -3, "steps must be a whole number"),
    ("dataset", ["mnist"], "dataset must be one of mnist, fashion-mnist"),
    ("training", "fast", "training must be a mapping"),
    ("created", "x" * 10_000, "created must be a text of at most 64 characters"),
], ids=["steps-text", "steps-400-digits", "steps-negative", "dataset-list", "training-text", "created-long"])
def test_every_field_of_config_json_is_checked_at_the_scan(root, caplog, field, value, message):
    config = json.loads((root / "a-gan" / CONFIG_FILE).read_text())
    config[field] = value
    (root / "a-gan" / CONFIG_FILE).write_text(json.dumps(config))
    assert list(model_store.pretrained_folders()) == ["b-vae"]
    lines = skipped_lines(caplog)
    assert len(lines) == 1 and message in lines[0]
    assert len(lines[0]) < 600 and "0" * 100 not in lines[0]  # a short quote, never 400 digits


def test_a_bad_field_of_the_training_record_is_named(root, caplog):
    config = json.loads((root / "a-gan" / CONFIG_FILE).read_text())
    config["training"] = {"split": "everything", "batch_size": 64.5, "lr": float("inf")}
    (root / "a-gan" / CONFIG_FILE).write_text(json.dumps(config))
    assert "a-gan" not in model_store.pretrained_folders()
    line = skipped_lines(caplog)[0]
    assert "training.split must be one of train, test" in line and "training.batch_size must be a whole number" in line
    assert "training.lr must be a number" in line


def test_a_folder_name_cannot_forge_a_log_line(root, caplog):
    forged = root / "evil\nWARNING genai.ui: all is well"
    (root / "a-gan").rename(forged)
    (forged / CONFIG_FILE).write_text('{"family": ')
    assert list(model_store.pretrained_folders()) == ["b-vae"]
    lines = skipped_lines(caplog)
    assert len(lines) == 1 and "\n" not in lines[0] and "evil\\nWARNING" in lines[0]


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


def test_pickers_group_models_by_family_strongest_first_and_open_on_a_strong_fast_one(root):
    """A PixelCNN that recognizes more digits still does not open a picker: it draws for seconds, pixel by
    pixel; the strongest model that draws at once does. Measured figures rank each family's models."""
    save_model(create_model("gan", "mlp", seed=1, conditional=True), root / "c-gan")
    save_model(create_model("autoregressive", "pixelcnn", seed=0), root / "d-pixelcnn")
    (root / "eval").mkdir()
    for name, share in (("a-gan", 0.5), ("c-gan", 0.9), ("d-pixelcnn", 0.99)):
        (root / "eval" / f"{name}.json").write_text(json.dumps({"recognizable_share": share}))
    pairs = model_store.choices(None)
    assert [name for _, name in pairs] == ["c-gan", "a-gan", "b-vae", "d-pixelcnn"]  # by family, strongest first
    labels = dict((name, label) for label, name in pairs)
    assert labels["c-gan"].startswith("c-gan — conditional GAN (MLP), pretrained · sharp digits in milliseconds")
    assert "has an encoder" in labels["b-vae"] and "pixel by pixel" in labels["d-pixelcnn"]
    assert model_store.preferred(pairs, None) == "c-gan"
    assert model_store.preferred(pairs, None, needs_encoder=True) == "b-vae"
    assert model_store.preferred(pairs, None, current="d-pixelcnn") == "d-pixelcnn"  # a choice made is kept


def test_interpolate_says_when_a_model_has_no_smooth_walk_between_seeds(root):
    pytest.importorskip("gradio")
    from genai.ui.interpolate_tab import walk_note

    save_model(create_model("autoregressive", "pixelcnn", seed=0), root / "d-pixelcnn")
    assert "No smooth walk between seeds" in walk_note("d-pixelcnn", None)
    assert walk_note("a-gan", None) == walk_note("b-vae", None) == ""


def test_evaluates_time_hint_is_the_models_own_and_then_what_it_took(root):
    pytest.importorskip("gradio")
    from genai.ui import evaluate_time

    save_model(create_model("autoregressive", "pixelcnn", seed=0), root / "d-pixelcnn")
    gan, pixelcnn = model_store.find("a-gan", None), model_store.find("d-pixelcnn", None)
    assert "per 1,000 samples of a-gan on this server: drawing them" in evaluate_time.hint(gan)
    assert evaluate_time.drawing_seconds(pixelcnn) > 10 * evaluate_time.drawing_seconds(gan)  # 784 passes, not 1
    evaluate_time.record(gan, 500, 2.0)
    assert evaluate_time.hint(gan).endswith("a-gan took 4 s per 1,000 samples here last time.")
