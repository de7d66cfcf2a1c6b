"""Diffusion by flow matching: learn to turn noise into a digit, one small step at a time.

Draw a real image x0 (scaled to [-1, 1]) and pure noise eps ~ N(0, I) of the same shape, and
mix them along a straight line, t from 0 (image) to 1 (noise):

    x_t = (1 - t) * x0 + t * eps

Moving along that line, x_t changes with the velocity v = eps - x0. A network v(x_t, t) learns
to predict it from the mixture alone (flow matching / rectified flow: Lipman et al. 2023,
Liu et al. 2023):

    L = || v(x_t, t) - (eps - x0) ||^2        averaged over pixels, t ~ U(0, 1)

To draw a digit, start from noise at t = 1 and walk back to t = 0 with Euler steps of an
ordinary differential equation, which has no randomness of its own:

    x_{t - dt} = x_t - dt * v(x_t, t)

So the starting noise fixes the image: a seed gives the same digit every time, and two
seeds' noises can be interpolated (slerp) like a GAN's z. The model's "latent" is that noise,
784 numbers (latent_dim = 784). More steps are more accurate and slower.

Conditional models are also told the digit. During training the label is hidden (replaced by
a "no label" token) for a fraction label_dropout of the images, so the same network learns
both v(x, t | digit) and v(x, t). Sampling then uses classifier-free guidance (Ho & Salimans
2022), which pushes away from the unconditional answer:

    v = v(x, t) + guidance_scale * (v(x, t | digit) - v(x, t))

Guidance can be limited to an interval of t, guidance_t_min < t <= guidance_t_max, and the plain
conditional v(x, t | digit) used outside it (Kynkäänniemi et al. 2024). Near t = 1, where the
noise has not yet decided much, guidance pushes every sample of a digit towards the same shape;
near t = 0 it only sharpens strokes. Leaving both ends out keeps the variety and costs fewer
network passes. The default, 0 < t <= 1, guides every step.

An unconditional model has no label to guide by, but it can be guided by a bad version of itself
(autoguidance, Karras et al. 2024): a smaller UNet, trained for less time, whose errors are
the same kind as the model's but larger. Extrapolating away from it removes much of those errors:

    v = v_guide(x, t) + guidance_scale * (v(x, t) - v_guide(x, t))

Both are the same formula: guidance pushes from a weaker prediction towards a stronger one,
and guidance_scale = 1 is the model on its own. The guide is trained as a model of its own,
then stored inside the model's checkpoint (`python -m genai add-guide`); guide_channels and
guide_extra_layers give its shape, and 0 channels means no guide. A conditional model can be
guided the same way, by a smaller conditional model told the same digit, instead of by its own
unconditional answer. The interval of t above limits this guidance too: outside it the model
samples on its own, and the guide costs no pass.

With ema_decay > 0 the samples come from a moving average of the network's weights (as for the
GAN; see update_moving_average), which draws cleaner digits than the jittering network itself.

The network is a small UNet: 28 -> 14 -> 7 and back, with skip connections, residual blocks,
and the time t (and the label) added to every block as a learned embedding. extra_layers adds
residual blocks at 7x7, where the whole digit's shape is decided; each costs little (49 positions).
"""

import copy
import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import (FunctionalStep, GenerativeModel, ModelConfig, ModelError, batch_row, embed_labels, report,
                   update_moving_average)
from ..settings import SettingsError
from .settings_check import check_value

PIXELS = 28 * 28

