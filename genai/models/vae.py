"""Variational Autoencoders (Kingma & Welling 2013).

An encoder maps an image x to a Gaussian over latent codes, q(z|x) = N(mu, sigma^2).
A decoder maps a code z back to pixel probabilities p(x|z). Training maximizes
the ELBO; we minimize its negative, per image:

    loss = reconstruction + beta * KL
    reconstruction = -log p(x|z)  = sum over the 784 pixels of the binary cross-entropy
    KL = KL(q(z|x) || N(0, I))    = -1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)

beta = 1 is the true ELBO; beta > 1 (beta-VAE) trades sharper reconstructions
for a smoother, more organised latent space.

To sample z while keeping gradients, use the reparameterization trick:

    z = mu + sigma * eps,   eps ~ N(0, I)

(not sqrt(2*pi) * sigma, as one seed wrote: that is a mistake).

New images come from the decoder applied to z ~ N(0, I).

Two architectures: MLPVAE (784 -> 512 -> 256 -> z, and back) and ConvVAE
(strided convolutions). A conditional VAE also gives the encoder and decoder
the digit label, so you can ask the decoder for a "3" in any style z.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import GenerativeModel, ModelConfig


def reparameterize(mu, logvar, rng=None):
    """z = mu + sigma * eps with eps ~ N(0, I) and sigma = exp(logvar / 2).

    rng: a torch.Generator on mu's device (the training run's own), so eps is reproducible.
    """
    eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=rng)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_divergence(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, I)) per image, summed over latent dimensions."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


def reconstruction_loss(logits, images):
    """-log p(x|z) per image: binary cross-entropy summed over the 784 pixels."""
    return F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(dim=1)


def vae_loss(logits, images, mu, logvar, beta=1.0):
    """Returns (total, reconstruction, KL), each averaged over the batch, in nats per image."""
    recon = reconstruction_loss(logits, images).mean()
    kl = kl_divergence(mu, logvar).mean()
    return recon + beta * kl, recon, kl


@dataclass
class VAEConfig(ModelConfig):
    latent_dim: int = 20
    beta: float = 1.0


class VAE(GenerativeModel):
    """Shared VAE logic; subclasses define encode_features / decode_logits."""

    family = "vae"
    Config = VAEConfig
    default_lr = 1e-3
    loss_names = ("total", "reconstruction", "KL")

    def one_hot(self, labels):
        return F.one_hot(labels, self.config.num_classes).float()

    def encode(self, images, labels=None):
        """Images (N, 1, 28, 28) in [0, 1] -> (mu, logvar), each (N, latent_dim)."""
        labels = self.check_labels(labels, images.shape[0], images.device)
        return self.latent_gaussian(images, labels)

    def latent_gaussian(self, images, labels):
        """encode() for labels already checked (or None): (mu, logvar)."""
        features = self.encoder(images)
        if labels is not None:
            features = torch.cat([features, self.one_hot(labels)], dim=1)
        mu, logvar = self.to_latent(features).chunk(2, dim=1)
        return mu, logvar

    def decode_logits(self, z, labels=None):
        if labels is not None:
            z = torch.cat([z, self.one_hot(labels)], dim=1)
        return self.decoder(z)

    def forward(self, images, labels=None, rng=None):
        """Encode, sample z with the reparameterization trick, decode. Returns logits, mu, logvar."""
        labels = self.check_labels(labels, images.shape[0], images.device)
        return self.encode_decode(images, labels, rng)

    def encode_decode(self, images, labels, rng):
        """forward() for labels already checked (or None): (decoder logits, mu, logvar)."""
        mu, logvar = self.latent_gaussian(images, labels)
        z = reparameterize(mu, logvar, rng)
        return self.decode_logits(z, labels), mu, logvar

    def configure_optimizers(self, lr):
        return {"vae": self.adam(self.parameters(), lr)}

    def training_step(self, images, labels, optimizers, rng):
        """One update of reconstruction + beta * KL; rng draws eps (labels were checked once per run)."""
        logits, mu, logvar = self.encode_decode(images, labels if self.conditional else None, rng)
        total, recon, kl = vae_loss(logits, images, mu, logvar, self.config.beta)
        optimizers["vae"].zero_grad(set_to_none=True)
        total.backward()
        optimizers["vae"].step()
        return {"total": total.detach(), "reconstruction": recon.detach(), "KL": kl.detach()}

    def generate(self, z, labels=None):
        """Latent codes (N, latent_dim) -> images (N, 1, 28, 28) in [0, 1]."""
        labels = self.check_labels(labels, z.shape[0], z.device)
        return torch.sigmoid(self.decode_logits(z, labels))

    def reconstruct(self, images, labels=None):
        """Encode to the mean code mu and decode it: the VAE's best guess at the input."""
        labels = self.check_labels(labels, images.shape[0], images.device)
        mu, _ = self.encode(images, labels)
        return torch.sigmoid(self.decode_logits(mu, labels))


class MLPVAE(VAE):
    """Fully connected VAE: 784 -> 512 -> 256 -> (mu, logvar); z -> 256 -> 512 -> 784."""

    arch = "mlp"
    title = "MLP VAE"

    def __init__(self, config):
        super().__init__(config)
        extra = config.num_classes if config.conditional else 0
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
        )
        self.to_latent = nn.Linear(256 + extra, 2 * config.latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim + extra, 256), nn.ReLU(),
            nn.Linear(256, 512), nn.ReLU(),
            nn.Linear(512, 28 * 28), nn.Unflatten(1, (1, 28, 28)),
        )


@dataclass
class ConvVAEConfig(VAEConfig):
    channels: int = 32  # width of the first conv layer; doubled once


class ConvVAE(VAE):
    """Convolutional VAE: 28 -> 14 -> 7 with strided convs, mirrored by transposed convs."""

    arch = "conv"
    title = "Conv VAE"
    Config = ConvVAEConfig

    def __init__(self, config):
        super().__init__(config)
        c = config.channels
        extra = config.num_classes if config.conditional else 0
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 4, stride=2, padding=1), nn.ReLU(),  # 28 -> 14
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.ReLU(),  # 14 -> 7
            nn.Flatten(), nn.Linear(2 * c * 7 * 7, 256), nn.ReLU(),
        )
        self.to_latent = nn.Linear(256 + extra, 2 * config.latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim + extra, 256), nn.ReLU(),
            nn.Linear(256, 2 * c * 7 * 7), nn.ReLU(),
            nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.ReLU(),  # 7 -> 14
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),  # 14 -> 28 (logits)
        )
