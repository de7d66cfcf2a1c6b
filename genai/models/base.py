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

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

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


@dataclass
class BatchReport:
    """What a model makes of one training batch (step mode, genai/stepping.py): the loss terms, as
    training_step names them, and rows of pictures with numbers for each image (a GAN: what D says
    of each real and each generated digit; a VAE: each digit's reconstruction and KL)."""

    losses: dict  # loss name -> float
    rows: list = field(default_factory=list)  # BatchRow, in display order


@dataclass
class BatchRow:
    title: str  # e.g. "Generated G(z): what D says"
    images: torch.Tensor  # (N, 1, 28, 28) in [0, 1], on the CPU
    scores: dict = field(default_factory=dict)  # score name -> (N,) CPU tensor, one number per image


def batch_row(title, images, scores=None):
    """A BatchRow with everything moved to the CPU; scores: {name: (N,) tensor}."""
    return BatchRow(title, images.detach().float().clamp(0, 1).cpu(),
                    {name: values.detach().float().cpu() for name, values in (scores or {}).items()})


def report(losses, *rows):
    """A BatchReport from loss tensors (read as floats) and BatchRows."""
    return BatchReport({name: float(value) for name, value in losses.items()}, list(rows))


@dataclass
class FunctionalStep:
    """training_step written as pure functions of the weights, so that genai/stacked.py can train several
    models of one kind at once (torch.func.vmap). It must compute exactly what training_step computes.

    noise(model, images, labels, rng): every random number training_step draws, from rng and in the same
        order, as a tuple of tensors (or None): drawn outside vmap, one model at a time, from its own rng
    updates: (optimizer name, loss(model, images, labels, noise) -> (loss, {name: value})), in
        training_step's order; each loss is differentiated for its optimizer's weights only, with the
        weights as the updates before it left them (a GAN: D's update, then G's against the new D)
    after_update(model): what training_step does once its updates are made (a moving average), or None
    keep(model, values): takes out of one model's reported values what training_step keeps on the model
        besides its losses (a GAN's per-image answers of D, for the live histogram), and returns the
        losses left; None: every value is a loss
    """

    noise: Callable
    updates: tuple
    after_update: Callable | None = None
    keep: Callable | None = None


class ModelError(ValueError):
    """An unknown family/architecture, an invalid setting or bad labels, explained for a human."""


