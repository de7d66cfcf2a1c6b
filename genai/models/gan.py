"""Generative Adversarial Networks: a generator G and a discriminator D play a game.

G turns random noise z ~ N(0, I) into an image. D looks at an image and outputs
a logit: high means "real", low means "fake". D(x) below is the probability
sigma(logit) that x is real.

The losses (non-saturating GAN, Goodfellow et al. 2014):

    L_D = -[ log D(x) + log(1 - D(G(z))) ]     D learns to tell real from fake
    L_G = -log D(G(z))                         G learns to fool D

Both are computed from logits for numerical safety, using
-log sigma(l) = softplus(-l) and -log(1 - sigma(l)) = softplus(l).

Two architectures:
- MLPGAN: the seeds' fully connected networks,
  G: z(100) -> 256 -> 512 -> 1024 -> 784 (tanh), D: 784 -> 512 -> 256 -> 1.
- DCGAN: convolutional (Radford et al. 2015), sized for 28x28 images.

A conditional GAN (Mirza & Osindero 2014) also gives both networks the digit
label, through a learned label embedding, so you can ask G for a "7".

With ema_decay > 0, samples come from an exponential moving average of G's weights
(Karras et al. 2018; Yazici et al. 2019), updated after every G step:

    G_ema <- decay * G_ema + (1 - decay) * G

G's weights jitter from step to step as it chases D; their average draws cleaner
digits, much earlier in training. Training itself still updates G as above.

With r1_gamma = gamma > 0, D also pays for how steeply its logit changes around real digits
(the R1 penalty, Mescheder et al. 2018):

    L_D + gamma/2 * E_x ||grad_x logit_D(x)||^2          (x: real digits only)

A D that may not be steep at the data cannot win by sharp, brittle boundaries, so it keeps giving
G smooth directions towards real digits, and the game settles instead of circling. The gradient
is per image, so D has no BatchNorm (which would mix the images of a batch) when R1 is on.

With categories = k > 0 (unconditional GANs only), G's noise carries a choice of one of k
categories that G must make readable (InfoGAN, Chen et al. 2016). The first k numbers of z pick
the category c = argmax(z_1..z_k), uniform over the k choices, and G gets it as a one-hot vector
in their place. A small head Q on D's features guesses c from the image, and both G and Q are
trained to make that guess right:

    L_I = -log Q(c | G(z))        (cross-entropy; H(c) - L_I is a lower bound on the
                                   mutual information between c and the image)
    D and Q minimize L_D + L_I,  G minimizes L_G + L_I

No label is ever used, yet on MNIST the easiest categories to keep apart are the digits: G
learns to draw one digit per category. A one-hot choice lets G jump between digits instead of
drawing blends of them, and since every category is chosen equally often, every digit is drawn.
"""

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import (FunctionalStep, GenerativeModel, ModelConfig, ModelError, batch_row, embed_labels, one_hot,
                   report, update_moving_average)


def discriminator_loss(real_logits, fake_logits):
    """L_D = -[log D(x) + log(1 - D(G(z)))], averaged over the batch."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits):
    """L_G = -log D(G(z)): the non-saturating generator loss."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits, real, gamma):
    """R1 = gamma/2 * E_x ||grad_x logit_D(x)||^2, on real images x (which must require grad).

    create_graph=True: the penalty is itself differentiated when D's weights are updated.
    """
    grad, = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return gamma / 2 * grad.pow(2).flatten(1).sum(dim=1).mean()


def information_loss(category_logits, categories):
    """L_I = -log Q(c | G(z)): how badly Q reads the category c that G was asked to draw (InfoGAN)."""
    return F.cross_entropy(category_logits, categories)


def category_code(z, categories):
    """z -> (G's input, the category c of each row): z's first k numbers replaced by one_hot(argmax).

    The argmax of k independent N(0, 1) numbers is uniform over the k categories, so a seed still
    fixes everything, and walking from one seed to another switches category on the way.
    """
    chosen = z[:, :categories].argmax(dim=1)
    return torch.cat([one_hot(chosen, categories, z.dtype), z[:, categories:]], dim=1), chosen


