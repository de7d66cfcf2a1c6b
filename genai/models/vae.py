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

New images come from the decoder applied to z ~ N(0, I), or, with prior_components = K, to z
drawn from a mixture of K Gaussians fitted to the training digits' codes after training
(mixture_prior.py: the codes of real digits do not fill N(0, I), and the gaps draw no digit).
With learned_prior, training's KL term itself is taken against a mixture of K Gaussians learned
with the networks (LearnedMixturePrior), KL ~ log q(z|x) - log p(z) for the sampled z.

Two architectures: MLPVAE (784 -> 512 -> 256 -> z, and back) and ConvVAE
(strided convolutions). A conditional VAE also gives the encoder and decoder
the digit label, so you can ask the decoder for a "3" in any style z.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import FunctionalStep, GenerativeModel, ModelConfig, ModelError, batch_row, one_hot, report
from .mixture_prior import GaussianMixturePrior, LearnedMixturePrior


def reparameterize(mu, logvar, rng=None):
    """z = mu + sigma * eps with eps ~ N(0, I) and sigma = exp(logvar / 2).

    rng: a torch.Generator on mu's device (the training run's own), so eps is reproducible.
    """
    eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=rng)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_divergence(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, I)) per image, summed over latent dimensions."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


def gaussian_log_density(z, mu, logvar):
    """log N(z; mu, sigma^2) per image, summed over latent dimensions: log q(z|x) for a code z drawn from it."""
    return -0.5 * torch.sum(math.log(2 * math.pi) + logvar + (z - mu).pow(2) / logvar.exp(), dim=1)


def reconstruction_loss(logits, images):
    """-log p(x|z) per image: binary cross-entropy summed over the 784 pixels."""
    return F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(dim=1)


def vae_loss(logits, images, mu, logvar, beta=1.0, kl_per_image=None):
    """loss = reconstruction + beta * KL: returns (loss, reconstruction, KL), batch means in nats per image.

    kl_per_image: the KL of each image when the prior is not N(0, I) (a learned mixture,
    estimated as log q(z|x) - log p(z)); by default the closed form kl_divergence(mu, logvar).
    """
    recon = reconstruction_loss(logits, images).mean()
    kl = (kl_divergence(mu, logvar) if kl_per_image is None else kl_per_image).mean()
    return recon + beta * kl, recon, kl


EXPLANATION = r"""
### What is happening: a VAE

The **encoder** maps an image $x$ to a Gaussian over codes, $q(z \mid x) = \mathcal{N}(\mu, \sigma^2)$;
the **decoder** maps a code $z$ back to pixels. The code is drawn with the
*reparameterization trick*, so gradients flow through $\mu$ and $\sigma$:

$$z = \mu + \sigma \odot \epsilon, \qquad \epsilon \sim \mathcal{N}(0, I)$$

Training minimizes, for every image,

$$\text{loss} = \text{reconstruction} + \beta \cdot \text{KL}$$

$$\text{reconstruction} = -\log p(x \mid z)$$

$$\text{KL} = \mathrm{KL}\left(q(z \mid x) \,\Vert\, \mathcal{N}(0, I)\right)$$

**Reconstruction** says how well the decoder redraws its input (cross-entropy over the 784 pixels).
**KL** says how far the codes are from plain noise: keeping it small is what lets us draw *new*
digits by decoding $z \sim \mathcal{N}(0, I)$. $\beta = 1$ is the true ELBO; a larger $\beta$
gives a smoother latent space and blurrier digits.

The grid decodes **the same codes** $z$ every few seconds: watch the same digits sharpen.

**A better place to sample.** The codes of real digits do not fill $\mathcal{N}(0, I)$: they form
clusters with gaps between them, and a gap decodes to a blend of two digits. A VAE with a
*mixture prior* (the shipped unconditional ones) fits $K$ Gaussians to codes of the training
digits when training ends, $p(z) = \sum_k w_k \mathcal{N}(z; m_k, S_k)$, and samples from it.

**The default recipe** is *conditional* with $\beta = 3$: the label says which digit, so the code
only has to carry the style, and decoding $z \sim \mathcal{N}(0, I)$ gives clean digits within seconds.
"""

LIKELIHOOD = ("Bernoulli likelihood of the test images binarized at 0.5 (pixel > 127); "
              "a plain VAE's bound on binarized MNIST is 86.8 nats (Burda et al. 2015)")
MIXTURE_LIKELIHOOD = ("the prior is the mixture of Gaussians the model samples from, its KL term "
                      "estimated with the same sample of z")


@dataclass
class VAEConfig(ModelConfig):
    latent_dim: int = 20
    beta: float = 1.0
    prior_components: int = 0  # 0: sample z ~ N(0, I); K: from K Gaussians fitted to the training codes
    learned_prior: bool = False  # train with a mixture of prior_components Gaussians as the KL's prior, not N(0, I)


