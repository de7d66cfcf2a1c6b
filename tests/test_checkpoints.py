"""Tests for genai.checkpoints: save -> load gives the same model, and every bad folder or file is
refused with a message saying what is wrong, without touching what is on disk.
"""

import json
import pickle
import struct

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from genai.checkpoints import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    is_checkpoint,
    load_model,
    read_metadata,
    save_model,
)
from genai.models import ARCHS, FAMILIES, create_model
from genai.sampling import latent_noise, sample

COMBOS = [(family, arch, conditional) for family in FAMILIES for arch in ARCHS[family] for conditional in (False, True)]


def files_on_disk(root):
    """Every path under root with its bytes and modification time, to prove nothing changed."""
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns) if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def stepped(family, arch, conditional=False, steps=2, **options):
    """A model after a couple of updates, so its weights and BatchNorm statistics are not the initial ones."""
    model = create_model(family, arch, seed=1, conditional=conditional, **options)
    optimizers = model.configure_optimizers(model.default_lr)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        images = torch.rand(8, 1, 28, 28, generator=generator)
        model.training_step(images, torch.arange(8) if conditional else None, optimizers, torch.Generator())
    return model.eval()


@pytest.fixture
def saved(tmp_path):
    """A saved MLP GAN checkpoint folder."""
    return save_model(stepped("gan", "mlp"), tmp_path / "gan", dataset="mnist", steps=2)


# ---------------------------------------------------------------------------------------------
# Round trip
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family,arch,conditional", COMBOS)
def test_save_then_load_gives_identical_outputs(tmp_path, family, arch, conditional):
    model = stepped(family, arch, conditional)
    directory = save_model(model, tmp_path / "model", dataset="mnist", steps=2, training={"lr": 0.001})
    loaded, metadata = load_model(directory)

    assert type(loaded) is type(model) and loaded.config == model.config
    assert not loaded.training  # ready to sample
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    z = latent_noise(3, 6, model.latent_dim)
    labels = torch.arange(6) if conditional else None
    with torch.no_grad():
        assert torch.equal(loaded.generate(z, labels), model.generate(z, labels))
    assert np.array_equal(sample(loaded, 9, 4), sample(model, 9, 4))
    assert metadata["family"] == family and metadata["arch"] == arch
    assert metadata["config"]["conditional"] is conditional
    assert metadata["dataset"] == "mnist" and metadata["steps"] == 2 and metadata["training"] == {"lr": 0.001}


def test_the_folder_holds_json_and_safetensors_only(saved):
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    config = json.loads((saved / CONFIG_FILE).read_text())
    assert {"family", "arch", "config", "created", "genai_version"} <= set(config)
    with safe_open(saved / WEIGHTS_FILE, framework="pt") as weights:
        assert "generator.net.0.weight" in weights.keys()
    assert is_checkpoint(saved) and read_metadata(saved)["arch"] == "mlp"
    assert not any(p.name.startswith(".") for p in saved.parent.iterdir())  # no temporary folders left


def test_a_2d_vae_round_trips(tmp_path):
    model = stepped("vae", "mlp", latent_dim=2, beta=4.0)
    loaded, metadata = load_model(save_model(model, tmp_path / "vae-2d"))
    assert loaded.latent_dim == 2 and loaded.config.beta == 4.0 and metadata["config"]["latent_dim"] == 2


def test_a_safetensors_file_that_starts_with_byte_0x80_still_loads(tmp_path):
    """The first 8 bytes of safetensors are the header length: 128 starts with 0x80, like a pickle."""
    model = stepped("vae", "mlp")
    directory = save_model(model, tmp_path / "vae")
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    for padding in range(256):  # pad the header's metadata until its length is 128 (mod 256)
        save_file(weights, directory / WEIGHTS_FILE, metadata={"format": "pt", "note": "x" * padding})
        if (directory / WEIGHTS_FILE).read_bytes()[0] == 0x80:
            break
    assert (directory / WEIGHTS_FILE).read_bytes()[0] == 0x80
    loaded, _ = load_model(directory)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in weights.items())


# ---------------------------------------------------------------------------------------------
# Saving never overwrites
# ---------------------------------------------------------------------------------------------