EXPLANATION = r"""
### What is happening: a GAN

Two networks play a game. The **generator** $G$ turns random noise $z \sim \mathcal{N}(0, I)$
into an image $G(z)$. The **discriminator** $D$ looks at an image and gives the probability
$D(\cdot)$ that it is a real digit.

Each step, first $D$ learns to tell real digits $x$ from fakes:

$$L_D = -\left[\log D(x) + \log\left(1 - D(G(z))\right)\right]$$

then $G$ learns to fool $D$:

$$L_G = -\log D(G(z))$$

**Reading the curves.** GAN losses do not simply go down: the two players improve together,
so the curves wobble around a balance. $L_D \approx 2 \log 2 \approx 1.39$ means $D$ is
guessing; if $L_D$ falls towards 0 while $L_G$ climbs, $D$ has won and $G$ stops learning.

The grid decodes **the same noise vectors** $z$ every few seconds: watch the same digits sharpen.

**The default recipe** is a small *conditional* DCGAN: both networks are also told which digit,
so the grid shows one column per digit. Samples come from a moving average of $G$'s weights,
$G_{ema} \leftarrow 0.999\, G_{ema} + 0.001\, G$, which draws cleaner digits much earlier.
"""


@dataclass
class GANConfig(ModelConfig):
    latent_dim: int = 100
    label_embedding_dim: int = 10
    ema_decay: float = 0.0  # 0: sample from G itself; e.g. 0.999: from a moving average of G's weights
    d_lr_ratio: float = 1.0  # D learns at d_lr_ratio x the learning rate (above 1: a stronger D)
    r1_gamma: float = 0.0  # gamma > 0: D pays gamma/2 * ||grad_x logit_D(x)||^2 at real digits (R1), no BatchNorm in D
    categories: int = 0  # k > 0: z's first k numbers choose one of k categories, which Q must read (InfoGAN)


def total(*terms):
    """The sum of the loss terms that are on (None: off). Adding a 0 for a term that is off would still
    cost an addition and its backward on every step, which is most of what a small step costs on a GPU."""
    on = [term for term in terms if term is not None]
    result = on[0]
    for term in on[1:]:
        result = result + term
    return result


