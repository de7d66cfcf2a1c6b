"""The command line: python -m genai train | sample | interpolate ...

    python -m genai train --model gan --time-limit 60 --out runs/my-gan
    python -m genai train --resume runs/my-gan --time-limit 60 --out runs/my-gan-more
    python -m genai sample --checkpoint runs/my-gan --seed 42 --n 64 --out digits.png
    python -m genai interpolate --checkpoint runs/my-gan --seed-a 1 --seed-b 2 --steps 16 --out walk.gif

Mistakes (an unknown architecture, a missing folder, ...) end with one line
saying what is wrong and a non-zero exit code, never a traceback.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from .checkpoints import load_model, read_metadata, save_model
from .run_state import load_run_state
from .data import DatasetError, load_dataset, load_training_set
from .distributed import join, launched_by_torchrun, leave
from .device import DEVICE_CHOICES, describe, pick_device
from .hub import locate, parse_model_id
from .models import ARCHS, FAMILIES, MODELS, create_model
from .recipes import GPU_RECIPES, check_run_settings, model_options, recipe
from .settings import SETTINGS, check_values
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
    parser = argparse.ArgumentParser(prog="python -m genai", description="Train generative models (GAN, VAE, autoregressive, diffusion) on "
                                     "MNIST; sample, interpolate, measure and share them.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser(
        "train", help="train a model and save it as a checkpoint folder",
        description="Train on the dataset's train split. The run lasts --time-limit seconds (default: the "
                    "family's recipe, as in the app's Train tab), or --max-steps / --epochs if reached first. "
                    "Unset settings take the family's recipe (declared in genai/settings.py). On a CUDA device, "
                    "unless --batch-size or --lr is given, " + "; ".join(
                        f"a {family.upper()} takes " + ", ".join(f"{SETTINGS[name].cli_flag} {value}"
                                                               for name, value in changes.items())
                        for family, changes in GPU_RECIPES.items()) + " (and a learning rate grown to match).",
    )
    add_setting_flags(p)
    p.add_argument("--data-dir", help="folder with the IDX files (default: env GENAI_DATA_DIR, cache, download)")
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


def add_setting_flags(parser):
    """One flag per setting of genai/settings.py that has one, its help and default from the table."""
    for setting in SETTINGS.values():
        if not setting.cli_flag:
            continue
        wanted = f"; {setting.wanted()}" if setting.kind in ("whole", "number") else ""
        help_text = setting.help + wanted + default_words(setting)
        if setting.kind == "yes/no":
            parser.add_argument(setting.cli_flag, dest=setting.name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_text)
            continue
        choices = setting.choices or (FAMILIES if setting.name == "family" else ())
        metavar = "{" + ",".join(choices) + "}" if choices else ("N" if setting.kind == "whole" else "X")
        parser.add_argument(setting.cli_flag, dest=setting.name, metavar=metavar, help=help_text)


def default_words(setting):
    """ " (default: 64)", " (default: gan 100, vae 16, ...)" or "" for the --help of a setting."""
    if setting.name == "arch":
        return "; " + "; ".join(f"{family}: {', '.join(archs)}" for family, archs in ARCHS.items()) + \
            " (default: " + ", ".join(f"{f} {a}" for f, a in setting.recipe.items()) + ")"
    if setting.recipe:
        return " (default: " + ", ".join(f"{f} {v:g}" if isinstance(v, float) else f"{f} {v}"
                                          for f, v in setting.recipe.items()) + ")"
    if setting.default is not None:
        return f" (default: {setting.default})"
    if setting.empty_means:
        return f" (default: {setting.empty_means})"
    own = {getattr(cls.Config(), setting.name) for cls in MODELS.values() if hasattr(cls.Config(), setting.name)}
    return f" (default: {own.pop()})" if len(own) == 1 else ""


def given_settings(args):
    """The settings the command line gives, as typed (not yet checked)."""
    return {name: getattr(args, name) for name, setting in SETTINGS.items()
            if setting.cli_flag and getattr(args, name, None) is not None}


def train_options(args, device=None):
    """The family's recipe (on a GPU: its batch for a GPU, if it has one), overridden by what the
    command line gives, every setting checked at once. Given --batch-size or --lr, the other one is
    the CPU recipe's."""
    given = given_settings(args)
    family = given.get("family", SETTINGS["family"].default)
    checked = check_run_settings({**given, "family": family}, name_of=lambda setting: setting.cli_flag)
    gpu_recipe = "batch_size" not in checked and "lr" not in checked
    options = recipe(family, device if gpu_recipe else None)
    if any(name in checked for name in ("seconds", "max_steps", "epochs")):
        options.pop("seconds")  # a budget given replaces the recipe's time limit
    options.update(checked)
    return options