def test_saving_into_an_existing_checkpoint_is_refused_and_changes_nothing(saved):
    before = files_on_disk(saved.parent)
    with pytest.raises(CheckpointError, match="already holds a saved model; choose a new folder"):
        save_model(stepped("vae", "mlp"), saved)
    assert files_on_disk(saved.parent) == before


def test_saving_into_a_folder_with_other_files_is_refused_and_changes_nothing(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"precious")
    before = files_on_disk(tmp_path)
    with pytest.raises(CheckpointError, match="already holds other files"):
        save_model(stepped("gan", "mlp"), folder)
    assert files_on_disk(tmp_path) == before


def test_saving_onto_a_file_is_refused(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    with pytest.raises(CheckpointError, match="is a file, not a folder"):
        save_model(stepped("gan", "mlp"), target)
    assert target.read_text() == "keep me"


def test_an_empty_folder_is_used_and_overwrite_true_replaces(tmp_path, saved):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert is_checkpoint(save_model(stepped("gan", "mlp"), empty))
    save_model(stepped("vae", "conv"), saved, overwrite=True)
    assert read_metadata(saved)["family"] == "vae"
    assert load_model(saved)[0].arch == "conv"


# ---------------------------------------------------------------------------------------------
# Loading refuses bad folders and files, and leaves them as they are
# ---------------------------------------------------------------------------------------------


def refuse(directory, message):
    """load_model(directory) must raise CheckpointError matching message and change no file."""
    before = files_on_disk(directory) if directory.is_dir() else None
    with pytest.raises(CheckpointError, match=message) as error:
        load_model(directory)
    if before is not None:
        assert files_on_disk(directory) == before
    return str(error.value)


def test_a_missing_folder_is_refused(tmp_path):
    refuse(tmp_path / "nowhere", "No checkpoint folder at .*nowhere")


def test_a_missing_config_json_is_refused(saved):
    (saved / CONFIG_FILE).unlink()
    refuse(saved, "has no config.json: it is not a genai checkpoint")


def test_corrupt_json_is_refused(saved):
    (saved / CONFIG_FILE).write_text('{"family": "gan", "arch": ')
    refuse(saved, "config.json is not valid JSON")


def test_json_that_is_not_a_genai_config_is_refused(saved):
    (saved / CONFIG_FILE).write_text('["a", "list"]')
    refuse(saved, "lacks the fields family, arch and config")
    (saved / CONFIG_FILE).write_bytes(b"\xff\xfe garbage")
    refuse(saved, "not valid JSON")


@pytest.mark.parametrize(
    "change,message",
    [
        ({"arch": "transformer"}, "describes a model genai cannot build: Unknown GAN architecture"),
        ({"family": "transformer"}, "cannot build: Unknown model family"),
        ({"config": {"latent_dim": -4}}, "cannot build: latent_dim"),
        ({"config": {"wings": 2}}, "cannot build: .*no setting wings"),
        ({"config": "latent 100"}, "cannot build"),
    ],
)
def test_a_config_genai_cannot_build_is_refused(saved, change, message):
    config = json.loads((saved / CONFIG_FILE).read_text())
    config.update(change)
    (saved / CONFIG_FILE).write_text(json.dumps(config))
    refuse(saved, message)


@pytest.mark.parametrize("field, value", [("steps", "lots"), ("steps", 10**400), ("steps", True), ("dataset", 7),
                                          ("training", [1]), ("genai_version", {"x": 1})],
                         ids=["steps-text", "steps-400-digits", "steps-bool", "dataset-number", "training-list",
                              "version-mapping"])
def test_the_fields_beside_the_models_config_are_checked_too(saved, field, value):
    """What config.json records of a model's making is shown by the app: checked like the rest, quoted short."""
    config = json.loads((saved / CONFIG_FILE).read_text())
    config[field] = value
    (saved / CONFIG_FILE).write_text(json.dumps(config))
    message = refuse(saved, f"holds fields genai cannot use: {field} must be")
    assert len(message) < 400


def test_missing_weights_are_refused(saved):
    (saved / WEIGHTS_FILE).unlink()
    refuse(saved, "has no model.safetensors: the weights are missing")


def test_weights_of_the_wrong_shape_are_refused_naming_the_tensor(saved):
    config = json.loads((saved / CONFIG_FILE).read_text())
    config["config"]["latent_dim"] = 64  # the weights were trained with latent 100
    (saved / CONFIG_FILE).write_text(json.dumps(config))
    message = refuse(saved, "do not match the model in config.json")
    assert "generator.net.0.weight: (256, 100) instead of (256, 64)" in message


def test_weights_of_another_architecture_are_refused_listing_missing_and_unexpected(saved):
    config = json.loads((saved / CONFIG_FILE).read_text())
    config["family"], config["arch"] = "vae", "mlp"
    config["config"] = create_model("vae", "mlp").config.to_dict()
    (saved / CONFIG_FILE).write_text(json.dumps(config))
    message = refuse(saved, "do not match")
    assert "missing 12 tensors (e.g. decoder.0.bias" in message
    assert "unexpected tensors (e.g. discriminator.net.0.bias" in message


def test_a_torch_save_file_is_refused_as_a_pickle(saved):
    torch.save(stepped("gan", "mlp").state_dict(), saved / WEIGHTS_FILE)  # a zip of pickles
    refuse(saved, "looks like a pickle or torch.save file. genai only loads safetensors")


def test_a_plain_pickle_is_refused_without_running_it(saved, tmp_path):
    marker = tmp_path / "pickle-ran"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))  # unpickling would call open(marker, "w")

    (saved / WEIGHTS_FILE).write_bytes(pickle.dumps(Exploit(), protocol=2))
    refuse(saved, "looks like a pickle")
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"hello, not weights", struct.pack("<Q", 10**12) + b"{}", b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}   "])
def test_files_that_are_not_safetensors_are_refused(saved, content):
    (saved / WEIGHTS_FILE).write_bytes(content)
    refuse(saved, "is not a valid safetensors file")