EXPLANATION = r"""
### What is happening: a diffusion model (flow matching)

Take a real digit $x_0$ and pure noise $\epsilon \sim \mathcal{N}(0, I)$, and mix them:
$x_t = (1 - t)\, x_0 + t\, \epsilon$, from $t = 0$ (the digit) to $t = 1$ (noise).
A network $v_\theta(x_t, t)$ learns the direction from the digit to the noise:

$$L = \left\lVert v_\theta(x_t, t) - (\epsilon - x_0) \right\rVert^2$$

To draw, start from noise and walk back to $t = 0$ in small steps:
$x_{t - \Delta t} = x_t - \Delta t \, v_\theta(x_t, t)$. The walk has no randomness of its own,
so **the seed's noise fixes the digit**, as a GAN's $z$ does.

**Reading the curve.** The loss falls quickly and then slowly; it never reaches 0, because
near $t = 1$ the noise hides which digit it came from. Digits appear later than with a GAN:
give it a few minutes on a CPU.

**Conditional**: the network is also told the digit, and *classifier-free guidance* exaggerates
the difference the label makes: $v = v(x, t) + w \,(v(x, t \mid y) - v(x, t))$.

**Autoguidance**: a smaller, shorter-trained UNet makes the same kind of mistakes, only more;
pushing away from it removes many of them:
$v = v_{\text{guide}}(x, t) + w \,(v(x, t) - v_{\text{guide}}(x, t))$ (for a conditional model,
both told the digit, in place of classifier-free guidance).
"""


@dataclass
class DiffusionConfig(ModelConfig):
    latent_dim: int = PIXELS  # the starting noise: one number per pixel
    channels: int = 16  # width at 28x28; doubled at 14x14 and 7x7 (a multiple of 8)
    extra_layers: int = 0  # more residual blocks at 7x7, after the one every UNet has
    sampling_steps: int = 20  # Euler steps from noise to image
    guidance_scale: float = 2.0  # classifier-free guidance (conditional models); 1 = plain conditional
    guidance_t_min: float = 0.0  # guidance acts only while guidance_t_min < t <= guidance_t_max
    guidance_t_max: float = 1.0
    label_dropout: float = 0.1  # share of training images whose label is hidden (conditional models)
    guide_channels: int = 0  # autoguidance: the width of the smaller UNet that guides sampling; 0 = no guide
    guide_extra_layers: int = 0  # the guide's extra residual blocks at 7x7
    ema_decay: float = 0.0  # 0: sample with the network itself; e.g. 0.999: with a moving average of its weights


def flow_matching_loss(velocity, x0, eps):
    """L = mean || v - (eps - x0) ||^2: the velocity along the straight path from image to noise."""
    return F.mse_loss(velocity, eps - x0)


def time_embedding(t, dim):
    """Sinusoidal features of t in [0, 1] (as for positions in a Transformer): (N, dim)."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    angles = 1000 * t[:, None] * frequencies[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with the time/label embedding added in between, plus a shortcut."""

    def __init__(self, channels_in, channels_out, embedding_dim):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.embedding = nn.Linear(embedding_dim, channels_out)
        self.norm2 = nn.GroupNorm(8, channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        self.shortcut = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x, embedding):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.embedding(embedding)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.shortcut(x)


class UNet(nn.Module):
    """v(x_t, t, label): 28x28 -> 14x14 -> 7x7 and back up, with skip connections.

    Almost all the work happens at 14x14 and 7x7, so that drawing 64 digits in 20 steps (with
    guidance: 40 passes) stays quick on a CPU.
    """

    def __init__(self, config):
        super().__init__()
        c, e = config.channels, 4 * config.channels
        self.time = nn.Sequential(nn.Linear(c, e), nn.SiLU(), nn.Linear(e, e))
        # Label num_classes is "no label": what conditional models see when the label is hidden.
        self.label = nn.Embedding(config.num_classes + 1, e) if config.conditional else None
        self.stem = nn.Conv2d(1, c, 3, padding=1)  # 28x28
        self.down1 = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)  # -> 14x14
        self.block1 = ResidualBlock(2 * c, 2 * c, e)
        self.down2 = nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)  # -> 7x7
        self.middle = ResidualBlock(2 * c, 2 * c, e)
        self.extra_middle = nn.ModuleList(ResidualBlock(2 * c, 2 * c, e) for _ in range(config.extra_layers))
        self.up2 = nn.ConvTranspose2d(2 * c, 2 * c, 4, stride=2, padding=1)  # -> 14x14
        self.block2 = ResidualBlock(4 * c, 2 * c, e)  # with the skip from block1
        self.up1 = nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1)  # -> 28x28
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))

    def forward(self, x, t, labels=None):
        embedding = self.time(time_embedding(t, self.stem.out_channels))
        if self.label is not None:
            embedding = embedding + embed_labels(self.label, labels)
        h0 = self.stem(x)  # (N, c, 28, 28)
        h1 = self.block1(self.down1(h0), embedding)  # (N, 2c, 14, 14)
        h = self.middle(self.down2(h1), embedding)  # (N, 2c, 7, 7)
        for block in self.extra_middle:
            h = block(h, embedding)
        h = self.block2(torch.cat([self.up2(h), h1], dim=1), embedding)  # (N, 2c, 14, 14)
        return self.out(self.up1(h) + h0)  # (N, 1, 28, 28)


