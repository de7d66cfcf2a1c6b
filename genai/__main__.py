"""The command line: python -m genai train | sample | interpolate ...

    python -m genai train --model gan --time-limit 60 --out runs/my-gan
    python -m genai train --resume runs/my-gan --time-limit 60 --out runs/my-gan-more
    python -m genai sample --checkpoint runs/my-gan --seed 42 --n 64 --out digits.png
    python -m genai interpolate --checkpoint runs/my-gan --seed-a 1 --seed-b 2 --steps 16 --out walk.gif

Mistakes (an unknown architecture, a missing folder, ...) end with one line
saying what is wrong and a non-zero exit code, never a traceback.
"""

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

from .checkpoints import load_model, read_metadata, save_model
from .run_state import load_run_state
from .data import DATASET_NAMES, DatasetError, load_dataset, load_training_set
from .distributed import join, launched_by_torchrun, leave
from .device import DEVICE_CHOICES, describe, pick_device
from .hub import locate, parse_model_id
from .models import ARCHS, FAMILIES, create_model, model_class
from .recipes import model_options, recipe
from .sampling import interpolate, sample, save_images
from .train import TrainSettings, train, training_record
from .user_errors import USER_ERRORS

COMMANDS = {}


class CommandError(Exception):
    """A mistake in the command line, found after parsing."""


def command(function):
    COMMANDS[function.__name__.replace("_command", "").replace("_", "-")] = function  # train_classifier -> train-classifier
    return function


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seed_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be from 0 to {2**32 - 1}, got {value}")
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


