"""The default recipe of each model family: ONE table for the Train tab and the CLI.

A run is budgeted in seconds, not epochs: a learner cannot know how long an epoch of a
dataset takes on their machine, but "train for a minute" means the same everywhere.
These recipes are picked so that digits become readable quickly on a 2-core CPU
(measured by benchmarks/time_to_quality.py; figures in docs/benchmarks.md):

- GAN: a small conditional DCGAN (the preview shows one column per digit), a high learning
  rate, and samples from an exponential moving average of the generator's weights, which
  smooths out the jitter of a fast-learning G.
- VAE: a conditional MLP VAE with a small latent space and beta = 3: the label carries
  which digit, the latent code only the style, so decoded prior samples are clean digits.
- Autoregressive: a conditional Gated PixelCNN (32 channels, 7 gated layers) trained by exact
  maximum likelihood on binarized digits. Each step is slow on a CPU (all 784 predictions of
  64 images), so the budget is two minutes (not yet measured by the time-to-quality benchmark).
- Diffusion: a small conditional UNet trained by flow matching, sampled in 20 Euler steps with
  classifier-free guidance 2. It needs minutes, not seconds, on a CPU (not yet measured by the
  time-to-quality benchmark; the budget below is a first guess).

On a GPU these small models are bound by kernel launches, not arithmetic: a step of 1,024 images
costs about what a step of 64 does. So where a larger batch was measured to reach readable digits
sooner (python -m benchmarks.speedups on an H200, docs/benchmarks.md), the recipe on a CUDA device
takes that batch, with the learning rate grown by the square-root rule (speedups.scaled_lr):

- GAN: batch 1024, lr 4e-3: >= 90% recognizable after 6.0 s of training, where batch 64 had
  reached 86% after 10 s. (The other families' larger batches are only measured for speed so far:
  they keep batch 64 until their quality per second is measured too.)

At batch 1024 the GAN's discriminator also learns at 3x G's rate (d_lr_ratio 3): that needed 480-600
steps to >= 90% recognizable (507 on average over seeds 0-2) where D at G's rate needed 560-700 (600
on average; four runs each, counted on a CPU by benchmarks/steps_to_quality.py; level with it from
step 800 to 1,200; D at 4x needed more than 3x). The ratio changes no arithmetic, so a step costs the
GPU the same time either way; the seconds on a GPU are still to be measured. At batch 64, on a CPU,
a faster D did not help (D x2: 1,200-1,600 steps against 1,400-1,600), so the CPU recipe keeps D at
G's rate.
A wider G and D (64 channels), no dearer per step on a GPU, needed more steps, not fewer (560 and 640
with D at 3x), so the GPU recipe keeps 32 channels.
"""

import torch

from .models import model_class
from .speedups import scaled_lr

RECIPES = {
    "gan": {"arch": "dcgan", "conditional": True, "channels": 32, "latent_dim": 100, "ema_decay": 0.999,
            "batch_size": 64, "lr": 1e-3, "seconds": 60},
    "vae": {"arch": "mlp", "conditional": True, "latent_dim": 16, "beta": 3.0, "batch_size": 64, "lr": 2e-3,
            "seconds": 20},
    "autoregressive": {"arch": "pixelcnn", "conditional": True, "latent_dim": 784, "channels": 32, "layers": 6,
                       "batch_size": 64, "lr": 1e-3, "seconds": 120},
    "diffusion": {"arch": "unet", "conditional": True, "latent_dim": 784, "channels": 16, "ema_decay": 0.999, "batch_size": 64,
                  "lr": 1e-3, "seconds": 180},
}


# Recipe entries that describe the model (its config.json); the others describe the run.
MODEL_OPTIONS = ("conditional", "latent_dim", "beta", "prior_components", "learned_prior", "ema_decay", "channels", "layers",
                 "d_lr_ratio", "spectral_norm", "r1_gamma", "extra_layers", "pack", "categories", "hidden_size")


# What changes on a CUDA device, for the families measured to reach readable digits sooner there
# (see the docstring above): a larger batch (its learning rate by the square-root rule), and more.
GPU_RECIPES = {"gan": {"batch_size": 1024, "d_lr_ratio": 3.0}}


def recipe(family, device=None):
    """The default settings of a family (a copy: change it freely).

    device: where it will train; on a CUDA device a family in GPU_RECIPES gets those changes and
    the square-root learning rate for their batch."""
    options = dict(RECIPES[family])
    if device is not None and torch.device(device).type == "cuda" and family in GPU_RECIPES:
        changes = GPU_RECIPES[family]
        options.update(changes, lr=scaled_lr(options["lr"], changes["batch_size"], options["batch_size"]))
    return options


def model_options(options, family=None, arch=None):
    """The entries of a recipe (or of options built from one) that go to create_model().

    With family and arch, only the settings that architecture has (an MLP has no channels).
    """
    chosen = {name: options[name] for name in MODEL_OPTIONS if name in options}
    if family is None:
        return chosen
    fields = model_class(family, arch).Config.__dataclass_fields__
    return {name: value for name, value in chosen.items() if name in fields}