class FlowMatchingUNet(GenerativeModel):
    """A small UNet trained by flow matching; sampling walks an ODE from the seed's noise."""

    family = "diffusion"
    arch = "unet"
    title = "diffusion UNet"
    good_for = "clean digits, drawn in many small steps: slower"
    draws_in_one_pass = False
    Config = DiffusionConfig
    default_lr = 5e-4
    loss_names = ("loss",)
    plotted_losses = ("loss",)
    explanation = EXPLANATION
    loss_functions = (flow_matching_loss,)  # shown beside the formulas in the Train tab

    def describe(self):
        n = self.config.extra_layers
        deeper = f", {n} extra residual block{'s' if n > 1 else ''} at 7x7" if n else ""
        size = self.guide_parameter_count() / 1e6
        guided = f", autoguided by a {size:.2f}M-parameter UNet" if self.guide is not None else ""
        return super().describe() + deeper + guided

    def __init__(self, config):
        if config.latent_dim != PIXELS:
            raise ModelError(f"A diffusion model starts from noise of one number per pixel: latent_dim must be "
                             f"{PIXELS}, not {config.latent_dim}.")
        if config.channels % 8:
            raise ModelError(f"A diffusion UNet's channels must be a multiple of 8 (GroupNorm), not {config.channels}.")
        if not config.guidance_t_min < config.guidance_t_max:
            raise ModelError(f"Guidance acts while guidance_t_min < t <= guidance_t_max, so guidance_t_min must be below "
                             f"guidance_t_max, not {config.guidance_t_min} and {config.guidance_t_max}.")
        if config.guide_channels % 8:
            raise ModelError(f"A guide UNet's channels must be a multiple of 8 (GroupNorm), not {config.guide_channels}.")
        super().__init__(config)
        self.unet = UNet(config)
        # The averaged network that draws the samples (a frozen copy, saved with the weights).
        self.unet_ema = copy.deepcopy(self.unet).requires_grad_(False) if config.ema_decay else None
        self.ema_updates = 0
        # Autoguidance: a smaller UNet, trained elsewhere and never updated here (see with_guide).
        self.guide = UNet(self.guide_config(config)).requires_grad_(False) if config.guide_channels else None

    @staticmethod
    def guide_config(config):
        """The config of the guide UNet: the model's, narrower (guide_channels)."""
        return dataclasses.replace(config, channels=config.guide_channels, extra_layers=config.guide_extra_layers,
                                   guide_channels=0, guide_extra_layers=0)

    def guide_parameter_count(self):
        """The guide UNet's size (0 without a guide)."""
        return sum(p.numel() for p in self.guide.parameters()) if self.guide is not None else 0

    def parameter_count(self):
        """What this model learns: the guide was learned by a run of its own, so it is not counted."""
        return super().parameter_count() - self.guide_parameter_count()

    def with_guide(self, guide, guidance_scale):
        """A copy of this model that samples with autoguidance by guide (another flow-matching UNet of the
        same kind, conditional or not, usually narrower and trained for less time): its sampling network is
        stored inside the copy, frozen. guide and self stay unchanged."""
        if not isinstance(guide, FlowMatchingUNet):
            raise ModelError(f"A diffusion model can only be guided by another diffusion model, not a {guide.title}.")
        if self.conditional != guide.conditional or (self.conditional and self.config.num_classes != guide.config.num_classes):
            raise ModelError("A model and its guide must be of the same kind: both unconditional, or both conditional "
                             "on the same digits.")
        if self.guide is not None or guide.guide is not None:
            raise ModelError("This model or the guide already has a guide: give the plain, unguided models.")
        try:
            check_value("guidance_scale", guidance_scale)
        except SettingsError as error:
            raise ModelError(str(error)) from None
        config = dataclasses.replace(self.config, guide_channels=guide.config.channels,
                                     guide_extra_layers=guide.config.extra_layers, guidance_scale=float(guidance_scale))
        guided = FlowMatchingUNet(config)  # checks the new settings
        device = next(self.parameters()).device
        guided.to(device)
        guided.load_state_dict({**self.state_dict(), **{f"guide.{name}": tensor for name, tensor
                                                         in guide.sampling_unet.state_dict().items()}})
        guided.ema_updates = self.ema_updates
        return guided.eval()

    @property
    def sampling_options(self):
        """Steps always; a guidance scale where there is something to guide by (a label or a guide UNet)."""
        guided = self.conditional or self.guide is not None
        return ("sampling_steps", "guidance_scale") if guided else ("sampling_steps",)

    @property
    def averaged_copy(self):
        return self.unet_ema

    @property
    def sampling_unet(self):
        return self.unet if self.unet_ema is None else self.unet_ema

    def configure_optimizers(self, lr):
        return {"unet": self.adam(self.unet.parameters(), lr)}

    def noised(self, x0, labels, rng):
        """A training batch's random part: t ~ U(0, 1), eps ~ N(0, I), x_t = (1 - t) x0 + t eps, and the
        labels the network is shown (a share label_dropout of them hidden): (t, eps, x_t, shown)."""
        n = x0.shape[0]
        t = torch.rand(n, device=x0.device, generator=rng)
        eps = torch.randn(x0.shape, device=x0.device, generator=rng)
        x_t = (1 - t)[:, None, None, None] * x0 + t[:, None, None, None] * eps
        shown = None
        if self.conditional:
            hidden = torch.rand(n, device=x0.device, generator=rng) < self.config.label_dropout
            shown = torch.where(hidden, torch.full_like(labels, self.config.num_classes), labels)
        return t, eps, x_t, shown

    def inspect_batch(self, images, labels, rng):
        """One batch noised and denoised, nothing updated: each digit's x_t and the network's guess of x0.

        From x_t = (1 - t) x0 + t eps and v = eps - x0 follows x0 = x_t - t v: the guess it implies.
        """
        x0 = images * 2 - 1
        t, eps, x_t, shown = self.noised(x0, labels, rng)
        v = self.unet(x_t, t, shown)
        guess = x_t - t[:, None, None, None] * v
        return report(
            {"loss": flow_matching_loss(v, x0, eps)},
            batch_row("Real digits x0", images),
            batch_row("Noised x_t, and t: how far along the path to noise", (x_t + 1) / 2, {"t": t}),
            batch_row("Its guess of the digit, x_t - t·v, and each image's loss", (guess + 1) / 2,
                      {"loss": (v - (eps - x0)).pow(2).flatten(1).mean(dim=1)}),
        )

    def functional_step(self):
        """training_step as pure functions (genai/stacked.py): t, eps and the hidden labels, the update, the average."""
        return FunctionalStep(noise=FlowMatchingUNet.step_noise, updates=(("unet", FlowMatchingUNet.update_loss),),
                              after_update=FlowMatchingUNet.update_ema)

    def step_noise(self, images, labels, rng):
        """training_step's random part, drawn as it draws it: (t, eps, x_t, the labels shown or None)."""
        return self.noised(images * 2 - 1, labels, rng)

    def update_loss(self, images, labels, noise):
        """training_step's loss as a pure function of the weights and its random part: (loss, losses)."""
        t, eps, x_t, shown = noise
        loss = flow_matching_loss(self.unet(x_t, t, shown), images * 2 - 1, eps)
        return loss, {"loss": loss.detach()}

    def update_ema(self):
        """unet_ema <- d * unet_ema + (1 - d) * unet, as training_step does after each update."""
        if self.unet_ema is not None:
            self.ema_updates = update_moving_average(self.unet_ema, self.unet, self.config.ema_decay, self.ema_updates)

    def training_step(self, images, labels, optimizers, rng):
        """One update of the flow-matching loss on real images in [0, 1]; rng draws t, eps and the hidden labels."""
        x0 = images * 2 - 1
        t, eps, x_t, shown = self.noised(x0, labels, rng)
        loss = flow_matching_loss(self.unet(x_t, t, shown), x0, eps)
        optimizers["unet"].zero_grad(set_to_none=True)
        loss.backward()
        optimizers["unet"].step()
        self.update_ema()
        return {"loss": loss.detach()}

    def velocity(self, x, t, labels, guidance_scale):
        """v(x, t): autoguidance for models with a guide, else classifier-free guidance for conditional models."""
        unet = self.sampling_unet
        if guidance_scale == 1 or (labels is None and self.guide is None):
            return unet(x, t, labels)
        if self.guide is not None:  # autoguidance: away from the weaker guide's answer (told the same digit)
            weak = self.guide(x, t, labels)
            return weak + guidance_scale * (unet(x, t, labels) - weak)
        nothing = torch.full((len(labels),), self.config.num_classes, device=labels.device)  # the "no label" token
        if labels.is_floating_point():  # a mix of digits: "no label" as weights too
            nothing = F.one_hot(nothing, self.config.num_classes + 1).to(labels.dtype)
            labels = F.pad(labels, (0, 1))
        both = unet(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, nothing]))
        conditional, unconditional = both.chunk(2)
        return unconditional + guidance_scale * (conditional - unconditional)

    def sampling_passes(self, sampling_steps=None, guidance_scale=None):
        """One pass of the UNet per step, and a second one (the unconditional answer, or the guide's) for
        each step that guidance steers. (A guide UNet is smaller: counted as a whole pass, an upper bound.)"""
        steps = self.config.sampling_steps if sampling_steps is None else int(sampling_steps)
        scale = self.config.guidance_scale if guidance_scale is None else float(guidance_scale)
        guided = 0
        if scale != 1 and (self.conditional or self.guide is not None):
            low, high = self.config.guidance_t_min, self.config.guidance_t_max
            guided = sum(low < i / steps <= high for i in range(1, steps + 1))
        return steps + guided

    def walk(self, z, labels, sampling_steps=None, guidance_scale=None):
        """Yield x_t after each Euler step from t = 1 (the noise z) to t = 0: (N, 1, 28, 28) in [-1, 1]-ish."""
        labels = self.check_labels(labels, z.shape[0], z.device)
        steps = self.config.sampling_steps if sampling_steps is None else int(sampling_steps)
        scale = self.config.guidance_scale if guidance_scale is None else float(guidance_scale)
        low, high = self.config.guidance_t_min, self.config.guidance_t_max
        x = z.reshape(-1, 1, 28, 28)
        yield x
        for i in range(steps, 0, -1):
            t = torch.full((x.shape[0],), i / steps, device=x.device)
            guided = low < i / steps <= high
            x = x - self.velocity(x, t, labels, scale if guided else 1) / steps
            yield x

    @torch.no_grad()
    def generate(self, z, labels=None, sampling_steps=None, guidance_scale=None):
        """Noise (N, 784) -> images (N, 1, 28, 28) in [0, 1], by sampling_steps Euler steps from t = 1 to 0."""
        for x in self.walk(z, labels, sampling_steps, guidance_scale):
            pass
        return ((x + 1) / 2).clamp(0, 1)

    @torch.no_grad()
    def drawing_frames(self, z, labels=None, count=16, sampling_steps=None, guidance_scale=None):
        """x_t from the noise (t = 1) to the digit (t = 0), at about `count` evenly spaced steps."""
        states = list(self.walk(z, labels, sampling_steps, guidance_scale))
        keep = sorted({round(i * (len(states) - 1) / max(count - 1, 1)) for i in range(count)})
        return [((states[i] + 1) / 2).clamp(0, 1) for i in keep]
