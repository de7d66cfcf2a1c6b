"""Tests for the command line, `python -m genai train | sample | interpolate`.

Most runs call genai.__main__.main([...]) in this process (fast); two run the real
`python -m genai` entry point in a subprocess. Training runs are a few dozen steps (--max-steps).
Every bad command must exit non-zero with a one-line error, no traceback, and no file changed.
"""

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genai.__main__ import main
from genai.checkpoints import load_model, read_metadata
from genai.sampling import sample

REPO = Path(__file__).resolve().parents[1]


def cli(*args):
    """Run main(args) in-process; returns (exit code, stdout, stderr). argparse errors exit via SystemExit."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit:
            code = exit.code
    return code, out.getvalue(), err.getvalue()


def files_on_disk(root):
    """Every path under root with its bytes and modification time, to prove nothing changed."""
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns) if path.is_file() else None
        for path in sorted(Path(root).rglob("*"))
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, mnist_dir):
    """Checkpoints trained by the CLI: an MLP VAE, an MLP GAN and a conditional MLP VAE."""
    root = tmp_path_factory.mktemp("cli")
    runs = {
        "vae": ["--model", "vae", "--arch", "mlp", "--no-conditional", "--max-steps", 80],
        "gan": ["--model", "gan", "--arch", "mlp", "--no-conditional", "--max-steps", 30],
        "cvae": ["--model", "vae", "--arch", "mlp", "--conditional", "--max-steps", 40],
    }
    outputs = {}
    for name, options in runs.items():
        outputs[name] = cli("train", *options, "--data-dir", mnist_dir, "--limit", 5000, "--device", "cpu", "--seed", 1,
                            "--out", root / name)
    return root, outputs


# ---------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,family,steps", [("vae", "vae", 80), ("gan", "gan", 30), ("cvae", "vae", 40)])
def test_train_writes_a_checkpoint_folder(workspace, name, family, steps):
    root, outputs = workspace
    code, out, err = outputs[name]
    assert code == 0, err
    assert "MNIST: 5,000 of " in out and "(train split)" in out and "Training a " in out
    assert f"Saved the checkpoint to {root / name}" in out
    assert "Traceback" not in err
    metadata = read_metadata(root / name)
    assert metadata["family"] == family and metadata["arch"] == "mlp" and metadata["steps"] == steps
    assert metadata["dataset"] == "mnist" and metadata["training"]["seed"] == 1
    assert metadata["training"]["split"] == "train" and metadata["training"]["images"] == 5000
    assert metadata["config"]["conditional"] is (name == "cvae")
    model, _ = load_model(root / name)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_train_takes_its_unset_options_from_the_recipe_the_app_uses(workspace):
    from genai.recipes import RECIPES

    root, _ = workspace
    for name, family in (("vae", "vae"), ("gan", "gan")):
        metadata = read_metadata(root / name)
        assert metadata["training"]["batch_size"] == RECIPES[family]["batch_size"]
        assert metadata["training"]["lr"] == RECIPES[family]["lr"]
        assert metadata["config"]["latent_dim"] == RECIPES[family]["latent_dim"]


def test_train_for_a_number_of_seconds(mnist_dir, tmp_path):
    code, out, err = cli("train", "--model", "vae", "--time-limit", 1, "--limit", 2000, "--data-dir", mnist_dir,
                         "--device", "cpu", "--out", tmp_path / "timed")
    assert code == 0, err
    assert "for at most 1 s" in out and "time limit of 1 s" in out
    training = read_metadata(tmp_path / "timed")["training"]
    assert training["ended"] == "time limit" and training["time_limit"] == 1 and training["steps"] > 0


def test_train_progress_bar_shows_losses_and_speed(workspace):
    _, outputs = workspace
    _, _, err = outputs["vae"]
    assert "80/80" in err and "img/s" in err and "reconstruction" in err


# ---------------------------------------------------------------------------------------------
# sample
# ---------------------------------------------------------------------------------------------


def test_sample_to_npy_is_uint8_white_on_black_and_matches_the_library(workspace, tmp_path):
    root, _ = workspace
    out = tmp_path / "digits.npy"
    code, stdout, err = cli("sample", "--checkpoint", root / "vae", "--seed", 42, "--n", 9, "--out", out)
    assert code == 0, err
    assert f"Wrote 9 images to {out}" in stdout
    images = np.load(out)
    assert images.dtype == np.uint8 and images.shape == (9, 28, 28)
    assert images[:, :4, :].mean() < 25 and images[:, :, :4].mean() < 25  # black background
    assert images.max() > 150  # white ink
    model, _ = load_model(root / "vae")
    assert np.array_equal(images, sample(model, 42, 9))  # the CLI and the library agree
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.npy"]  # no temporary files left


def test_sample_to_png_is_a_grid_of_the_same_digits(workspace, tmp_path):
    root, _ = workspace
    cli("sample", "--checkpoint", root / "gan", "--seed", 3, "--n", 16, "--out", tmp_path / "g.npy")
    code, _, err = cli("sample", "--checkpoint", root / "gan", "--seed", 3, "--n", 16, "--out", tmp_path / "g.png")
    assert code == 0, err
    picture = np.asarray(Image.open(tmp_path / "g.png"))
    assert picture.shape == (4 * 30 + 2, 4 * 30 + 2)
    images = np.load(tmp_path / "g.npy")
    assert np.array_equal(picture[2:30, 2:30], images[0]) and np.array_equal(picture[32:60, 92:120], images[7])


def test_sample_a_digit_from_a_conditional_model(workspace, tmp_path):
    root, _ = workspace
    assert cli("sample", "--checkpoint", root / "cvae", "--label", 3, "--n", 4, "--out", tmp_path / "3.npy")[0] == 0
    assert cli("sample", "--checkpoint", root / "cvae", "--label", 8, "--n", 4, "--out", tmp_path / "8.npy")[0] == 0
    assert not np.array_equal(np.load(tmp_path / "3.npy"), np.load(tmp_path / "8.npy"))


# ---------------------------------------------------------------------------------------------
# interpolate
# ---------------------------------------------------------------------------------------------


def test_interpolate_to_npy_png_and_gif(workspace, tmp_path):
    root, _ = workspace
    checkpoint = root / "vae"
    for suffix in ("npy", "png", "gif"):
        code, stdout, err = cli(
            "interpolate", "--checkpoint", checkpoint, "--seed-a", 1, "--seed-b", 2, "--steps", 6, "--out", tmp_path / f"walk.{suffix}"
        )
        assert code == 0, err
        assert "Wrote 6 frames (slerp)" in stdout
    frames = np.load(tmp_path / "walk.npy")
    assert frames.dtype == np.uint8 and frames.shape == (6, 28, 28)
    model, _ = load_model(checkpoint)
    assert np.array_equal(frames[0], sample(model, 1, 1)[0]) and np.array_equal(frames[-1], sample(model, 2, 1)[0])
    strip = np.asarray(Image.open(tmp_path / "walk.png"))
    assert strip.shape == (30 + 2, 6 * 30 + 2)
    assert np.array_equal(strip[2:30, 2 + 5 * 30:30 + 5 * 30], frames[5])
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 6 + 4  # forward, then back without repeating the ends


def test_interpolate_lerp_and_a_conditional_label(workspace, tmp_path):
    root, _ = workspace
    code, stdout, err = cli(
        "interpolate", "--checkpoint", root / "cvae", "--seed-a", 5, "--seed-b", 6, "--steps", 3,
        "--method", "lerp", "--label", 4, "--out", tmp_path / "four.npy",
    )
    assert code == 0, err
    assert "Wrote 3 frames (lerp)" in stdout
    model, _ = load_model(root / "cvae")
    frames = np.load(tmp_path / "four.npy")
    assert np.array_equal(frames[0], sample(model, 5, 1, labels=4)[0])


# ---------------------------------------------------------------------------------------------
# Bad commands: one line, non-zero, nothing touched
# ---------------------------------------------------------------------------------------------


# Each bad command (paths filled in: {vae}, {cvae} = checkpoints, {tmp} = a folder of user files,
# {data} = the MNIST folder)
# and the text its error line must contain.
BAD_COMMANDS = [
    ("train --arch resnet --out {tmp}/new", "--arch resnet is not a GAN architecture: choose mlp, dcgan"),
    ("train --model vae --arch dcgan --out {tmp}/new", "not a VAE architecture"),
    ("train --model transformer", "--model must be one of gan, vae, autoregressive, diffusion, not 'transformer'"),
    ("train --epochs -1 --out {tmp}/new", "--epochs must be a whole number from 1 to 1,000,000, not '-1'"),
    ("train --epochs two", "--epochs must be a whole number"),
    ("train --lr 0", "--lr must be a number above 0 and at most 1, not '0'"),
    ("train --time-limit nan --out {tmp}/new", "--time-limit must be a number above 0 and at most 1,000,000, not 'nan'"),
    ("train --time-limit inf --out {tmp}/new", "--time-limit must be a number above 0"),
    ("train --time-limit 0 --out {tmp}/new", "--time-limit must be"),
    ("train --limit 0 --out {tmp}/new", "--limit must be a whole number from 1"),
    ("train --dataset fashion-mnist --max-steps 1 --data-dir {data} --device cpu --out {tmp}/new",
     "holds MNIST's train images .* not Fashion-MNIST's"),
    ("train --beta 2 --out {tmp}/new", "--beta only applies to --model vae"),
    ("train --layers 4 --out {tmp}/new", "--layers only applies to --model autoregressive --arch pixelcnn"),
    ("train --model vae --d-lr-ratio 10 --out {tmp}/new", "--d-lr-ratio only applies to --model gan"),
    ("train --model vae --pack 2 --out {tmp}/new", "unrecognized arguments: --pack 2"),
    ("train --batch-size 1 --lr 3 --beta 2 --out {tmp}/new",
     "--batch-size must be a whole number from 2 to 4,096, not '1'. --lr must be a number above 0 and at most 1, "
     "not '3'. --beta only applies to --model vae."),  # every mistake at once
    ("train --model vae --categories 10 --out {tmp}/new", "--categories only applies to --model gan"),
    ("train --conditional --categories 10 --max-steps 1 --data-dir {data} --device cpu --out {tmp}/new",
     "categories is for unconditional GANs, which find the digits themselves"),
    ("train --model autoregressive --hidden-size 64 --out {tmp}/new",
     "--hidden-size only applies to --model autoregressive --arch lstm"),
    ("train --model autoregressive --arch lstm --layers 3 --out {tmp}/new",
     "--layers only applies to --model autoregressive --arch pixelcnn"),
    ("train --d-lr-ratio 1000 --max-steps 1 --data-dir {data} --device cpu --out {tmp}/new",
     "--d-lr-ratio must be a number from 0.001 to 100"),
    ("train --model autoregressive --layers 99 --max-steps 1 --data-dir {data} --device cpu --out {tmp}/new",
     "--layers must be a whole number from 1 to 30"),
    ("train --out {tmp}/existing", "--out .*existing already exists and is not empty"),
    ("train --out {tmp}/notes.txt", "already exists"),
    ("train --batch-size 1 --max-steps 1 --data-dir {data} --device cpu --out {tmp}/new", "--batch-size must be a whole number from 2"),
    ("train --lr 3 --max-steps 1 --data-dir {data} --device cpu --out {tmp}/new", "--lr must be a number above 0 and at most 1"),
    ("train --model vae --beta -1 --max-steps 1 --data-dir {data} --device cpu --out {tmp}/new", "--beta must be a number"),
    ("train --latent-dim 5000 --max-steps 1 --data-dir {data} --device cpu --out {tmp}/new", "--latent-dim must be a whole number"),
    ("sample --checkpoint {tmp}/no-such-folder --out {tmp}/x.png", "No checkpoint folder at"),
    ("sample --checkpoint {tmp}/existing --out {tmp}/x.png", "has no config.json"),
    ("sample --checkpoint {tmp}/pickled --out {tmp}/x.png", "looks like a pickle"),
    ("sample --checkpoint {vae} --out {tmp}/digits.jpg", "the file name must end in .png or .npy"),
    ("sample --checkpoint {vae} --out {tmp}/folder.png", "is a folder"),
    ("sample --checkpoint {vae} --label 3 --out {tmp}/old.png", "--label needs a conditional model"),
    ("sample --checkpoint {cvae} --label 12 --out {tmp}/old.png", "Give one digit from 0 to 9"),
    ("sample --checkpoint {vae} --seed 4294967296 --out {tmp}/old.png", "argument --seed: must be from 0 to 4294967295"),
    ("sample --checkpoint {vae} --seed -5 --out {tmp}/old.png", "argument --seed: must be from 0"),
    ("sample --checkpoint {vae} --n 5000 --out {tmp}/old.png", "number of images must be from 1 to 1024"),
    ("sample --checkpoint {vae} --n 0 --out {tmp}/old.png", "argument --n: must be at least 1"),
    ("sample --out {tmp}/old.png", "the following arguments are required: --checkpoint"),
    ("interpolate --checkpoint {vae} --seed-a 1 --seed-b 2 --out {tmp}/walk.mp4", "must end in .png or .gif or .npy"),
    ("interpolate --checkpoint {vae} --seed-a 1 --seed-b 2 --steps 1 --out {tmp}/old.gif", "Steps must be from 2 to 256"),
    ("interpolate --checkpoint {vae} --seed-a 1 --seed-b 2 --method cubic --out {tmp}/old.gif", "argument --method: invalid choice"),
    ("interpolate --checkpoint {vae} --seed-a 1 --seed-b 2 --label 1 --out {tmp}/old.gif", "--label needs a conditional model"),
    ("frobnicate", "argument command: invalid choice"),
]


@pytest.fixture(scope="module")
def bad_command_setup(workspace, tmp_path_factory):
    root, _ = workspace
    tmp = tmp_path_factory.mktemp("user-files")
    (tmp / "existing").mkdir()
    (tmp / "existing" / "thesis.txt").write_text("four years of work")
    (tmp / "folder.png").mkdir()
    (tmp / "notes.txt").write_text("do not overwrite")
    (tmp / "old.png").write_bytes(b"an older picture")
    (tmp / "old.gif").write_bytes(b"an older animation")
    (tmp / "pickled").mkdir()
    (tmp / "pickled" / "config.json").write_text((root / "gan" / "config.json").read_text())
    torch.save({"weights": torch.zeros(3)}, tmp / "pickled" / "model.safetensors")
    return root, tmp


@pytest.mark.parametrize("command,expected", BAD_COMMANDS, ids=[c for c, _ in BAD_COMMANDS])
def test_a_bad_command_exits_with_one_clear_line_and_changes_nothing(bad_command_setup, mnist_dir, command, expected):
    root, tmp = bad_command_setup
    args = command.format(vae=root / "vae", cvae=root / "cvae", tmp=tmp, data=mnist_dir).split()
    before_tmp, before_root = files_on_disk(tmp), files_on_disk(root)
    code, out, err = cli(*args)
    assert code not in (0, None), f"{command} succeeded"
    assert "Traceback" not in err and "Traceback" not in out
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and error_lines[0] == err.splitlines()[-1], err  # one line, the last one
    assert re.search(expected, error_lines[0]), error_lines[0]
    assert files_on_disk(tmp) == before_tmp and files_on_disk(root) == before_root


def test_a_dataset_that_is_not_there_is_explained_without_a_traceback(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("train", "--data-dir", empty, "--out", tmp_path / "new")
    assert code == 2 and "Traceback" not in err
    assert err.startswith("genai train: error: Cannot find the train split of MNIST.") and "GENAI_DATA_DIR" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


# ---------------------------------------------------------------------------------------------
# The real entry point
# ---------------------------------------------------------------------------------------------


def python_m_genai(*args):
    return subprocess.run(
        [sys.executable, "-m", "genai", *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_python_m_genai_trains_and_samples_end_to_end(mnist_dir, tmp_path):
    done = python_m_genai(
        "train", "--model", "vae", "--arch", "mlp", "--max-steps", 5, "--limit", 1000, "--data-dir", mnist_dir,
        "--device", "cpu", "--out", tmp_path / "ckpt",
    )
    assert done.returncode == 0, done.stderr
    assert f"Saved the checkpoint to {tmp_path / 'ckpt'}" in done.stdout
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["steps"] == 5 and config["training"]["command"].startswith("python -m genai train --model vae")

    failed = python_m_genai("sample", "--checkpoint", tmp_path / "missing", "--out", tmp_path / "x.png")
    assert failed.returncode == 2
    assert failed.stderr.strip().count("\n") == 0 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith("genai sample: error: No checkpoint folder at")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("family,title", [("diffusion", "conditional diffusion UNet"),
                                          ("autoregressive", "conditional Gated PixelCNN")])
def test_the_newer_families_train_save_and_sample_the_same_digits_for_a_seed(mnist_dir, tmp_path, family, title):
    """`train --model diffusion` / `autoregressive` with the CLI's usual options; the same seed gives the same grid twice."""
    code, out, err = cli("train", "--model", family, "--data-dir", mnist_dir, "--limit", 500, "--max-steps", 3,
                         "--device", "cpu", "--out", tmp_path / family)
    assert code == 0, err
    assert title in out
    for name in ("a.npy", "b.npy"):
        code, _, err = cli("sample", "--checkpoint", tmp_path / family, "--seed", 7, "--n", 10,
                           "--out", tmp_path / name)
        assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