def share_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1 (e.g. 0.95), got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1 (0.95 for 95%), got {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m genai", description="Train GANs and VAEs on MNIST, sample, interpolate.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser(
        "train", help="train a model and save it as a checkpoint folder",
        description="Train on the dataset's train split. The run lasts --time-limit seconds (default: the "
                    "family's recipe, as in the app's Train tab), or --max-steps / --epochs if reached first. "
                    "Unset options take the family's recipe (genai/recipes.py).",
    )
    p.add_argument("--model", choices=FAMILIES, default="gan", help="model family")
    p.add_argument("--arch", help="; ".join(f"{f}: {', '.join(a)}" for f, a in ARCHS.items())
                   + " (default: the family's recipe)")
    p.add_argument("--conditional", action=argparse.BooleanOptionalAction, default=None,
                   help="let the model be told which digit to draw (default: the recipe's)")
    p.add_argument("--dataset", choices=DATASET_NAMES, default="mnist")
    p.add_argument("--data-dir", help="folder with the IDX files (default: env GENAI_DATA_DIR, cache, download)")
    p.add_argument("--limit", type=positive_int, help="learn from the first N training images only (a quick subset)")
    p.add_argument("--time-limit", type=positive_float, help="stop after this many seconds (default: the recipe's)")
    p.add_argument("--max-steps", type=positive_int, help="stop after this many steps")
    p.add_argument("--epochs", type=positive_int, help="stop after this many passes over the data")
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--lr", type=positive_float, help="learning rate")
    p.add_argument("--latent-dim", type=positive_int, help="size of z")
    p.add_argument("--beta", type=float, help="VAE only: weight of the KL term (1 = the ELBO)")
    p.add_argument("--prior-components", type=int,
                   help="VAE only: after training, fit a mixture of this many Gaussians to the training "
                        "codes and sample from it (0 = sample from N(0, I), the default)")
    p.add_argument("--learned-prior", action=argparse.BooleanOptionalAction, default=None,
                   help="VAE only: train with the mixture of --prior-components Gaussians, learned with the "
                        "networks, as the KL term's prior instead of N(0, I) (default off)")
    p.add_argument("--d-lr-ratio", type=positive_float,
                   help="GAN only: the discriminator learns at this many times --lr (default 1; 3 in the GPU "
                        "recipe, taken on a CUDA device when neither --batch-size nor --lr is given)")
    p.add_argument("--spectral-norm", action=argparse.BooleanOptionalAction, default=None,
                   help="GAN only: spectrally normalize the discriminator's layers (SN-GAN; default off)")
    p.add_argument("--r1-gamma", type=float,
                   help="GAN only: penalize the discriminator's gradient at real digits, gamma/2 ||grad D(x)||^2 "
                        "(R1; default 0, off); also removes BatchNorm from the DCGAN's discriminator")
    p.add_argument("--pack", type=positive_int,
                   help="GAN only: the discriminator judges packs of this many images at once (PacGAN; default 1); "
                        "the batch size must be a multiple of it")
    p.add_argument("--categories", type=int,
                   help="unconditional GAN only: the noise also chooses one of this many categories, which the "
                        "discriminator's head must read back (InfoGAN; found without labels; default 0, off)")
    p.add_argument("--ema-decay", type=float, help="GAN and diffusion: sample from a moving average of the weights (0 = off)")
    p.add_argument("--channels", type=positive_int, help="convolutional archs (dcgan, conv, unet, pixelcnn): width of the first layer")
    p.add_argument("--extra-layers", type=int,
                   help="--arch dcgan: this many more 3x3 conv layers at 7x7 and at 14x14, in G and D; "
                        "--arch unet: this many more residual blocks at 7x7 (default 0)")
    p.add_argument("--hidden-size", type=positive_int, help="--arch lstm only: the memory of each LSTM (default 128)")
    p.add_argument("--layers", type=positive_int, help="autoregressive only: the number of gated layers after the first")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    p.add_argument("--out", help="checkpoint folder to create (default: runs/<model>-<arch>-<time>)")
    p.add_argument("--resume", metavar="FOLDER",
                   help="go on with the run saved in FOLDER (by this command), exactly as if it had not stopped: "
                        "its model, data and settings. --max-steps and --epochs count from the run's start, "
                        "--time-limit from now; the result goes to a new --out (FOLDER is kept)")

    p = commands.add_parser("sample", help="draw digits from a checkpoint")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--n", type=positive_int, default=64)
    p.add_argument("--label", type=int, help="conditional models: the digit to draw (default: 0..9 in turn)")
    p.add_argument("--temperature", type=positive_float, default=1.0, help="noise scale")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="cpu")
    p.add_argument("--out", required=True, help=".png (a grid) or .npy (uint8 array N x 28 x 28)")

    p = commands.add_parser("interpolate", help="walk through latent space from one seed to another")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--seed-a", type=seed_int, required=True)
    p.add_argument("--seed-b", type=seed_int, required=True)
    p.add_argument("--steps", type=positive_int, default=16)
    p.add_argument("--method", choices=("slerp", "lerp"), default="slerp")
    p.add_argument("--label", type=int, help="conditional models: the digit to keep (default 0)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="cpu")
    p.add_argument("--out", required=True, help=".png (a strip), .gif (an animation) or .npy (K x 28 x 28)")

    p = commands.add_parser("eval", help="measure a checkpoint: classifier-FID, Inception Score, ELBO, SSIM, ...")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--n", type=positive_int, default=2000, help="samples to draw (and real test images to compare)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--data-dir", help="folder with the MNIST IDX files (default: env GENAI_DATA_DIR, cache, download)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="cpu")
    p.add_argument("--json", help="also write the figures to this .json file")
    p.add_argument("--card", action="store_true",
                   help="also (re)write the checkpoint's README.md model card from these figures")

    p = commands.add_parser(
        "tune-guidance", help="choose a guided diffusion model's guidance scale, against training images",
        description="Draws --n samples at each guidance scale, measures classifier-FID against the first 10,000 "
                    "images of the train split (never the test split, which is for `eval`), and writes the best "
                    "scale into the checkpoint's config.json with what was measured.",
    )
    p.add_argument("--checkpoint", required=True,
                   help="a local checkpoint folder: a conditional diffusion model, or one with a guide (add-guide)")
    p.add_argument("--scales", type=float, nargs="+", required=True, help="the guidance scales to try, e.g. 1.3 1.5 1.7 2")
    p.add_argument("--interval", type=float, nargs=2, metavar=("T_MIN", "T_MAX"),
                   help="guide only while T_MIN < t <= T_MAX (t = 1 is noise, 0 the digit), e.g. 0.2 0.85; "
                        "written into config.json with the scale (default: the model's own, at first 0 1)")
    p.add_argument("--min-recognizable", type=share_float, metavar="SHARE",
                   help="choose the lowest-FID scale among those whose samples are at least this share recognizable "
                        "(the metrics classifier >= 90%% sure), e.g. 0.95; if none is, the lowest-FID scale")
    p.add_argument("--n", type=positive_int, default=2000, help="samples per scale")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--data-dir", help="folder with the MNIST IDX files (default: env GENAI_DATA_DIR, cache, download)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="cpu")

    p = commands.add_parser(
        "add-guide", help="give a diffusion model a smaller guide model (autoguidance)",
        description="Writes a new checkpoint folder: the model, with the guide's sampling network stored inside it. "
                    "Sampling then pushes away from the guide's answer: v = v_guide + scale * (v - v_guide). The guide "
                    "is a diffusion model of the same data and kind (conditional or not), narrower and trained for less "
                    "time (Karras et al. 2024); for a conditional model it replaces classifier-free guidance. "
                    "Choose the scale afterwards with tune-guidance.",
    )
    p.add_argument("--checkpoint", required=True, help="the diffusion model to guide (left unchanged)")
    p.add_argument("--guide", required=True, help="the weaker diffusion model that guides it")
    p.add_argument("--out", required=True, help="the new folder for the guided model")
    p.add_argument("--scale", type=positive_float, default=2.0, help="the guidance scale (1 = no guidance; default 2)")

    p = commands.add_parser(
        "push", help="upload a checkpoint to the Hugging Face Hub with a model card and a sample grid",
        description="Creates the model repo if needed and uploads config.json, model.safetensors, samples.png "
                    "and a README.md model card. The token comes from HF_TOKEN or a saved `hf auth login`.",
    )
    p.add_argument("--checkpoint", required=True, help="the local checkpoint folder to upload")
    p.add_argument("--repo", required=True, help="the Hub repo id, user/name")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--eval", dest="eval_json", help="figures for the card from `eval --json` (default: measure "
                   "them now on --n samples, if the MNIST test split is at hand)")
    p.add_argument("--n", type=positive_int, default=2000, help="samples to measure, when --eval is not given")
    p.add_argument("--no-eval", action="store_true", help="push without figures (the card says how to measure them)")
    p.add_argument("--data-dir", help="folder with the MNIST IDX files, to measure the figures")

    p = commands.add_parser(
        "deploy-space", help="publish this app as a Hugging Face Space (Gradio SDK)",
        description="Creates the Space if needed and uploads app.py, requirements.txt, README.md, genai/ and the "
                    "pretrained checkpoints. The token comes from HF_TOKEN or a saved `hf auth login`.",
    )
    p.add_argument("--repo", required=True, help="the Space id, user/name")
    p.add_argument("--private", action="store_true", help="create the Space as private")

    p = commands.add_parser("train-classifier", help="train the digit classifier the metrics use")
    p.add_argument("--out", required=True, help="folder to create (the shipped one is checkpoints/classifier)")
    p.add_argument("--epochs", type=positive_int, default=15)
    p.add_argument("--limit", type=positive_int, help="learn from the first N training images only (a quick subset)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--data-dir", help="folder with the MNIST IDX files (default: env GENAI_DATA_DIR, cache, download)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    return parser


def check_output(path, allowed):
    path = Path(path)
    if path.suffix.lower() not in allowed:
        raise CommandError(f"--out {path}: the file name must end in {' or '.join(allowed)}.")
    if path.is_dir():
        raise CommandError(f"--out {path} is a folder: give a file name ending in {' or '.join(allowed)}.")
    return path


def write_atomically(images, path, kind="grid"):
    """Write to a temporary file beside path, then rename: a failure never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        save_images(images, temporary, kind=kind)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def train_options(args, device=None):
    """The family's recipe (on a GPU: its batch for a GPU, if it has one), overridden by what the
    command line gives. Given --batch-size or --lr, the other one is the CPU recipe's."""
    options = recipe(args.model, device if args.batch_size is None and args.lr is None else None)
    given = {"arch": args.arch, "conditional": args.conditional, "latent_dim": args.latent_dim,
             "batch_size": args.batch_size, "lr": args.lr, "beta": args.beta, "ema_decay": args.ema_decay,
             "channels": args.channels, "layers": args.layers, "d_lr_ratio": args.d_lr_ratio,
             "prior_components": args.prior_components, "learned_prior": args.learned_prior,
             "spectral_norm": args.spectral_norm, "r1_gamma": args.r1_gamma, "extra_layers": args.extra_layers, "pack": args.pack, "categories": args.categories,
             "hidden_size": args.hidden_size}
    options.update({name: value for name, value in given.items() if value is not None})
    if options["arch"] not in ARCHS[args.model]:
        raise CommandError(f"--arch {options['arch']} is not a {args.model.upper()} architecture: choose {', '.join(ARCHS[args.model])}.")
    for flag, field in (("--beta", "beta"), ("--ema-decay", "ema_decay"), ("--channels", "channels"), ("--layers", "layers"),
                        ("--d-lr-ratio", "d_lr_ratio"), ("--prior-components", "prior_components"),
                        ("--learned-prior", "learned_prior"),
                        ("--spectral-norm", "spectral_norm"), ("--r1-gamma", "r1_gamma"), ("--extra-layers", "extra_layers"), ("--pack", "pack"), ("--categories", "categories"),
                        ("--hidden-size", "hidden_size")):
        if given[field] is not None and field not in config_fields(args.model, options["arch"]):
            raise CommandError(f"{flag} only applies to {models_with(field)}.")
    return options


# What a continued run takes from its saved folder; given with --resume, they are refused.
SAVED_WITH_THE_RUN = ("--model", "--arch", "--conditional", "--no-conditional", "--dataset", "--limit", "--batch-size",
                      "--lr", "--latent-dim", "--beta", "--prior-components", "--learned-prior", "--no-learned-prior",
                      "--d-lr-ratio", "--spectral-norm", "--no-spectral-norm", "--r1-gamma", "--pack", "--categories",
                      "--ema-decay", "--channels", "--extra-layers", "--hidden-size", "--layers", "--seed")


def continue_run(args):
    """train --resume FOLDER: the saved run's model, data and settings, with a new budget and --out."""
    given = [flag for flag in SAVED_WITH_THE_RUN if any(a == flag or a.startswith(flag + "=") for a in args.argv)]
    if given:
        raise CommandError(f"--resume goes on with the saved run's own settings; leave out {', '.join(given)} "
                           "(give a budget, --out, --data-dir or --device).")
    if launched_by_torchrun():
        raise CommandError("--resume continues a run in one process; start it without torchrun.")
    if not (args.epochs or args.max_steps or args.time_limit):
        raise CommandError("Give the continued run a budget: --max-steps or --epochs (counted from the run's "
                           "start) or --time-limit (seconds from now).")
    source = Path(args.resume)
    device = pick_device(args.device)
    model, metadata = load_model(source, device)
    state = load_run_state(source)
    record = metadata.get("training") or {}
    if record.get("world_size"):
        raise CommandError(f"{source} was trained by {record['world_size']} processes (torchrun); such a run "
                           "cannot be continued exactly.")
    out = new_folder(args.out or f"{source}-more")
    args.dataset = metadata.get("dataset") or "mnist"
    limit = record.get("images") if record.get("images", 0) < record.get("split_images", 0) else None
    dataset = load_training_set(args.dataset, data_dir=args.data_dir, limit=limit).to(device)
    if dataset.warning:
        print(f"Warning: {dataset.warning}", file=sys.stderr)
    settings = TrainSettings(epochs=args.epochs, batch_size=state.batch_size, lr=state.lr,
                             seed=int(record.get("seed", 0)), max_steps=args.max_steps, max_seconds=args.time_limit)
    print(f"{dataset.describe()}\nContinuing a {model.describe()} from step {state.step:,} ({source}) on "
          f"{describe(device)}.")
    resumed_from = {"folder": str(source), "steps": state.step, "seconds": state.seconds,
                    "command": record.get("command")}
    if "resumed_from" in record:  # a run continued more than once: keep the whole chain back to its first command
        resumed_from["resumed_from"] = record["resumed_from"]
    return train_and_save(args, model, dataset, settings, device, out, resume=state, resumed_from=resumed_from)


def config_fields(family, arch):
    return {field.name for field in dataclasses.fields(model_class(family, arch).Config)}


def models_with(field):
    """The models that have a setting, as options: "--model vae", "--model gan --arch dcgan or ..."."""
    parts = []
    for family, archs in ARCHS.items():
        having = [arch for arch in archs if field in config_fields(family, arch)]
        if having == list(archs):
            parts.append(f"--model {family}")
        parts += [f"--model {family} --arch {arch}" for arch in having if having != list(archs)]
    return " or ".join(parts)


def new_folder(path):
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise CommandError(f"--out {path} already exists and is not empty; choose a new folder (nothing was changed).")
    return path


@command
def train_command(args):
    if args.resume:
        return continue_run(args)
    arch = train_options(args)["arch"]  # contradicting options are refused before anything else happens
    out = new_folder(args.out or f"runs/{args.model}-{arch}-{time.strftime('%Y%m%d-%H%M%S')}")

    team = None
    if launched_by_torchrun():  # one of several processes: torchrun --nproc_per_node N -m genai train ...
        team, device = join(args.device)
    else:
        device = pick_device(args.device)
    options = train_options(args, device)
    main_process = team is None or team.is_main
    say = print if main_process else (lambda *_, **__: None)  # only rank 0 prints and saves
    dataset = load_training_set(args.dataset, data_dir=args.data_dir, limit=args.limit).to(device)
    if dataset.warning:
        say(f"Warning: {dataset.warning}", file=sys.stderr)
    settings_of_arch = model_options(options, args.model, options["arch"])
    model = create_model(args.model, options["arch"], seed=args.seed, **settings_of_arch).to(device)
    budget_given = args.epochs or args.max_steps or args.time_limit
    settings = TrainSettings(
        epochs=args.epochs, batch_size=options["batch_size"], lr=options["lr"], seed=args.seed,
        max_steps=args.max_steps, max_seconds=args.time_limit if budget_given else options["seconds"],
    )
    budget = [f"{settings.max_seconds:g} s" if settings.max_seconds else "",
              f"{settings.max_steps:,} steps" if settings.max_steps else "",
              f"{settings.epochs} epochs" if settings.epochs else ""]
    processes = f" x {team.world_size} processes ({team.backend}), each a shard of every batch" if team else ""
    say(f"{dataset.describe()}\nTraining a {model.describe()} on {describe(device)}{processes} "
        f"for at most {' / '.join(b for b in budget if b)}.")
    return train_and_save(args, model, dataset, settings, device, out, team)


def train_and_save(args, model, dataset, settings, device, out, team=None, resume=None, resumed_from=None):
    """Run the training loop with a progress bar, then save the model (and the run's state) to out."""
    from tqdm import tqdm

    main_process = team is None or team.is_main
    say = print if main_process else (lambda *_, **__: None)  # only rank 0 prints and saves
    last = None
    bar = tqdm(total=None, unit="step", dynamic_ncols=True, disable=not main_process)
    try:
        for event in train(model, dataset, settings, team=team, resume=resume):
            bar.total = event.total_steps
            bar.update(event.step - bar.n)
            if event.losses:
                postfix = {name: f"{value:.3f}" for name, value in event.losses.items()}
                if event.images_per_sec:
                    postfix["img/s"] = f"{event.images_per_sec:,.0f}"
                bar.set_postfix(postfix, refresh=False)
            last = event
    except KeyboardInterrupt:
        say("\nInterrupted: saving what was learned so far.")
    finally:
        bar.close()
    if last is not None and last.message:
        say(last.message)
    if main_process:
        how = {"command": "python -m genai " + " ".join(args.argv)}
        if team is not None:
            how.update(command="torchrun ... -m genai " + " ".join(args.argv), world_size=team.world_size)
        if resumed_from is not None:
            how["resumed_from"] = resumed_from
        training = training_record(dataset, settings, device, last, settings.lr, **how)
        if resumed_from is not None:  # the run's wall time: every session of it together
            training["seconds"] = round(resumed_from["seconds"] + training["seconds"], 1)
        if last is not None and last.run_state is not None:
            last.run_state.seconds = training["seconds"]
        elif last is not None and last.reason != "diverged":
            say("(Interrupted midway, so the run's state was not saved: this model cannot be continued with --resume.)")
        save_model(model, out, dataset=args.dataset, steps=training["steps"], training=training,
                   run_state=last.run_state if last is not None else None)
        say(f"Saved the checkpoint to {out}")
    if team is not None:
        leave()
    return 1 if last is not None and last.reason == "diverged" else 0


@command
def sample_command(args):
    out = check_output(args.out, (".png", ".npy"))
    model, _ = load_model(locate(args.checkpoint), pick_device(args.device))  # a folder, or a Hub id fetched first
    if args.label is not None and not model.conditional:
        raise CommandError("--label needs a conditional model; this checkpoint is not conditional.")
    images = sample(model, args.seed, args.n, labels=args.label, temperature=args.temperature)
    write_atomically(images, out)
    print(f"Wrote {len(images)} images to {out}")
    return 0


@command
def interpolate_command(args):
    out = check_output(args.out, (".png", ".gif", ".npy"))
    model, _ = load_model(locate(args.checkpoint), pick_device(args.device))
    if args.label is not None and not model.conditional:
        raise CommandError("--label needs a conditional model; this checkpoint is not conditional.")
    frames = interpolate(model, args.seed_a, args.seed_b, args.steps, args.method, label=args.label)
    write_atomically(frames, out, kind="strip")
    print(f"Wrote {len(frames)} frames ({args.method}) to {out}")
    return 0


@command
def eval_command(args):
    import json

    from .classifier import FAMILY as CLASSIFIER_FAMILY
    from .figures_table import format_table
    from .metrics import MetricsError, evaluate, json_ready

    json_path = check_output(args.json, (".json",)) if args.json else None
    if args.card and not Path(args.checkpoint).is_dir():
        raise CommandError("--card writes the README.md of a local checkpoint folder; "
                           f"{args.checkpoint} is not one (for a Hub model, `push` writes its card).")
    args.checkpoint = locate(args.checkpoint)
    if read_metadata(args.checkpoint).get("family") == CLASSIFIER_FAMILY:
        raise CommandError(f"{args.checkpoint} is the metrics classifier, not a generative model: give a GAN or VAE checkpoint.")
    model, metadata = load_model(args.checkpoint, pick_device(args.device))
    if metadata.get("dataset") not in (None, "mnist"):
        raise CommandError(f"This model was trained on {metadata['dataset']}; the metrics classifier knows MNIST digits only.")
    dataset = load_dataset("mnist", data_dir=args.data_dir, split="test")
    try:
        results = evaluate(model, dataset, n_samples=args.n, seed=args.seed, metadata=metadata)
    except MetricsError as error:
        raise CommandError(str(error)) from None
    results["checkpoint"] = str(args.checkpoint)
    print(format_table(results))
    if json_path:
        write_text_atomically(json_path, json.dumps(json_ready(results), indent=2, allow_nan=False) + "\n")
        print(f"Wrote {json_path}")
    if args.card:
        from .model_card import model_card

        folder = Path(args.checkpoint)
        command = f"python -m genai eval --checkpoint checkpoints/{folder.name} --n {args.n} --seed {args.seed} --card"
        write_text_atomically(folder / "README.md", model_card(folder.name, metadata, results, command))
        print(f"Wrote {folder / 'README.md'}")
    return 0


@command
def tune_guidance_command(args):
    import json

    from .checkpoints import CONFIG_FILE
    from .guidance_choice import REFERENCE_IMAGES, best_scale, figures_by_guidance

    folder = Path(args.checkpoint)
    if not folder.is_dir():
        raise CommandError(f"{args.checkpoint} is not a checkpoint folder: give the folder of a conditional diffusion "
                           f"model, or of one with a guide.")
    model, metadata = load_model(folder, pick_device(args.device))
    if metadata.get("dataset") not in (None, "mnist"):
        raise CommandError(f"This model was trained on {metadata['dataset']}; the metrics classifier knows MNIST digits only.")
    reference = load_dataset("mnist", data_dir=args.data_dir, split="train", limit=REFERENCE_IMAGES)
    figures = figures_by_guidance(model, reference.images, args.scales, n=args.n, seed=args.seed, interval=args.interval)
    fids = {scale: f["fid"] for scale, f in figures.items()}
    recognizable = {scale: f["recognizable"] for scale, f in figures.items()}
    best = best_scale(fids, recognizable, args.min_recognizable)
    t_min, t_max = args.interval or (model.config.guidance_t_min, model.config.guidance_t_max)
    where = f" for {t_min:g} < t <= {t_max:g}"
    for scale in fids:
        print(f"  guidance {scale:g}{where}: classifier-FID {fids[scale]:.2f}, {recognizable[scale]:.1%} recognizable"
              f"{'  <- chosen' if scale == best else ''}")
    floor = args.min_recognizable
    if floor is not None and recognizable[best] < floor:
        print(f"  no scale reached {floor:.1%} recognizable: the lowest-FID one was chosen")
    rule = "lowest classifier-FID" + ("" if floor is None else f" among scales >= {floor:.1%} recognizable")
    metadata["config"].update(guidance_scale=best, guidance_t_min=float(t_min), guidance_t_max=float(t_max))
    metadata["guidance_choice"] = {
        "chosen": best, "interval": [float(t_min), float(t_max)], "rule": rule,
        "fid_by_scale": {f"{scale:g}": round(fid, 3) for scale, fid in fids.items()},
        "recognizable_by_scale": {f"{scale:g}": round(share, 4) for scale, share in recognizable.items()},
        "against": f"the first {len(reference):,} images of the MNIST train split", "n_samples": args.n, "seed": args.seed,
    }
    write_text_atomically(folder / CONFIG_FILE, json.dumps(metadata, indent=2) + "\n")
    print(f"{folder.name} now samples with guidance {best:g}{where} (chosen against training images; the test split is for eval).")
    return 0


@command
def add_guide_command(args):
    out = new_folder(args.out)
    model, metadata = load_model(locate(args.checkpoint))
    guide, guide_metadata = load_model(locate(args.guide))
    learned = {name: (meta.get("dataset"), (meta.get("training") or {}).get("split"))
               for name, meta in (("model", metadata), ("guide", guide_metadata))}
    if learned["model"] != learned["guide"]:
        raise CommandError(f"The model learned from {learned['model'][0]} ({learned['model'][1]} split), the guide from "
                           f"{learned['guide'][0]} ({learned['guide'][1]} split): a guide must learn from the same data.")
    guided = model.with_guide(guide, args.scale)
    about_guide = {
        "checkpoint": str(args.guide), "model": guide.describe(), "steps": guide_metadata.get("steps", 0),
        "training": guide_metadata.get("training") or {},
    }
    save_model(guided, out, dataset=metadata.get("dataset"), steps=metadata.get("steps", 0),
               training=metadata.get("training"), extra={
                   "guide": about_guide,
                   "guide_added": {"from": str(args.checkpoint), "command": "python -m genai " + " ".join(args.argv)},
               })
    print(f"Saved {guided.describe()} to {out}, sampling with guidance {args.scale:g}. Choose the scale against "
          f"training images with: python -m genai tune-guidance --checkpoint {out} --scales 1.5 2 2.5 3")
    return 0


@command
def push_command(args):
    from .hub import push

    folder = Path(args.checkpoint)
    if not folder.is_dir():
        raise CommandError(f"--checkpoint {folder}: no such folder. push uploads a local checkpoint folder.")
    if parse_model_id(args.repo) is None or "@" in args.repo:
        raise CommandError(f"--repo {args.repo!r} is not a Hub repo id: give it as user/name.")
    model, metadata = load_model(folder)
    results, command_line = None, ""
    if args.eval_json:
        results = read_figures(Path(args.eval_json), model)
        command_line = f"python -m genai eval --checkpoint {args.repo} --n {results.get('n_samples', '?')} --json"
    elif not args.no_eval:
        results, command_line = measure_for_card(model, metadata, args)
    url = push(folder, args.repo, results=results, private=args.private, eval_command=command_line)
    print(f"Pushed {model.describe()} to {args.repo}: {url}")
    return 0


def read_figures(path, model):
    """The figures of an `eval --json` file, refused when they describe another model."""
    import json

    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CommandError(f"--eval {path}: cannot read it as JSON ({error}).") from None
    if not isinstance(results, dict) or "model" not in results or "fid" not in results:
        raise CommandError(f"--eval {path} is not the output of `python -m genai eval --json`.")
    if results["model"] != model.describe():
        raise CommandError(f"--eval {path} describes {results['model']!r}, not this checkpoint's {model.describe()!r}.")
    return results


def measure_for_card(model, metadata, args):
    """Figures for the card, measured now against the MNIST test split; (None, "") when it is not at hand."""
    from .metrics import MetricsError, evaluate

    if metadata.get("dataset") not in (None, "mnist"):
        print("Not measuring figures: the metrics classifier knows MNIST digits only.")
        return None, ""
    try:
        dataset = load_dataset("mnist", data_dir=args.data_dir, split="test")
        results = evaluate(model, dataset, n_samples=args.n, seed=0, metadata=metadata)
    except (DatasetError, MetricsError) as error:
        print(f"Not measuring figures ({error}); the card says how to measure them.")
        return None, ""
    return results, f"python -m genai eval --checkpoint {args.repo} --n {args.n} --seed 0"


@command
def deploy_space_command(args):
    from .space import deploy_space

    url = deploy_space(args.repo, private=args.private)
    print(f"Uploaded the app to the Space {args.repo}: {url}")
    return 0


def write_text_atomically(path, text):
    """Write text to a temporary file beside path, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.writing")
    try:
        temporary.write_text(text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@command
def train_classifier_command(args):
    from tqdm import tqdm

    from .classifier import save_classifier, train_classifier

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CommandError(f"--out {out} already exists and is not empty; choose a new folder (nothing was changed).")
    device = pick_device(args.device)
    train_set = load_dataset("mnist", data_dir=args.data_dir, split="train", limit=args.limit)
    test_set = load_dataset("mnist", data_dir=args.data_dir, split="test")
    print(f"Learning from {train_set.describe()}\nMeasuring on {test_set.describe()}\nOn {describe(device)}.")
    bar = tqdm(total=None, unit="step", dynamic_ncols=True)

    def progress(event):
        bar.total = event.total_steps
        bar.update(event.step - bar.n)
        if event.losses:
            bar.set_postfix({name: f"{value:.3f}" for name, value in event.losses.items()}, refresh=False)

    command_line = "python -m genai " + " ".join(args.argv)
    try:
        model, facts = train_classifier(train_set, test_set, epochs=args.epochs, seed=args.seed, device=device,
                                        progress=progress, command=command_line)
    finally:
        bar.close()
    save_classifier(model, out, facts)
    print(f"Test accuracy: {100 * facts['test_accuracy']:.2f}% on the {facts['test_images']:,} test images "
          f"(never used in training). Saved to {out}")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded in a trained checkpoint's config.json
    try:
        return COMMANDS[args.command](args)
    except (CommandError, *USER_ERRORS) as error:
        print(f"genai {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
