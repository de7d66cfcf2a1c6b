"""Optional ways to make a training step faster, mostly on a GPU; each is off by default.

These models are small: on a GPU one step of a DCGAN is a few hundred tiny kernels, and the
GPU spends most of its time waiting for Python to launch the next one. PyTorch offers these
remedies, and the training loop (genai/train.py) can use two of them:

- precision "bf16": run the matrix products and convolutions in bfloat16 under
  torch.autocast. The weights, the optimizer and the losses stay in float32; bfloat16 has
  float32's range, so no loss scaling is needed (unlike float16).
- compile "default": torch.compile turns each network's Python forward (and its backward)
  into a few fused kernels, generated on the first steps (seconds to a minute of waiting).
- compile "reduce-overhead" (CUDA graphs: the compiled kernels replayed with one launch per
  network call) is not offered: on an H200 it failed in this loop for the DCGAN and the MLP
  VAE. (A GAN's discriminator is called twice per step, on real and on fake images, and each
  replay overwrites the outputs of the one before.)

Whether any of them helps depends on the model and the machine, so it is measured, not
assumed: python -m benchmarks.speedups (figures in docs/benchmarks.md). For these models
neither paid, on a 2-core CPU or on an H200 (2026-12-04): bf16 was 0.6-0.9x on the GPU,
torch.compile 0.65x for the MLP VAE, 1.13x for the diffusion UNet (one round) and failed for the
DCGAN. So both stay off by default and the Train tab does not offer them; they remain for bigger
networks and other machines.

Larger batches are the remedy that pays on a GPU (fewer, bigger kernels): 14-17x the images/s
of batch 64 at batch 1024 for most models on the H200, and the GAN recipe takes it there
(recipes.GPU_RECIPES). A larger batch takes fewer steps per epoch, so the learning rate
usually grows with it; scaled_lr is the square-root rule (Krizhevsky 2014; Hoffer et al. 2017):

    lr(batch) = lr(64) * sqrt(batch / 64)
"""

import contextlib
import math

import torch

PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = ("off", "default")


def autocast(device, precision):
    """The context a training step runs in: bfloat16 autocast for "bf16", nothing for "fp32"."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def trained_networks(model):
    """The model's networks that the optimizers update (not frozen copies such as a moving average)."""
    return [child for child in model.children() if any(p.requires_grad for p in child.parameters())]


def compile_networks(model, compile_mode):
    """Compile the forward of each trained network of `model`, for compile_mode != "off".

    network.forward is replaced by its compiled version on that one network object, so the
    weights keep their names and the checkpoint is the same as without it. (nn.Module.compile()
    would be the obvious call, but in torch 2.13 it compiles nothing: torch.compile skips the
    frame of Module._call_impl it is handed.) Nothing is compiled until a network is first
    called; that first step takes the waiting. A network compiled before is left as it is.
    Returns the number of networks compiled now.
    """
    if compile_mode == "off":
        return 0
    fresh = [network for network in trained_networks(model) if "forward" not in vars(network)]
    for network in fresh:
        network.forward = torch.compile(network.forward, mode=compile_mode)
    return len(fresh)


def scaled_lr(lr, batch_size, base_batch_size=64):
    """The square-root rule: lr * sqrt(batch_size / base_batch_size)."""
    return lr * math.sqrt(batch_size / base_batch_size)