# ---------------------------------------------------------------------------------------------
# tune-guidance
# ---------------------------------------------------------------------------------------------


def test_tune_guidance_picks_the_scale_closest_to_training_digits_and_writes_only_the_config(workspace, mnist_dir, tmp_path):
    from genai.checkpoints import WEIGHTS_FILE, save_model
    from genai.guidance_choice import fid_by_guidance
    from genai.data import load_dataset
    from genai.models import create_model

    folder = save_model(create_model("diffusion", "unet", seed=0, conditional=True, channels=8, sampling_steps=2),
                        tmp_path / "diffusion", dataset="mnist")
    weights = (folder / WEIGHTS_FILE).read_bytes()
    code, out, err = cli("tune-guidance", "--checkpoint", folder, "--scales", 0.5, 4, "--n", 40, "--data-dir", mnist_dir)
    assert code == 0, err
    metadata = read_metadata(folder)
    choice = metadata["guidance_choice"]
    fids = {float(scale): fid for scale, fid in choice["fid_by_scale"].items()}
    assert set(fids) == {0.5, 4.0} and metadata["config"]["guidance_scale"] == choice["chosen"] == min(fids, key=fids.get)
    assert "train split" in choice["against"] and "<- chosen" in out
    assert (folder / WEIGHTS_FILE).read_bytes() == weights  # the weights are untouched
    model, _ = load_model(folder)
    assert model.config.guidance_scale == choice["chosen"]
    reference = load_dataset("mnist", data_dir=mnist_dir, split="train", limit=10_000).images
    again = fid_by_guidance(model, reference, [0.5, 4.0], n=40)  # the figures are what the library measures
    assert all(abs(again[scale] - fids[scale]) < 1e-2 for scale in fids)
    assert model.config.guidance_scale == choice["chosen"]  # put back after trying the scales


