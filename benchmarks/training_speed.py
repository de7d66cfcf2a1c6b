"""Training speed: images per second of genai's training loop, next to the loops tutorials use.

All three pipelines train the same model class with the same batch size, learning rate
and optimizer, and call the same `model.training_step`, so only the data pipeline and
the loop around it differ:

- engine     genai.train.train: the whole uint8 dataset sits on the device; each batch is a
             random index draw there, scaled to [0, 1] (previews off, losses read every 20 steps).
- reference  the usual PyTorch loop: a DataLoader(TensorDataset(float images), shuffle=True),
             each batch moved with .to(device); losses read every 20 steps, like the engine.
- tutorial   what most MNIST tutorials do: a per-image Dataset like torchvision's MNIST with
             ToTensor() (uint8 -> PIL image -> float tensor, one image at a time), batched by
             the DataLoader, moved with .to(device), and every loss read with .item() each step.

Timing covers everything from "here is the dataset in memory" to "N steps done": moving
or converting the data, building the optimizer, the steps. Runs alternate (engine,
reference, tutorial, then reference, tutorial, engine, ...) after a warm-up, and the
median over repeats is reported, because a shared machine is noisy.
"""

import gc
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from genai.models import create_model
from genai.train import TrainSettings, train

from .common import PeakMemory, Stopwatch, median

LOG_EVERY = TrainSettings().log_every


@dataclass(frozen=True)
class ModelSpec:
    family: str
    arch: str
    conditional: bool = False
    channels: int | None = None  # convolutional archs: the first layer's width (None: the arch's default)

    @property
    def name(self):
        width = f"-{self.channels}ch" if self.channels else ""
        return f"{self.family}-{self.arch}{width}" + ("-conditional" if self.conditional else "")

    def build(self, device, seed=0):
        options = {"channels": self.channels} if self.channels else {}
        return create_model(self.family, self.arch, seed=seed, conditional=self.conditional, **options).to(device)


@dataclass(frozen=True)
class CheckpointSpec:
    """A saved checkpoint folder, to time a model exactly as it was shipped (its config and weights)."""
    folder: str
    weights = "the checkpoint's (trained)"

    @property
    def name(self):
        return str(self.folder).rstrip("/")

    def build(self, device, seed=0):
        from genai.checkpoints import load_model

        return load_model(self.folder, device)[0]


ALL_MODELS = (
    ModelSpec("gan", "mlp"), ModelSpec("gan", "dcgan"), ModelSpec("vae", "mlp"), ModelSpec("vae", "conv"),
    ModelSpec("gan", "mlp", conditional=True), ModelSpec("vae", "mlp", conditional=True),
    ModelSpec("diffusion", "unet", conditional=True), ModelSpec("autoregressive", "pixelcnn"),
    ModelSpec("autoregressive", "lstm"),
)
UNCONDITIONAL_MODELS = ALL_MODELS[:4]


# --- the three pipelines -----------------------------------------------------------------------