class GAN(GenerativeModel):
    """Shared GAN logic; subclasses pass in their generator and discriminator.

    The generator works in [-1, 1] (tanh output), so real images are scaled
    from [0, 1] to [-1, 1] before D sees them.
    """

    family = "gan"
    good_for = "sharp digits in milliseconds"
    Config = GANConfig
    default_lr = 2e-4
    plotted_losses = ("L_D", "L_G")
    explanation = EXPLANATION
    loss_functions = (discriminator_loss, generator_loss, information_loss)  # shown beside the formulas in the Train tab

    def __init__(self, config, generator, discriminator):
        check_categories(config)
        super().__init__(config)
        self.generator = generator
        self.discriminator = discriminator
        # The averaged generator that draws the samples (a frozen copy, saved with the weights).
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False) if config.ema_decay else None
        self.ema_updates = 0  # warm-up counter of this session's updates (not saved)

    @property
    def averaged_copy(self):
        return self.generator_ema

    @property
    def loss_names(self):
        return (("L_D", "L_G", "D(x)", "D(G(z))") + (("L_I",) if self.config.categories else ())
                + (("R1",) if self.config.r1_gamma else ()))

    def describe(self):
        k = self.config.categories
        code = f", {k} categories found without labels (InfoGAN)" if k else ""
        r1 = f", R1 penalty gamma {self.config.r1_gamma:g}" if self.config.r1_gamma else ""
        return super().describe() + code + r1

    def generator_input(self, z):
        """The noise as G gets it, and the category each row asks for (None without categories)."""
        return category_code(z, self.config.categories) if self.config.categories else (z, None)

    def update_ema(self):
        """G_ema <- d * G_ema + (1 - d) * G (see update_moving_average; BatchNorm statistics: G's own)."""
        if self.generator_ema is not None:
            self.ema_updates = update_moving_average(self.generator_ema, self.generator, self.config.ema_decay,
                                                     self.ema_updates)

    def diagnostics(self):
        """What D said in the last step: D(x) for each real digit and D(G(z)) for each fake, in [0, 1].

        Two humps pushed apart (reals near 1, fakes near 0) is a discriminator winning too easily;
        both near 0.5 is the balance the game aims at.
        """
        if getattr(self, "last_logits", None) is None:
            return {}
        real, fake = self.last_logits
        return {"D(x): real digits": torch.sigmoid(real).flatten().cpu(),
                "D(G(z)): generated": torch.sigmoid(fake).flatten().cpu()}

    def optimizer_lr(self, name, lr):
        """D learns at d_lr_ratio x lr: a ratio far above 1 makes D win the game too easily."""
        return lr * self.config.d_lr_ratio if name == "discriminator" else lr

    def configure_optimizers(self, lr):
        # Adam with beta1 = 0.5 is the standard, stable choice for GANs (DCGAN paper).
        return {
            "discriminator": self.adam(self.discriminator.parameters(), self.optimizer_lr("discriminator", lr),
                                       betas=(0.5, 0.999)),
            "generator": self.adam(self.generator.parameters(), lr, betas=(0.5, 0.999)),
        }

    def training_step(self, images, labels, optimizers, rng):
        """One D update, then one G update, on a batch of real images in [0, 1].

        rng: the run's torch.Generator (on the images' device) for the noise z ~ N(0, I).
        Labels were checked once for the whole dataset by the training loop.
        """
        batch_size = images.shape[0]
        labels = labels if self.conditional else None
        real = images * 2 - 1
        gamma = self.config.r1_gamma
        if gamma:
            real = real.detach().requires_grad_(True)  # R1 needs grad_x logit_D(x) at the real digits
        z = torch.randn(batch_size, self.latent_dim, device=images.device, generator=rng)
        code, categories = self.generator_input(z)
        fake = self.generator(code, labels)

        # 1) Discriminator: push D(x) up and D(G(z)) down. detach(): G is not updated here.
        #    With categories, D's head Q also learns to read the category of each fake (L_I).
        real_logits = self.discriminator(real, labels)
        fake_logits, category_logits = self.discriminator.judge_and_read(fake.detach(), labels)
        loss_d = discriminator_loss(real_logits, fake_logits)
        loss_i = information_loss(category_logits, categories) if categories is not None else None
        loss_r1 = r1_penalty(real_logits, real, gamma) if gamma else None
        optimizers["discriminator"].zero_grad(set_to_none=True)
        total(loss_d, loss_i, loss_r1).backward()
        optimizers["discriminator"].step()

        # 2) Generator: make D believe the fakes are real (and Q read their categories). D's weights are frozen.
        self.discriminator.requires_grad_(False)
        fake_logits_for_g, category_logits_for_g = self.discriminator.judge_and_read(fake, labels)
        loss_g = generator_loss(fake_logits_for_g)
        loss_i_for_g = information_loss(category_logits_for_g, categories) if categories is not None else None
        optimizers["generator"].zero_grad(set_to_none=True)
        total(loss_g, loss_i_for_g).backward()
        optimizers["generator"].step()
        self.discriminator.requires_grad_(True)
        self.update_ema()
        self.last_logits = (real_logits.detach(), fake_logits.detach())  # for diagnostics(), read now and then

        losses = {
            "L_D": loss_d.detach(),
            "L_G": loss_g.detach(),
            "D(x)": torch.sigmoid(real_logits.detach()).mean(),
            "D(G(z))": torch.sigmoid(fake_logits.detach()).mean(),
        }
        if categories is not None:
            losses["L_I"] = loss_i.detach()
        if gamma:
            losses["R1"] = loss_r1.detach()
        return losses

    def functional_step(self):
        """training_step as pure functions (genai/stacked.py): z, then D's update, then G's, then the average."""
        if self.config.r1_gamma:
            raise ModelError("A GAN with the R1 penalty cannot train stacked with others: the penalty differentiates "
                             "D twice through torch.autograd.grad, which torch.func cannot trace.")
        return FunctionalStep(noise=GAN.step_noise, updates=(("discriminator", GAN.discriminator_update),
                                                             ("generator", GAN.generator_update)),
                              after_update=GAN.update_ema, keep=GAN.keep_logits)

    def step_noise(self, images, labels, rng):
        """The one random draw of training_step: z ~ N(0, I)."""
        return (torch.randn(images.shape[0], self.latent_dim, device=images.device, generator=rng),)

    def discriminator_update(self, images, labels, noise):
        """training_step's first update as a pure function: (L_D (+ L_I), the losses it reports)."""
        labels = labels if self.conditional else None
        code, categories = self.generator_input(noise[0])
        fake = self.generator(code, labels).detach()
        real_logits = self.discriminator(images * 2 - 1, labels)
        fake_logits, category_logits = self.discriminator.judge_and_read(fake, labels)
        loss_d = discriminator_loss(real_logits, fake_logits)
        losses = {"L_D": loss_d, "D(x)": torch.sigmoid(real_logits).mean(),
                  "D(G(z))": torch.sigmoid(fake_logits).mean(),
                  "real logits": real_logits, "fake logits": fake_logits}  # (kept on the model: keep_logits)
        loss_i = information_loss(category_logits, categories) if categories is not None else None
        if loss_i is not None:
            losses["L_I"] = loss_i
        return total(loss_d, loss_i), {name: value.detach() for name, value in losses.items()}

    def keep_logits(self, values):
        """What D said of each image in a batched step, kept for diagnostics() as training_step keeps it;
        the losses left."""
        if "real logits" in values:
            self.last_logits = (values.pop("real logits"), values.pop("fake logits"))
        return values

    def generator_update(self, images, labels, noise):
        """training_step's second update as a pure function, against D as its update left it: (L_G (+ L_I), losses)."""
        labels = labels if self.conditional else None
        code, categories = self.generator_input(noise[0])
        fake_logits, category_logits = self.discriminator.judge_and_read(self.generator(code, labels), labels)
        loss_g = generator_loss(fake_logits)
        loss_i = information_loss(category_logits, categories) if categories is not None else None
        return total(loss_g, loss_i), {"L_G": loss_g.detach()}

    def inspect_batch(self, images, labels, rng):
        """The game on one batch, nothing updated: what D says of each real digit and of each fake."""
        labels = labels if self.conditional else None
        z = torch.randn(images.shape[0], self.latent_dim, device=images.device, generator=rng)
        code, categories = self.generator_input(z)
        fake = self.generator(code, labels)
        real_logits = self.discriminator(images * 2 - 1, labels)
        fake_logits, category_logits = self.discriminator.judge_and_read(fake, labels)
        d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
        losses = {"L_D": discriminator_loss(real_logits, fake_logits), "L_G": generator_loss(fake_logits),
                  "D(x)": d_real.mean(), "D(G(z))": d_fake.mean()}
        fake_scores = {"D(G(z))": d_fake}
        if categories is not None:
            losses["L_I"] = information_loss(category_logits, categories)
            # Q(c | G(z)): how sure Q is of the category each fake was asked to show.
            fake_scores["Q(c|G(z))"] = category_logits.softmax(dim=1).gather(1, categories[:, None]).squeeze(1)
        return report(
            losses,
            batch_row("Real digits x, and D(x): how sure D is that each is real", images, {"D(x)": d_real}),
            batch_row("Generated G(z), and D(G(z)): how sure D is that each is real", (fake + 1) / 2, fake_scores),
        )

    def generate(self, z, labels=None):
        """Noise (N, latent_dim) -> images (N, 1, 28, 28) in [0, 1]."""
        labels = self.check_labels(labels, z.shape[0], z.device)
        generator = self.generator if self.generator_ema is None else self.generator_ema
        return (generator(self.generator_input(z)[0], labels) + 1) / 2