def test_best_scale_with_a_floor_on_clarity_takes_the_lowest_fid_among_the_scales_that_reach_it():
    from genai.guidance_choice import best_scale
    fids, recognizable = {2.0: 4.8, 2.5: 5.6, 3.0: 7.8}, {2.0: 0.93, 2.5: 0.95, 3.0: 0.955}
    assert best_scale(fids) == 2.0
    assert best_scale(fids, recognizable, 0.95) == 2.5
    assert best_scale(fids, recognizable, 0.951) == 3.0
    assert best_scale(fids, recognizable, 0.99) == 2.0  # none reaches it: the lowest FID, as without a floor


def test_tune_guidance_with_min_recognizable_records_both_figures_of_each_scale_and_its_rule(workspace, mnist_dir, tmp_path):
    from genai.checkpoints import save_model
    from genai.guidance_choice import figures_by_guidance
    from genai.data import load_dataset
    from genai.models import create_model

    folder = save_model(create_model("diffusion", "unet", seed=0, conditional=True, channels=8, sampling_steps=2),
                        tmp_path / "diffusion", dataset="mnist")
    code, out, err = cli("tune-guidance", "--checkpoint", folder, "--scales", 0.5, 4, "--n", 40, "--data-dir", mnist_dir,
                         "--min-recognizable", 0.0)
    assert code == 0, err
    choice = read_metadata(folder)["guidance_choice"]
    assert choice["rule"] == "lowest classifier-FID among scales >= 0.0% recognizable" and "recognizable" in out
    model, _ = load_model(folder)
    reference = load_dataset("mnist", data_dir=mnist_dir, split="train", limit=10_000).images
    again = figures_by_guidance(model, reference, [0.5, 4.0], n=40)
    for scale, figures in again.items():
        assert abs(choice["recognizable_by_scale"][f"{scale:g}"] - figures["recognizable"]) < 1e-4
        assert abs(choice["fid_by_scale"][f"{scale:g}"] - figures["fid"]) < 1e-2
    code, out, err = cli("tune-guidance", "--checkpoint", folder, "--scales", 2, "--min-recognizable", 95)
    assert code == 2 and "0.95 for 95%" in err