def engine_run(model, dataset, steps, batch_size, lr, seed, device):
    """genai's own loop, as the app runs it (minus the preview grids)."""
    steps_per_epoch = len(dataset) // batch_size
    settings = TrainSettings(
        epochs=-(-steps // steps_per_epoch), batch_size=batch_size, lr=lr, seed=seed,
        max_steps=steps, preview_images=0,
    )
    last = None
    for last in train(model, dataset, settings):
        pass
    if last.step != steps:
        raise RuntimeError(f"The engine stopped after {last.step} of {steps} steps: {last.message}")
    return last.losses


def reference_run(model, dataset, steps, batch_size, lr, seed, device):
    """The standard PyTorch loop: TensorDataset of floats + shuffling DataLoader + per-batch .to(device)."""
    torch.manual_seed(seed)  # the DataLoader's shuffling draws from the global generator
    rng = torch.Generator(device=device).manual_seed(seed)  # the model's training noise
    images = dataset.images.unsqueeze(1).float().div(255)  # the whole set as floats, on the CPU
    loader = DataLoader(TensorDataset(images, dataset.labels), batch_size=batch_size, shuffle=True, drop_last=True)
    optimizers = model.configure_optimizers(lr)
    model.train()
    step, logged = 0, {}
    while step < steps:
        for batch, labels in loader:
            losses = model.training_step(batch.to(device), labels.to(device), optimizers, rng)
            step += 1
            if step % LOG_EVERY == 0 or step == steps:
                logged = {name: float(value) for name, value in losses.items()}  # read them, as the engine does
            if step == steps:
                break
    return logged


class TutorialMNIST(torch.utils.data.Dataset):
    """What torchvision.datasets.MNIST(transform=ToTensor()) does for each image it hands out."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        picture = Image.fromarray(self.images[index].numpy())  # torchvision makes a PIL image (8-bit gray) ...
        tensor = torch.from_numpy(np.array(picture, dtype=np.uint8)).unsqueeze(0).float().div(255)  # ... ToTensor()
        return tensor, int(self.labels[index])


def tutorial_run(model, dataset, steps, batch_size, lr, seed, device):
    """The typical tutorial: per-image conversion, DataLoader batching, .to(device), loss.item() every step."""
    torch.manual_seed(seed)  # the DataLoader's shuffling draws from the global generator
    rng = torch.Generator(device=device).manual_seed(seed)  # the model's training noise
    loader = DataLoader(TutorialMNIST(dataset.images, dataset.labels), batch_size=batch_size, shuffle=True,
                        drop_last=True)
    optimizers = model.configure_optimizers(lr)
    model.train()
    running = {}
    step = 0
    while step < steps:
        for batch, labels in loader:
            losses = model.training_step(batch.to(device), labels.to(device), optimizers, rng)
            for name, value in losses.items():
                running[name] = running.get(name, 0.0) + value.item()  # the tutorial's running loss
            step += 1
            if step == steps:
                break
    return {name: total / steps for name, total in running.items()}


PIPELINES = {"engine": engine_run, "reference": reference_run, "tutorial": tutorial_run}


# --- measuring --------------------------------------------------------------------------------


def timed_run(pipeline, spec, dataset, steps, batch_size, lr, seed, device):
    """One run on a fresh model (same seed, same starting weights): (seconds, memory dict)."""
    model = spec.build(device, seed=seed)
    gc.collect()
    with PeakMemory(device) as memory, Stopwatch(device) as watch:
        PIPELINES[pipeline](model, dataset, steps, batch_size, lr, seed, device)
    del model
    return watch.seconds, memory.as_dict()


def calibrate_steps(spec, dataset, batch_size, lr, device, target_seconds, warmup_steps):
    """Steps for one timed run to last about target_seconds: a multiple of the log interval (20), at most 2,000."""
    seconds, _ = timed_run("engine", spec, dataset, warmup_steps, batch_size, lr, 0, device)
    steps = target_seconds / (seconds / warmup_steps)
    steps = int(round(steps / LOG_EVERY)) * LOG_EVERY
    return max(LOG_EVERY, min(steps, 2000))


def measure_model(spec, dataset, device, repeats=5, target_seconds=2.0, batch_size=None, steps=None,
                  warmup_steps=10, pipelines=tuple(PIPELINES), progress=None):
    """Images/s of each pipeline for one model: warm up, then `repeats` interleaved rounds."""
    batch_size = batch_size or TrainSettings().batch_size
    lr = TrainSettings().lr or spec.build("cpu").default_lr
    for pipeline in pipelines if warmup_steps else ():  # warm-up: first calls allocate memory, pick kernels
        timed_run(pipeline, spec, dataset, warmup_steps, batch_size, lr, 0, device)
    if steps is None:
        steps = calibrate_steps(spec, dataset, batch_size, lr, device, target_seconds, max(warmup_steps, 1))

    speeds = {p: [] for p in pipelines}
    memory = {p: [] for p in pipelines}
    for round_index in range(repeats):
        shift = round_index % len(pipelines)
        order = pipelines[shift:] + pipelines[:shift]  # A B C, B C A, C A B, ...: no pipeline always goes first
        for pipeline in order:
            seconds, mem = timed_run(pipeline, spec, dataset, steps, batch_size, lr, 0, device)
            speeds[pipeline].append(steps * batch_size / seconds)
            memory[pipeline].append(mem)
        if progress:
            progress(f"  {spec.name} round {round_index + 1}/{repeats}: "
                     + ", ".join(f"{p} {speeds[p][-1]:,.0f} img/s" for p in pipelines))

    result = {
        "model": spec.name, "family": spec.family, "arch": spec.arch, "conditional": spec.conditional,
        "batch_size": batch_size, "lr": lr, "steps_per_run": steps, "repeats": repeats,
        "dataset_images": len(dataset),
        "images_per_sec": {p: round(median(v), 1) for p, v in speeds.items()},
        "runs_images_per_sec": {p: [round(x, 1) for x in v] for p, v in speeds.items()},
        "memory": {p: worst_memory(v) for p, v in memory.items()},
    }
    for other in pipelines:
        if other != "engine" and "engine" in speeds:
            # The ratio within each round (the runs closest in time), then the median over rounds.
            ratios = [e / o for e, o in zip(speeds["engine"], speeds[other])]
            result[f"engine_vs_{other}"] = round(median(ratios), 3)
    return result


def worst_memory(records):
    """The highest peaks over a pipeline's runs."""
    peak = lambda key: max((r[key] for r in records if r[key] is not None), default=None)  # noqa: E731
    return {
        "rss_peak_mb": peak("rss_peak_mb"),
        "rss_growth_mb": peak("rss_growth_mb"),
        "rss_scope": records[0]["rss_scope"],
        "cuda_peak_allocated_mb": peak("cuda_peak_allocated_mb"),
    }


def run_training_speed(dataset, device, models=ALL_MODELS, progress=print, **options):
    """measure_model for each model; returns a list of result dicts."""
    results = []
    for spec in models:
        if progress:
            progress(f"training speed: {spec.name}")
        results.append(measure_model(spec, dataset, device, progress=progress, **options))
    return results