# What a continued run takes from its saved folder; given with --resume, they are refused.
SAVED_WITH_THE_RUN = tuple(flag for setting in SETTINGS.values() if setting.cli_flag and setting.fixed_on_resume
                           for flag in ([setting.cli_flag, "--no-" + setting.cli_flag[2:]] if setting.kind == "yes/no"
                                        else [setting.cli_flag]))


def continue_run(args):
    """train --resume FOLDER: the saved run's model, data and settings, with a new budget and --out."""
    given = [flag for flag in SAVED_WITH_THE_RUN if any(a == flag or a.startswith(flag + "=") for a in args.argv)]
    if given:
        raise CommandError(f"--resume goes on with the saved run's own settings; leave out {', '.join(given)} "
                           "(give a budget, --out, --data-dir or --device).")
    if launched_by_torchrun():
        raise CommandError("--resume continues a run in one process; start it without torchrun.")
    budget = check_values({name: value for name, value in given_settings(args).items()
                           if not SETTINGS[name].fixed_on_resume}, name_of=lambda setting: setting.cli_flag)
    if not budget:
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
    limit = record.get("images") if record.get("images", 0) < record.get("split_images", 0) else None
    chosen = {**(record.get("chosen") or {}), **budget, "dataset": metadata.get("dataset") or "mnist"}
    dataset = load_training_set(chosen["dataset"], data_dir=args.data_dir, limit=limit).to(device)
    if dataset.warning:
        print(f"Warning: {dataset.warning}", file=sys.stderr)
    settings = TrainSettings(epochs=budget.get("epochs"), batch_size=state.batch_size, lr=state.lr,
                             seed=int(record.get("seed", 0)), max_steps=budget.get("max_steps"),
                             max_seconds=budget.get("seconds"))
    print(f"{dataset.describe()}\nContinuing a {model.describe()} from step {state.step:,} ({source}) on "
          f"{describe(device)}.")
    resumed_from = {"folder": str(source), "steps": state.step, "seconds": state.seconds,
                    "command": record.get("command")}
    if "resumed_from" in record:  # a run continued more than once: keep the whole chain back to its first command
        resumed_from["resumed_from"] = record["resumed_from"]
    return train_and_save(args, model, dataset, settings, device, out, chosen, resume=state, resumed_from=resumed_from)


def new_folder(path):
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise CommandError(f"--out {path} already exists and is not empty; choose a new folder (nothing was changed).")
    return path


@command
def train_command(args):
    if args.resume:
        return continue_run(args)
    options = train_options(args)  # contradicting settings are refused before anything else happens
    out = new_folder(args.out or f"runs/{options['family']}-{options['arch']}-{time.strftime('%Y%m%d-%H%M%S')}")

    team = None
    if launched_by_torchrun():  # one of several processes: torchrun --nproc_per_node N -m genai train ...
        team, device = join(args.device)
    else:
        device = pick_device(args.device)
    options = train_options(args, device)
    main_process = team is None or team.is_main
    say = print if main_process else (lambda *_, **__: None)  # only rank 0 prints and saves
    dataset = load_training_set(options["dataset"], data_dir=args.data_dir, limit=options.get("limit")).to(device)
    if dataset.warning:
        say(f"Warning: {dataset.warning}", file=sys.stderr)
    family, arch = options["family"], options["arch"]
    model = create_model(family, arch, seed=options["seed"], **model_options(options, family, arch)).to(device)
    settings = TrainSettings(
        epochs=options.get("epochs"), batch_size=options["batch_size"], lr=options["lr"], seed=options["seed"],
        max_steps=options.get("max_steps"), max_seconds=options.get("seconds"),
    )
    budget = [f"{settings.max_seconds:g} s" if settings.max_seconds else "",
              f"{settings.max_steps:,} steps" if settings.max_steps else "",
              f"{settings.epochs} epochs" if settings.epochs else ""]
    processes = f" x {team.world_size} processes ({team.backend}), each a shard of every batch" if team else ""
    say(f"{dataset.describe()}\nTraining a {model.describe()} on {describe(device)}{processes} "
        f"for at most {' / '.join(b for b in budget if b)}.")
    return train_and_save(args, model, dataset, settings, device, out, options, team)


def train_and_save(args, model, dataset, settings, device, out, chosen, team=None, resume=None, resumed_from=None):
    """Run the training loop with a progress bar, then save the model (and the run's state) to out.
    chosen: the run's settings (genai/settings.py), kept in its training record."""
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
        how = {"command": "python -m genai " + " ".join(args.argv), "chosen": chosen}
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
        save_model(model, out, dataset=chosen["dataset"], steps=training["steps"], training=training,
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
