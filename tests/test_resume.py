"""Continuing a saved run: N steps, then M more, give the weights of N + M steps in one go."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from genai.checkpoints import load_model, save_model
from genai.data import load_dataset
from genai.models import create_model
from genai.run_state import STATE_FILE, RunStateError, load_run_state
from genai.train import TrainingError, TrainSettings, train
from test_cli import cli

REPO = Path(__file__).resolve().parents[1]

# 64 images in batches of 16: 4 steps an epoch, so 6 -> 11 continues mid-epoch into the next one.
MODELS = [
    ("gan", "dcgan", {"channels": 8, "conditional": False, "ema_decay": 0.99, "r1_gamma": 1.0}),
    ("vae", "mlp", {"prior_components": 3}),
    ("diffusion", "unet", {"channels": 8, "ema_decay": 0.9, "sampling_steps": 2}),
    ("autoregressive", "pixelcnn", {"channels": 8, "layers": 2}),
]


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=64)


def settings(steps, **more):
    return TrainSettings(max_steps=steps, batch_size=16, seed=3, preview_images=0, log_every=2, **more)


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


@pytest.mark.parametrize("family,arch,options", MODELS, ids=[f"{f}-{a}" for f, a, _ in MODELS])
@pytest.mark.parametrize("first", [6, 4])  # in the second epoch, and exactly at the first one's end
def test_a_continued_run_ends_with_the_weights_of_one_uninterrupted_run(tmp_path, digits, family, arch, options, first):
    whole = create_model(family, arch, seed=0, **options)
    list(train(whole, digits, settings(11)))

    part = create_model(family, arch, seed=0, **options)
    last = list(train(part, digits, settings(first)))[-1]
    assert last.done and last.run_state.step == first
    saved = save_model(part, tmp_path / "part", steps=first, run_state=last.run_state)
    model, _ = load_model(saved)  # a fresh process would start here
    model.train()
    events = list(train(model, digits, settings(11), resume=load_run_state(saved)))
    assert events[-1].step == 11 and events[-1].run_state.step == 11
    assert min(e.step for e in events) > first  # it went on; it did not start again
    assert same_weights(whole.state_dict(), model.state_dict())


def test_the_saved_state_holds_the_optimizers_and_generators_and_no_pickle(tmp_path, digits):
    model = create_model("gan", "dcgan", seed=0, channels=8, conditional=False, ema_decay=0.99)
    last = list(train(model, digits, settings(3)))[-1]
    folder = save_model(model, tmp_path / "gan", run_state=last.run_state)
    tensors = load_file(folder / STATE_FILE)  # plain safetensors
    assert {"rng/order", "rng/noise"} <= set(tensors)
    assert any(name.startswith("optimizer/generator/") for name in tensors)
    assert any(name.startswith("optimizer/discriminator/") for name in tensors)
    state = load_run_state(folder)
    assert state.step == 3 and state.batch_size == 16 and state.images == 64 and state.ema_updates == 3


def test_a_run_continues_only_with_its_own_batch_size_data_and_a_larger_budget(digits, mnist_dir):
    model = create_model("vae", "mlp", seed=0)
    state = list(train(model, digits, settings(3)))[-1].run_state
    with pytest.raises(TrainingError, match="batches of 16"):
        list(train(model, digits, TrainSettings(max_steps=7, batch_size=32, preview_images=0), resume=state))
    more = load_dataset("mnist", data_dir=mnist_dir, download=False, limit=128)
    with pytest.raises(TrainingError, match="learned from 64 images"):
        list(train(model, more, settings(7), resume=state))
    with pytest.raises(TrainingError, match="already trained 3 steps"):
        list(train(model, digits, settings(3), resume=state))
    other = create_model("gan", "mlp", seed=0)
    with pytest.raises(TrainingError, match="not the same kind of model"):
        list(train(other, digits, settings(7), resume=state))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mnist_dir):
    """train 30 steps; train 12 steps, then --resume it to 30."""
    root = tmp_path_factory.mktemp("resume")
    common = ["--data-dir", mnist_dir, "--limit", 640, "--device", "cpu", "--seed", 5]
    whole = cli("train", "--model", "vae", "--arch", "mlp", "--max-steps", 30, *common, "--out", root / "whole")
    part = cli("train", "--model", "vae", "--arch", "mlp", "--max-steps", 12, *common, "--out", root / "part")
    more = cli("train", "--resume", root / "part", "--max-steps", 30, "--data-dir", mnist_dir, "--out", root / "more")
    again = cli("train", "--resume", root / "more", "--max-steps", 33, "--data-dir", mnist_dir, "--out", root / "again")
    assert again[0] == 0, again[2]
    return root, whole, part, more


def test_train_resume_goes_on_exactly_and_records_where_it_came_from(runs):
    root, whole, part, more = runs
    assert whole[0] == part[0] == more[0] == 0, (whole[2], part[2], more[2])
    assert "Continuing a " in more[1] and "from step 12" in more[1]
    assert same_weights(load_file(root / "whole" / "model.safetensors"), load_file(root / "more" / "model.safetensors"))
    record = json.loads((root / "more" / "config.json").read_text())["training"]
    assert record["steps"] == 30 and record["seed"] == 5 and record["images"] == 640
    assert record["resumed_from"]["steps"] == 12 and "--max-steps 12" in record["resumed_from"]["command"]
    earlier = json.loads((root / "part" / "config.json").read_text())["training"]["seconds"]
    assert record["seconds"] >= earlier
    assert load_run_state(root / "more").step == 30
    assert load_run_state(root / "part").step == 12  # the folder it came from is kept as it was
    chain = json.loads((root / "again" / "config.json").read_text())["training"]["resumed_from"]
    assert chain["steps"] == 30 and "--resume" in chain["command"]  # continued twice: back to the first command
    assert chain["resumed_from"]["steps"] == 12 and "--max-steps 12" in chain["resumed_from"]["command"]


def folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


@pytest.mark.parametrize("extra,expected", [
    (["--lr", "0.1", "--max-steps", "40"], "leave out --lr"),
    (["--model", "gan", "--max-steps", "40"], "leave out --model"),
    (["--max-steps", "12"], "already trained 12 steps"),
    ([], "Give the continued run a budget"),
])
def test_train_resume_refuses_what_it_cannot_do_and_changes_nothing(runs, mnist_dir, tmp_path, extra, expected):
    root = runs[0]
    before = folder_bytes(root / "part")
    code, out, err = cli("train", "--resume", root / "part", *extra, "--data-dir", mnist_dir, "--out", tmp_path / "x")
    assert code == 2 and expected in err and "Traceback" not in err
    assert folder_bytes(root / "part") == before and not (tmp_path / "x").exists()


def test_a_model_saved_without_its_run_state_or_with_a_damaged_one_is_explained(runs, mnist_dir, tmp_path):
    code, _, err = cli("train", "--resume", REPO / "checkpoints" / "vae-mlp", "--max-steps", 10, "--data-dir", mnist_dir,
                       "--out", tmp_path / "a")
    assert code == 2 and f"has no {STATE_FILE}" in err and "Train a new model" in err
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name, data in folder_bytes(runs[0] / "part").items():
        (damaged / name).write_bytes(data[:100] if name == STATE_FILE else data)
    with pytest.raises(RunStateError, match="damaged"):
        load_run_state(damaged)
    code, _, err = cli("train", "--resume", damaged, "--max-steps", 20, "--data-dir", mnist_dir, "--out", tmp_path / "b")
    assert code == 2 and "damaged" in err and not (tmp_path / "b").exists()
    code, _, err = cli("train", "--resume", runs[0] / "part", "--max-steps", 20, "--data-dir", mnist_dir,
                       "--out", runs[0] / "whole")
    assert code == 2 and "already exists" in err


def test_the_model_card_of_a_continued_run_names_every_run_it_continued():
    from genai.model_card import training_lines
    record = {"dataset": "mnist", "split": "train", "images": 60000, "verified_files": True, "steps": 30, "batch_size": 64,
              "lr": 1e-3, "seed": 0, "seconds": 9.0, "device": "cpu", "ended": "finished", "command": "python -m genai train --resume b",
              "resumed_from": {"steps": 20, "seconds": 6.0, "command": "python -m genai train --resume a",
                               "resumed_from": {"steps": 10, "seconds": 3.0, "command": "python -m genai train --max-steps 10"}}}
    lines = training_lines(record)
    assert lines[-2] == "- Continued from a run of 20 steps (6 s) made by: `python -m genai train --resume a`"
    assert lines[-1] == "- Continued from a run of 10 steps (3 s) made by: `python -m genai train --max-steps 10`"
