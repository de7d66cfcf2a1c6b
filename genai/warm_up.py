"""Warming up: the first training run of a process pays one-off costs that later runs do not.

- PyTorch imports its compiler (torch._dynamo) the first time a process builds an optimizer or
  initialises a layer on the meta device: about 0.9 s on a 2-core CPU, whatever the device.
  (The web app's check of its shipped checkpoints happens to pay this one as the page is built.)
- On a GPU, the first steps also open the CUDA context, load the kernels they use, and let cuDNN
  pick an algorithm for each new convolution shape (device.prepare turns cudnn.benchmark on), at
  the batch size of the device's recipe (1,024 for the GAN on CUDA).

A learner who presses Start should not wait for those. So the web app pays them once when it
starts, in the background: warm_up() trains the default model for a few steps on random pixels,
through the same training loop, then throws it away. benchmarks/cold_start.py measures what a
first Start gains (docs/benchmarks.md, "The first Start"): on a CPU, little beyond the compiler
import; on a GPU, still to be measured.
"""

import threading
import time
from pathlib import Path

import torch

from .data import Dataset
from .models import create_model
from .recipes import model_options, recipe
from .train import TrainSettings, train


def random_digits(count, seed=0):
    """count random 28x28 uint8 images with labels 0-9: input for kernels to run on, nothing to learn."""
    rng = torch.Generator().manual_seed(seed)  # its own generator: the global one is left alone
    images = torch.randint(0, 256, (count, 28, 28), dtype=torch.uint8, generator=rng)
    labels = torch.arange(count) % 10
    return Dataset(name="mnist", images=images, labels=labels, split="train", directory=Path("random pixels"),
                   class_names=tuple(str(digit) for digit in range(10)), total=count)


def warm_up(device, family="gan", steps=3, preview_images=64):
    """Train family's default model (its recipe for `device`) for `steps` steps on random pixels and
    draw one preview of preview_images images, then drop the model. Returns the seconds it took.

    Nothing is kept and nothing is written: the model, its optimizers and the data are discarded.
    """
    started = time.perf_counter()
    device = torch.device(device)
    options = recipe(family, device)
    arch = options["arch"]
    model = create_model(family, arch, seed=0, **model_options(options, family, arch)).to(device)
    batch_size = options["batch_size"]
    settings = TrainSettings(batch_size=batch_size, lr=options["lr"], max_steps=steps, log_every=steps,
                             preview_images=preview_images)
    for _ in train(model, random_digits(batch_size * steps), settings):
        pass
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # the seconds include the GPU's work, not only its queueing
    return time.perf_counter() - started


def warm_up_in_background(device, log=print, **options):
    """warm_up() in a daemon thread (the server starts meanwhile); returns the thread.

    It only saves time, so a failure is logged and otherwise ignored: the first run then pays the
    one-off costs itself, as it would without a warm-up.
    """
    def run():
        try:
            seconds = warm_up(device, **options)
        except Exception as error:  # noqa: BLE001  (never stop the app over a speed-up)
            log(f"Warm-up skipped ({type(error).__name__}: {error}); the first training run starts slower.")
        else:
            log(f"Warmed up training on {device} in {seconds:.1f} s.")

    thread = threading.Thread(target=run, name="genai-warm-up", daemon=True)
    thread.start()
    return thread