class GenerativeModel(nn.Module):
    """Base class: holds the config and shares the helpers for labels.

    Everything that differs between families lives in the family's module, behind these names,
    so the app, the CLI and the metrics never ask which family a model is:

        generate(z, labels, **opts)  noise -> images: sampling from a seed, walks between seeds;
                                     opts are the family's sampling_options (e.g. sampling_steps)
        latents_from_noise(eps, T)   a seed's noise -> the codes generate() takes (usually T * eps)
        after_training(x, labels)    what a model fits once a run ends (a VAE's mixture prior)
        drawing_frames(z, labels)    snapshots of how the images come about (noise -> digit, pixel by pixel)
        can_encode, encode_mean(x)   images -> codes, for models with an encoder
        training_step(...)           one update; loss_names / plotted_losses name what it returns
        functional_step()            training_step as pure functions of the weights (stacked training)
        likelihood(x, labels, seed)  the family's likelihood figure for `eval` (None if it has none)
        with_guide(guide, scale)     a copy sampled with autoguidance by a weaker model (diffusion only)
        explanation                  what the Train tab says about the family, with its formulas
        good_for, draws_in_one_pass  what a model picker says about it, and whether it draws in milliseconds
        sampling_passes(**opts)      how many passes of the network one image takes (a request's cost)
        generate_in_parts(z, labels) generate(), yielding the images drawn so far (a grid shown as it fills in)
        seed_walk_note               why walking between two seeds gives no smooth morph, if it does not
        loss_functions               the functions computing its losses: the Train tab shows their code
        diagnostics()                per-image numbers of the last step for a live histogram (a GAN's D)
        inspect_batch(x, labels, rng) a training batch seen by the model: loss terms and per-image numbers
                                     (step mode shows it before and after one update)
    """

    family = ""  # "gan" or "vae"
    arch = ""  # "mlp", "dcgan", "conv"
    Config = ModelConfig
    default_lr = 2e-4
    can_encode = False  # True: encode_mean maps images to codes (reconstructions, walks from real images)
    plotted_losses = ()  # the loss curves the Train tab draws (names from loss_names)
    explanation = ""  # Markdown with $math$, shown beside the training curves
    loss_functions = ()  # the functions that compute the loss terms (their docstrings hold the formulas)
    # Config fields that may change at sampling time, without retraining (generate's keyword options).
    sampling_options = ()
    good_for = ""  # one line for a model picker: what this kind of model is good for
    draws_in_one_pass = True  # False: a sample takes many passes of the network (seconds, not milliseconds)
    seed_walk_note = ""  # why a walk between two seeds does not morph smoothly, when it does not ("": it does)

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
        """Conditional models need one label per image (a digit, or a mix of digits: float weights
        (N, num_classes) summing to 1 per image, see embed_labels); others ignore labels."""
        if not self.conditional:
            return None
        if labels is None:
            raise ModelError("This model is conditional: give a digit label for every image.")
        if torch.is_tensor(labels) and labels.is_floating_point():
            return self.check_label_mix(labels.to(device), batch_size)
        labels = torch.as_tensor(labels, dtype=torch.long, device=device).reshape(-1)
        if labels.numel() == 1 and batch_size > 1:
            labels = labels.expand(batch_size)
        if labels.numel() != batch_size:
            raise ModelError(f"Got {labels.numel()} labels for {batch_size} images.")
        if labels.min() < 0 or labels.max() >= self.config.num_classes:
            raise ModelError(f"Labels must be between 0 and {self.config.num_classes - 1}.")
        return labels

    def check_label_mix(self, weights, batch_size):
        classes = self.config.num_classes
        if weights.shape != (batch_size, classes):
            raise ModelError(f"A mix of digits is {classes} weights per image: got shape {tuple(weights.shape)} "
                             f"for {batch_size} images.")
        if not torch.isfinite(weights).all() or (weights < 0).any() or not torch.allclose(
                weights.sum(dim=1), torch.ones(batch_size, device=weights.device), atol=1e-4):
            raise ModelError("A mix of digits needs weights from 0 to 1 that add up to 1 for each image.")
        return weights

    def configure_optimizers(self, lr):
        raise NotImplementedError

    def optimizer_lr(self, name, lr):
        """The learning rate of configure_optimizers' optimizer `name` for the run's lr (the same, unless
        a family scales one: a GAN's D may learn faster). Live knobs use it to turn lr mid-run."""
        return lr

    def adam(self, parameters, lr, betas=(0.9, 0.999)):
        """Adam, in its fused version on a GPU or CPU: one kernel updates all the weights, where the plain
        version runs several small operations per weight tensor. On a GPU that saves many launches; on a
        CPU it speeds up the models whose steps are mostly the optimizer's small operations, the MLPs
        (measured: see docs/benchmarks.md, "The CPU path against the loop before issue 12, and fused Adam
        on a CPU")."""
        fused = next(self.parameters()).device.type in ("cuda", "cpu") or None
        return torch.optim.Adam(parameters, lr=lr, betas=betas, fused=fused)

    def training_step(self, images, labels, optimizers, rng):
        """One update on a batch; every random number comes from rng (the run's torch.Generator)."""
        raise NotImplementedError

    def functional_step(self):
        """training_step as a FunctionalStep, for stacked training (genai/stacked.py); raises ModelError
        saying why where a model cannot train stacked with others (the default: nobody wrote it)."""
        raise ModelError(f"A {self.title} cannot train stacked with others: its training step is not written "
                         f"as pure functions of its weights (functional_step).")

    def generate(self, z, labels=None, **options):
        """Noise (N, latent_dim) -> images (N, 1, 28, 28) in [0, 1]; options: some of sampling_options."""
        raise NotImplementedError

    def generate_in_parts(self, z, labels=None, **options):
        """generate(), yielding what is drawn so far while it draws; the last one is generate()'s images.
        A model that draws in one pass yields once; one that draws row by row, after each row."""
        yield self.generate(z, labels, **options)

    def sampling_passes(self, **options):
        """How many passes of the network one image takes with these sampling options (the model's own
        settings where one is not given): what a request for digits costs (genai/ui/request_costs.py)."""
        return 1

    def latents_from_noise(self, noise, temperature=1.0):
        """A seed's standard normal noise (N, latent_dim) -> the codes generate() draws from.

        Usually the noise itself, scaled: z ~ N(0, temperature^2 I). A VAE with a fitted mixture
        prior draws its codes from that mixture instead (see mixture_prior.py).
        """
        return noise * temperature

    def after_training(self, images, labels):
        """Called once when a run ends, with its training images (uint8 (N, 28, 28)) and labels:
        the place for what a model fits after learning (a VAE's mixture prior). Returns a sentence
        for the run's last message, or None (usually: nothing to fit)."""
        return None

    def drawing_frames(self, z, labels=None, count=16, **options):
        """How generate() comes to its images: about `count` snapshots (N, 1, 28, 28) in [0, 1], the last
        one exactly generate()'s images. A model that draws in one pass (a GAN, a VAE) has one frame."""
        return [self.generate(z, labels, **options)]

    def inspect_batch(self, images, labels, rng):
        """The loss terms of training_step on this batch, without updating anything, and the pictures
        behind them with a number per image: a BatchReport. Called under torch.no_grad(); rng draws any
        noise (the same rng state before and after an update gives the same noise)."""
        raise NotImplementedError

    def with_guide(self, guide, guidance_scale):
        """A copy of this model whose sampling is guided by another, weaker model of the same kind
        (autoguidance); guide stays unchanged. Only some families can be guided this way."""
        raise ModelError(f"A {self.title} cannot be guided by another model: only diffusion models can "
                         f"(autoguidance).")

    def check_batch_size(self, batch_size):
        """Raise ModelError if a training batch of this many images (per process) cannot work for this model."""

    def diagnostics(self):
        """Numbers per image from the last training step worth watching as a histogram, each in [0, 1]:
        {what they are: 1-D CPU tensor}, or {} (a GAN: what its discriminator said about real and fake)."""
        return {}

    def encode_mean(self, images, labels=None):
        """Images (N, 1, 28, 28) in [0, 1] -> the codes (N, latent_dim) they map to (models with an encoder)."""
        raise ModelError(f"A {self.title} has no encoder.")

    def likelihood(self, images, labels=None, seed=0):
        """The family's likelihood figure on images in {0, 1}: a dict of named figures for `eval`, or None."""
        return None

    averaged_copy = None  # a frozen moving average of the network that draws the samples (see update_moving_average)

    def parameter_count(self):
        """How many numbers the model learns (a moving-average copy kept for sampling is not counted)."""
        copy = sum(p.numel() for p in self.averaged_copy.parameters()) if self.averaged_copy is not None else 0
        return sum(p.numel() for p in self.parameters()) - copy

    def describe(self):
        """E.g. "conditional DCGAN, latent 100, 1.2M parameters"."""
        params = self.parameter_count()
        kind = "conditional " if self.conditional else ""
        return f"{kind}{self.title}, latent {self.latent_dim}, {params / 1e6:.2f}M parameters"

    title = "model"