def check_categories(config):
    """InfoGAN's categories need an unconditional GAN, and noise to spare besides the choice."""
    k = config.categories
    if not k:
        return
    if config.conditional:
        raise ModelError("categories is for unconditional GANs, which find the digits themselves; "
                         "a conditional GAN is told the digit. Use one or the other.")
    if k == 1 or k >= config.latent_dim:
        raise ModelError(f"categories must be 0 (off) or from 2 to latent_dim - 1 ({config.latent_dim - 1}), "
                         f"so that some noise is left besides the choice; not {k}.")


class CategoryReader(nn.Module):
    """Q: D's features of an image -> logits of the category G was asked to draw (InfoGAN)."""

    def __init__(self, features, categories):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, 128), nn.LeakyReLU(0.2), nn.Linear(128, categories))

    def forward(self, features):
        return self.net(features)


class Discriminator(nn.Module):
    """What both discriminators share: self.net ends in the layer that turns features into D's logit;
    with categories, Q reads the category from the same features (built by the subclass)."""

    def inputs(self, images, labels):
        raise NotImplementedError

    def forward(self, images, labels=None):
        return self.net(self.inputs(images, labels)).squeeze(1)

    def judge_and_read(self, images, labels=None):
        """(D's logits, Q's category logits, or None without categories) from one pass over the images."""
        if self.reader is None:
            return self(images, labels), None
        features = self.net[:-1](self.inputs(images, labels))
        return self.net[-1](features).squeeze(1), self.reader(features)


class LabelEmbedding(nn.Module):
    """Appends a learned vector for the digit label to each input (conditional models)."""

    def __init__(self, num_classes, dim):
        super().__init__()
        self.embedding = nn.Embedding(num_classes, dim)

    def forward(self, features, labels):
        return torch.cat([features, embed_labels(self.embedding, labels)], dim=1)


class MLPGenerator(nn.Module):
    def __init__(self, config):
        super().__init__()
        extra = config.label_embedding_dim if config.conditional else 0
        self.label = LabelEmbedding(config.num_classes, extra) if config.conditional else None
        self.net = nn.Sequential(
            nn.Linear(config.latent_dim + extra, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 512), nn.LeakyReLU(0.2),
            nn.Linear(512, 1024), nn.LeakyReLU(0.2),
            nn.Linear(1024, 28 * 28), nn.Tanh(),
        )

    def forward(self, z, labels=None):
        if self.label is not None:
            z = self.label(z, labels)
        return self.net(z).view(-1, 1, 28, 28)