def test_tune_guidance_refuses_models_without_guidance_and_absurd_scales_and_changes_nothing(workspace, mnist_dir, tmp_path):
    from genai.checkpoints import save_model
    from genai.models import create_model

    root, _ = workspace
    before = files_on_disk(root)
    code, _, err = cli("tune-guidance", "--checkpoint", root / "cvae", "--scales", 1.5, "--n", 10, "--data-dir", mnist_dir)
    assert code == 2 and "only conditional diffusion models, and ones given a guide" in err
    folder = save_model(create_model("diffusion", "unet", seed=0, conditional=True, channels=8), tmp_path / "d", dataset="mnist")
    config = (folder / "config.json").read_bytes()
    for scales, message in (([50], "guidance_scale must be a number from 0 to 20"), (["nan"], "guidance_scale")):
        code, _, err = cli("tune-guidance", "--checkpoint", folder, "--scales", *scales, "--n", 10, "--data-dir", mnist_dir)
        assert code == 2 and message in err, err
    code, _, err = cli("tune-guidance", "--checkpoint", tmp_path / "missing", "--scales", 1.5, "--data-dir", mnist_dir)
    assert code == 2 and "is not a checkpoint folder" in err
    assert (folder / "config.json").read_bytes() == config and files_on_disk(root) == before
