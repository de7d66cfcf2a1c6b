"""What every generative model in genai looks like to the rest of the app.

A model is a small config dataclass (saved as config.json) plus an nn.Module
built from it (weights saved as model.safetensors). The training loop only
needs three things from a model:

    optimizers = model.configure_optimizers(lr)
    losses = model.training_step(images, labels, optimizers, rng)   # one update; rng: the run's generator
    images = model.generate(z, labels)                         # z -> pixels in [0, 1]

Images everywhere in the engine are float tensors of shape (N, 1, 28, 28)
with values in [0, 1] (0 = black background, 1 = white ink), as in MNIST.
"""

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class ModelConfig:
    """Fields every model shares."""

    latent_dim: int = 100
    conditional: bool = False  # if True, the model is told which digit (0-9) to draw
    num_classes: int = 10

    def to_dict(self):
        return asdict(self)


class GenerativeModel(nn.Module):
    """Base class: holds the config and shares the helpers for labels."""

    family = ""  # "gan" or "vae"
    arch = ""  # "mlp", "dcgan", "conv"
    Config = ModelConfig
    default_lr = 2e-4

    def __init__(self, config):
        super().__init__()
        self.config = config

    @property
    def latent_dim(self):
        return self.config.latent_dim

    @property
    def conditional(self):
        return self.config.conditional

    @property
    def loss_names(self):
        """Names of the losses training_step returns, in display order."""
        raise NotImplementedError

    def check_labels(self, labels, batch_size, device):
        """Conditional models need one label per image; others ignore labels."""
        if not self.conditional:
            return None
        if labels is None:
            raise ValueError("This model is conditional: give a digit label for every image.")
        labels = torch.as_tensor(labels, dtype=torch.long, device=device).reshape(-1)
        if labels.numel() == 1 and batch_size > 1:
            labels = labels.expand(batch_size)
        if labels.numel() != batch_size:
            raise ValueError(f"Got {labels.numel()} labels for {batch_size} images.")
        if labels.min() < 0 or labels.max() >= self.config.num_classes:
            raise ValueError(f"Labels must be between 0 and {self.config.num_classes - 1}.")
        return labels

    def configure_optimizers(self, lr):
        raise NotImplementedError

    def adam(self, parameters, lr, betas=(0.9, 0.999)):
        """Adam; on a GPU the fused version (one kernel for all weights) saves many small launches."""
        fused = next(self.parameters()).is_cuda or None
        return torch.optim.Adam(parameters, lr=lr, betas=betas, fused=fused)

    def training_step(self, images, labels, optimizers, rng):
        """One update on a batch; every random number comes from rng (the run's torch.Generator)."""
        raise NotImplementedError

    def generate(self, z, labels=None):
        raise NotImplementedError

    def parameter_count(self):
        """How many numbers the model learns (copies kept for sampling, like a GAN's EMA, not counted)."""
        return sum(p.numel() for p in self.parameters())

    def describe(self):
        """E.g. "conditional DCGAN, latent 100, 1.2M parameters"."""
        params = self.parameter_count()
        kind = "conditional " if self.conditional else ""
        return f"{kind}{self.title}, latent {self.latent_dim}, {params / 1e6:.2f}M parameters"

    title = "model"