@torch.no_grad()
def update_moving_average(average, current, decay, updates):
    """average <- d * average + (1 - d) * current, for two copies of one network; returns updates + 1.

    An exponential moving average of the weights (Karras et al. 2018; Yazici et al. 2019): the
    weights jitter from step to step, their average draws cleaner images, much earlier. d warms up
    as min(decay, (1 + n) / (10 + n)) over the first n updates, so early weights are soon forgotten.
    Buffers (BatchNorm's running statistics) are copied as they are.
    """
    d = min(decay, (1 + updates) / (10 + updates))
    torch._foreach_lerp_(list(average.parameters()), list(current.parameters()), 1 - d)
    for mine, theirs in zip(average.buffers(), current.buffers()):
        mine.copy_(theirs)
    return updates + 1


def one_hot(indices, classes, dtype=torch.float32):
    """F.one_hot(indices, classes) as `dtype`, built by comparison: F.one_hot first checks the indices' range
    (a data-dependent branch), which torch.func cannot trace when training stacked (genai/stacked.py)."""
    return (indices.unsqueeze(-1) == torch.arange(classes, device=indices.device)).to(dtype)


def embed_labels(embedding, labels):
    """The learned vector of each label (an nn.Embedding's rows): a digit picks its row; a mix of digits
    (float weights (N, num_classes) summing to 1) blends the rows: how a 3 morphs into an 8."""
    if labels.is_floating_point():
        weights = torch.nn.functional.pad(labels, (0, embedding.num_embeddings - labels.shape[1]))
        return weights @ embedding.weight
    return embedding(labels)