class MLPDiscriminator(Discriminator):
    def __init__(self, config):
        super().__init__()
        extra = config.label_embedding_dim if config.conditional else 0
        self.label = LabelEmbedding(config.num_classes, extra) if config.conditional else None
        self.net = nn.Sequential(
            nn.Linear(28 * 28 + extra, 512), nn.LeakyReLU(0.2),
            nn.Linear(512, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
        )
        self.reader = CategoryReader(256, config.categories) if config.categories else None

    def inputs(self, images, labels):
        x = images.flatten(1)
        if self.label is not None:
            x = self.label(x, labels)
        return x


class MLPGAN(GAN):
    """The seeds' fully connected GAN."""

    arch = "mlp"
    title = "MLP GAN"

    def __init__(self, config):
        super().__init__(config, MLPGenerator(config), MLPDiscriminator(config))


@dataclass
class DCGANConfig(GANConfig):
    channels: int = 64  # width of the first conv layer; doubled once
    extra_layers: int = 0  # more 3x3 conv layers at each resolution (7x7 and 14x14), in G and in D


def refine_layers(channels, count, activation, batchnorm=True):
    """count 3x3 conv layers that keep the size and width of a feature map: more depth to draw with.

    With extra_layers = n, G and D each get n of them at 7x7 and n at 14x14. One 4x4 transposed
    conv per doubling gives each output pixel only a few weights to be drawn by; stacked 3x3
    layers let the network shape a whole stroke before the next upsampling.
    """
    layers = []
    for _ in range(count):
        layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=not batchnorm)]
        layers += [nn.BatchNorm2d(channels)] if batchnorm else []
        layers += [activation()]
    return layers


class DCGANGenerator(nn.Module):
    """z -> 7x7 feature map -> transposed convs upsample to 14x14, then 28x28."""

    def __init__(self, config):
        super().__init__()
        c, n = config.channels, config.extra_layers
        extra = config.label_embedding_dim if config.conditional else 0
        self.label = LabelEmbedding(config.num_classes, extra) if config.conditional else None
        self.project = nn.Sequential(
            nn.Linear(config.latent_dim + extra, 2 * c * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * c * 7 * 7), nn.ReLU(),
        )
        self.upsample = nn.Sequential(
            *refine_layers(2 * c, n, nn.ReLU),  # at 7x7
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False),  # 7 -> 14
            nn.BatchNorm2d(c), nn.ReLU(),
            *refine_layers(c, n, nn.ReLU),  # at 14x14
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),  # 14 -> 28
            nn.Tanh(),
        )
        self.channels = c

    def forward(self, z, labels=None):
        if self.label is not None:
            z = self.label(z, labels)
        x = self.project(z).view(-1, 2 * self.channels, 7, 7)
        return self.upsample(x)


class DCGANDiscriminator(Discriminator):
    """Strided convs downsample 28 -> 14 -> 7, then one linear layer gives the logit.

    A conditional D gets the label as an extra image channel (a learned 28x28 map).
    """

    def __init__(self, config):
        super().__init__()
        c = config.channels
        self.label_map = nn.Embedding(config.num_classes, 28 * 28) if config.conditional else None
        in_channels = 2 if config.conditional else 1
        no_batchnorm = config.r1_gamma > 0  # R1's gradient is per image: see the module docstring
        n = config.extra_layers
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 28 -> 14
            *refine_layers(c, n, lambda: nn.LeakyReLU(0.2), batchnorm=False),  # at 14x14
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=no_batchnorm),  # 14 -> 7
            nn.Identity() if no_batchnorm else nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),
            *refine_layers(2 * c, n, lambda: nn.LeakyReLU(0.2), batchnorm=False),  # at 7x7
            nn.Flatten(),
            nn.Linear(2 * c * 7 * 7, 1),
        )
        self.reader = CategoryReader(2 * c * 7 * 7, config.categories) if config.categories else None

    def inputs(self, images, labels):
        if self.label_map is not None:
            images = torch.cat([images, self.label_map(labels).view(-1, 1, 28, 28)], dim=1)
        return images


class DCGAN(GAN):
    """Deep Convolutional GAN for 28x28 images."""

    arch = "dcgan"
    title = "DCGAN"
    Config = DCGANConfig

    def describe(self):
        n = self.config.extra_layers
        deeper = f", {n} extra 3x3 conv layer{'s' if n > 1 else ''} per resolution" if n else ""
        return super().describe() + deeper

    def __init__(self, config):
        super().__init__(config, DCGANGenerator(config), DCGANDiscriminator(config))