def test_truncated_weights_are_refused(saved):
    data = (saved / WEIGHTS_FILE).read_bytes()
    (saved / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    refuse(saved, "is not a valid safetensors file")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_infinite_weights_are_refused_naming_the_tensor(saved, bad):
    model = stepped("gan", "mlp")
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    weights["discriminator.net.2.weight"][0, 3] = bad
    save_file(weights, saved / WEIGHTS_FILE, metadata={"format": "pt"})
    refuse(saved, r"contain NaN or infinite values \(discriminator.net.2.weight\)")


# ---------------------------------------------------------------------------------------------
# A checkpoint is untrusted input (a folder someone sent, a model from the Hub): every config
# field is checked, and the weights' shapes are compared with the config before anything is built
# ---------------------------------------------------------------------------------------------


def with_config(saved, **changes):
    config = json.loads((saved / CONFIG_FILE).read_text())
    config["config"].update(changes)
    (saved / CONFIG_FILE).write_text(json.dumps(config))


@pytest.mark.parametrize("field, value", [
    ("num_classes", 10**9), ("num_classes", 1), ("label_embedding_dim", 10**7), ("label_embedding_dim", "10"),
    ("latent_dim", True), ("latent_dim", 1e300), ("conditional", "yes"), ("ema_decay", float("nan")),
    ("ema_decay", 1.5), ("num_classes", [10]), ("label_embedding_dim", -1),
])
def test_every_config_field_is_checked_for_type_and_range(saved, field, value, monkeypatch):
    built = []
    monkeypatch.setattr("genai.checkpoints.model_from_config", lambda metadata: built.append(metadata))
    with_config(saved, **{field: value})
    refuse(saved, f"cannot build: {field} must be")
    assert built == []  # refused before any model was built


@pytest.mark.parametrize("model", [("gan", "dcgan", {"channels": 10**6}), ("vae", "conv", {"channels": 10**6}),
                                   ("gan", "mlp", {"num_classes": 10**8, "conditional": True})])
def test_a_tiny_config_asking_for_a_huge_model_costs_nothing(tmp_path, model):
    """The 1 KB config that once cost 8 GB and 30 s: refused from its fields alone."""
    family, arch, change = model
    folder = save_model(stepped(family, arch), tmp_path / "m")
    with_config(folder, **change)
    refuse(folder, "must be a whole number")


def test_a_config_whose_weights_do_not_match_is_refused_before_building(saved, monkeypatch):
    built = []
    monkeypatch.setattr("genai.checkpoints.model_from_config", lambda metadata: built.append(metadata))
    with_config(saved, conditional=True, label_embedding_dim=256, latent_dim=1024)
    refuse(saved, "do not match the model in config.json")
    assert built == []


def test_a_model_over_the_size_cap_is_refused(saved, monkeypatch):
    monkeypatch.setattr("genai.checkpoints.MAX_PARAMETERS", 1000)
    refuse(saved, "describes a model of [0-9,]+ numbers; genai loads at most 1,000")


def test_deeply_nested_or_huge_json_is_one_clear_error(saved):
    (saved / CONFIG_FILE).write_text("[" * 100_000 + "]" * 100_000)
    refuse(saved, "config.json is not valid JSON")
    (saved / CONFIG_FILE).write_text(json.dumps({"family": "gan", "arch": "mlp", "config": {}, "pad": "x" * 2_000_000}))
    refuse(saved, "too large for a genai config")


def test_a_safetensors_header_that_is_not_genai_weights_is_refused(saved):
    header = json.dumps({"w": {"dtype": "F32", "shape": "not a shape", "data_offsets": [0, 4]}}).encode()
    (saved / WEIGHTS_FILE).write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    refuse(saved, "is not a valid safetensors file")


def test_a_save_killed_midway_leaves_nothing_the_next_save_does_not_remove(tmp_path):
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    abandoned = tmp_path / f".gan.saving-{dead.stdout.strip()}-0123abcd"
    abandoned.mkdir()
    (abandoned / WEIGHTS_FILE).write_bytes(b"half a model")
    running = tmp_path / f".gan.saving-{os.getppid()}-4567ef01"  # a save of a live process: left alone
    running.mkdir()
    save_model(stepped("gan", "mlp"), tmp_path / "gan")
    assert not abandoned.exists() and running.exists() and is_checkpoint(tmp_path / "gan")


def test_a_save_removes_abandoned_saves_of_every_name_beside_it_and_nothing_else(tmp_path):
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = dead.stdout.strip()
    abandoned = [tmp_path / f".my-vae-mlp-3.saving-{pid}-0123abcd", tmp_path / f".gan.v2.saving-{pid}-89abcdef",
                 tmp_path / ".old-run.saving-99999999999999999999-0123abcd"]  # no process has such an id
    for folder in abandoned:
        folder.mkdir()
        (folder / WEIGHTS_FILE).write_bytes(b"half a model")
    kept = [tmp_path / f".other.saving-{os.getppid()}-4567ef01",  # a save going on in a live process
            tmp_path / f".mine.saving-{os.getpid()}-4567ef01",  # this process's own (another thread may be saving)
            tmp_path / ".notes.saving-draft", tmp_path / f".notes.saving-{pid}-not-hex!"]  # not a save's folder
    for folder in kept:
        folder.mkdir()
    (tmp_path / f".a-file.saving-{pid}-0123abcd").write_text("a file, not a save's folder")
    save_model(stepped("gan", "mlp"), tmp_path / "gan")
    assert not any(folder.exists() for folder in abandoned)
    assert all(folder.exists() for folder in kept) and (tmp_path / f".a-file.saving-{pid}-0123abcd").exists()
    assert is_checkpoint(tmp_path / "gan")


def test_an_overwrite_killed_between_its_renames_gets_the_previous_model_back(tmp_path):
    """move_into_place renames NAME to .NAME.old-<pid>-<id>, then the new folder to NAME: a kill in
    between leaves the old copy as the only one; a kill after the second rename leaves a stale copy."""
    import os
    import shutil
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = dead.stdout.strip()
    save_model(stepped("gan", "mlp"), tmp_path / "first")
    only_copy = tmp_path / f".mine.old-{pid}-0123abcd"
    shutil.copytree(tmp_path / "first", only_copy)  # "mine" itself is gone: killed between the renames
    stale = tmp_path / f".first.old-{pid}-89abcdef"
    shutil.copytree(tmp_path / "first", stale)  # "first" is complete: killed after the second rename
    running = tmp_path / f".other.old-{os.getppid()}-4567ef01"  # an overwrite going on in a live process
    shutil.copytree(tmp_path / "first", running)

    save_model(stepped("vae", "mlp"), tmp_path / "second")

    assert is_checkpoint(tmp_path / "mine") and not only_copy.exists()  # put back, not lost
    assert not stale.exists() and is_checkpoint(tmp_path / "first")
    assert running.exists() and not (tmp_path / "other").exists()