class VAE(GenerativeModel):
    """Shared VAE logic; subclasses define encode_features / decode_logits."""

    family = "vae"
    Config = VAEConfig
    default_lr = 1e-3
    loss_names = ("total", "reconstruction", "KL")
    plotted_losses = ("reconstruction", "KL", "total")
    explanation = EXPLANATION
    loss_functions = (vae_loss, reconstruction_loss, kl_divergence)  # shown beside the formulas in the Train tab
    can_encode = True
    good_for = "has an encoder (reconstructions, maps of its codes, your drawings); softer digits"

    def __init__(self, config):
        super().__init__(config)
        k = config.prior_components
        self.prior = GaussianMixturePrior(k, config.latent_dim) if k else None
        if config.learned_prior and not k:
            raise ModelError("learned_prior needs prior_components of at least 1 (the Gaussians it learns): "
                             "give --prior-components K too.")
        # Training's prior when learned (see LearnedMixturePrior); None: the KL term's prior is N(0, I).
        self.training_prior = LearnedMixturePrior(k, config.latent_dim) if config.learned_prior else None

    @property
    def sampling_prior(self):
        """The fitted mixture the samples come from, or None: z ~ N(0, I)."""
        return self.prior if self.prior is not None and self.prior.is_fitted else None

    def latents_from_noise(self, noise, temperature=1.0):
        """z ~ N(0, T^2 I), or from the fitted mixture prior (see mixture_prior.py)."""
        if self.prior is None:
            return noise * temperature
        return self.prior.from_noise(noise, temperature)

    @torch.no_grad()
    def after_training(self, images, labels, batch_size=1000):
        """With a mixture prior: fit it to codes z ~ q(z|x) of the training images, one each: samples of
        the aggregate posterior q(z), where the decoder learned to draw (see mixture_prior.py).
        Returns a sentence saying so, for the run's last message."""
        if self.prior is None:
            return None
        was_training = self.training
        self.eval()
        generator = torch.Generator().manual_seed(0)  # the same codes every time for the same model
        codes = []
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].unsqueeze(1).float().div(255)
            y = labels[start:start + batch_size] if self.conditional else None
            mu, logvar = self.latent_gaussian(x, y)
            eps = torch.randn(mu.shape, generator=generator).to(mu.device)
            codes.append(mu + torch.exp(0.5 * logvar) * eps)
        self.prior.fit(torch.cat(codes))
        self.train(was_training)
        return (f"Fitted the prior for sampling: a mixture of {self.config.prior_components} Gaussians to the "
                f"codes of the {len(images):,} training digits.")

    def describe(self):
        text = super().describe()
        if self.prior is None:
            return text
        learned = " (learned in training, refitted after)" if self.training_prior is not None else ""
        return f"{text}, prior: a mixture of {self.config.prior_components} Gaussians{learned}"

    def one_hot(self, labels):
        """A digit as a one-hot vector; a mix of digits (float weights) as it is."""
        return labels if labels.is_floating_point() else one_hot(labels, self.config.num_classes)

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
        logits, mu, logvar, _ = self.encode_decode_code(images, labels, rng)
        return logits, mu, logvar

    def encode_decode_code(self, images, labels, rng):
        """encode_decode() and the code z it decoded, for the loss: (logits, mu, logvar, z)."""
        mu, logvar = self.latent_gaussian(images, labels)
        z = reparameterize(mu, logvar, rng)
        return self.decode_logits(z, labels), mu, logvar, z

    def training_kl(self, z, mu, logvar):
        """The KL term of each image for the training loss: the closed form against N(0, I), or with a
        learned mixture prior the one-sample estimate log q(z|x) - log p(z)."""
        if self.training_prior is None:
            return kl_divergence(mu, logvar)
        return gaussian_log_density(z, mu, logvar) - self.training_prior(z)

    def configure_optimizers(self, lr):
        return {"vae": self.adam(self.parameters(), lr)}

    def training_step(self, images, labels, optimizers, rng):
        """One update of reconstruction + beta * KL; rng draws eps (labels were checked once per run)."""
        logits, mu, logvar, z = self.encode_decode_code(images, labels if self.conditional else None, rng)
        total, recon, kl = vae_loss(logits, images, mu, logvar, self.config.beta, self.training_kl(z, mu, logvar))
        optimizers["vae"].zero_grad(set_to_none=True)
        total.backward()
        optimizers["vae"].step()
        return {"total": total.detach(), "reconstruction": recon.detach(), "KL": kl.detach()}

    def functional_step(self):
        """training_step as pure functions (genai/stacked.py): eps, then the one update."""
        return FunctionalStep(noise=VAE.step_noise, updates=(("vae", VAE.update_loss),))

    def step_noise(self, images, labels, rng):
        """The one random draw of training_step: eps ~ N(0, I), one code's worth per image."""
        shape = (images.shape[0], self.latent_dim)
        return (torch.randn(shape, device=images.device, dtype=images.dtype, generator=rng),)

    def update_loss(self, images, labels, noise):
        """training_step's loss as a pure function of the weights and eps: (reconstruction + beta * KL, losses)."""
        labels = labels if self.conditional else None
        mu, logvar = self.latent_gaussian(images, labels)
        z = mu + torch.exp(0.5 * logvar) * noise[0]  # the reparameterization trick, eps given
        logits = self.decode_logits(z, labels)
        total, recon, kl = vae_loss(logits, images, mu, logvar, self.config.beta, self.training_kl(z, mu, logvar))
        return total, {"total": total.detach(), "reconstruction": recon.detach(), "KL": kl.detach()}

    def inspect_batch(self, images, labels, rng):
        """One batch encoded and decoded, nothing updated: each digit's reconstruction, its -log p(x|z) and KL."""
        logits, mu, logvar, z = self.encode_decode_code(images, labels if self.conditional else None, rng)
        kl_each = self.training_kl(z, mu, logvar)
        total, recon, kl = vae_loss(logits, images, mu, logvar, self.config.beta, kl_each)
        return report(
            {"total": total, "reconstruction": recon, "KL": kl},
            batch_row("Real digits x", images),
            batch_row("Reconstructions, with each digit's reconstruction term -log p(x|z) and KL, in nats",
                      torch.sigmoid(logits), {"rec": reconstruction_loss(logits, images), "KL": kl_each}),
        )

    def generate(self, z, labels=None):
        """Latent codes (N, latent_dim) -> images (N, 1, 28, 28) in [0, 1]."""
        labels = self.check_labels(labels, z.shape[0], z.device)
        return torch.sigmoid(self.decode_logits(z, labels))

    def encode_mean(self, images, labels=None):
        """The code a walk from a real image starts at: the mean mu of q(z|x)."""
        return self.encode(images, labels)[0]

    @torch.no_grad()
    def likelihood(self, images, labels=None, seed=0, batch_size=500):
        """The negative ELBO in nats per image (lower is better), with beta = 1.

            -ELBO(x) = E_q(z|x)[ -log p(x|z) ] + KL( q(z|x) || N(0, I) )
                     =        reconstruction  +  KL

        estimated with one seeded sample z = mu + sigma * eps, eps ~ N(0, I), per image, using
        reconstruction_loss and kl_divergence above, summed over the 784 pixels and latent
        dimensions and averaged over images. beta is 1 whatever beta the model was trained with,
        so this is the true bound: -ELBO >= -log p(x). With a fitted mixture prior p(z), the model
        that samples is p(z) p(x|z), so its KL term is estimated with the same z instead:
        log q(z|x) - log p(z), whose mean over q is KL(q(z|x) || p(z)).

        The pixels are Bernoulli variables, so the images should be 0 or 1: `eval` passes the test
        images binarized at 0.5, which makes this a bound on -log p(x) of *binarized* MNIST,
        comparable with published figures (a plain VAE: 86.8 nats, Burda et al. 2015, on
        stochastically binarized MNIST; thresholding is a little easier). On grey levels the same
        formula is a cross-entropy, not a likelihood.

        images: float (N, 1, 28, 28). Returns {"negative_elbo", "reconstruction", "kl", "likelihood"}.
        """
        device = next(self.parameters()).device
        generator = torch.Generator().manual_seed(int(seed))
        was_training = self.training
        self.eval()
        recon_sum = kl_sum = 0.0
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].to(device)
            y = None if labels is None else torch.as_tensor(labels[i:i + batch_size])
            y = self.check_labels(y, len(x), device)
            mu, logvar = self.latent_gaussian(x, y)
            eps = torch.randn(mu.shape, generator=generator).to(device)
            z = mu + torch.exp(0.5 * logvar) * eps
            recon_sum += float(reconstruction_loss(self.decode_logits(z, y), x).sum())
            if self.sampling_prior is None:
                kl_sum += float(kl_divergence(mu, logvar).sum())
            else:  # KL(q(z|x) || p(z)) for the mixture, estimated with the same z: log q(z|x) - log p(z)
                kl_sum += float((gaussian_log_density(z, mu, logvar) - self.prior.log_density(z)).sum())
        self.train(was_training)
        n = len(images)
        likelihood = LIKELIHOOD if self.sampling_prior is None else f"{LIKELIHOOD}; {MIXTURE_LIKELIHOOD}"
        return {"negative_elbo": (recon_sum + kl_sum) / n, "reconstruction": recon_sum / n, "kl": kl_sum / n,
                "likelihood": likelihood}

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
