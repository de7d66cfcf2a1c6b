"""What a training run costs in memory, estimated before it starts, and the check against a budget.

A run's memory is its model (the weights, their gradients, Adam's two moments, a moving average)
plus what one step keeps alive between the forward and the backward pass: every layer's activations,
for every image of the batch. So its peak is close to a straight line in the batch size,

    peak_mb = fixed_mb + per_image_mb * batch_size,

and the batch size a visitor types decides whether it is 100 MB or 10 GB. Both numbers were measured
for each architecture at the Train tab's settings (benchmarks/train_memory.py; the table and the fit are
in docs/benchmarks.md). A model of another size is scaled from there: its fixed part by its number of
weights, its per-image part by its width (channels, an LSTM's memory) and its depth (layers), each
relative to the measured model. The estimate is the line raised by the most it missed a measured point,
times SAFETY (a busier process's allocator holds more): every run measured used less than its estimate.

    check_fits("autoregressive", "lstm", {}, batch_size=1024, budget_mb=3072)
    # OverBudgetError: A batch of 1,024 images needs about ... MB to train this row-by-row LSTM, and this
    # server gives a run at most 3,072 MB. The largest batch that fits is ...: lower the batch size.

Nothing here runs a model: the weights are counted on PyTorch's "meta" device, so a refusal comes
at once, before the run waits for a slot.
"""

import math
from dataclasses import dataclass
from functools import lru_cache

from .models import model_class, weight_shapes
from .recipes import config_fields, form_defaults
from .settings import SETTINGS

# (family, arch) -> (fixed MB, MB per image, largest miss MB): the least-squares line through what one run
# added to a warm process training in a worker thread, at the Train tab's settings (conditional), over batches
# of 32 to 1,024, and the most a measured point lay above it (docs/benchmarks.md, "What a training run costs in memory").
MEASURED = {
    ("gan", "mlp"): (62.6, 0.0507, 2.8),
    ("gan", "dcgan"): (-5.2, 0.5621, 104.8),
    ("vae", "mlp"): (24.1, 0.0236, 5.3),
    ("vae", "conv"): (38.4, 0.2379, 28.4),
    ("diffusion", "unet"): (57.0, 1.0144, 104.9),
    ("autoregressive", "pixelcnn"): (521.8, 6.0591, 707.2),
    ("autoregressive", "lstm"): (39.1, 7.6183, 80.2),
}
# How the per-image part grows with a model's size, from models of other sizes measured the same way.
# WIDTH: every activation is as wide as this setting, so the part grows in proportion to it.
# DEPTH: each layer more (or less) adds (or takes) this share of the measured part.
# SWITCHES: a setting that, when on (above 0), multiplies the part (R1 differentiates D twice).
WIDTH = {("gan", "dcgan"): "channels", ("vae", "conv"): "channels", ("diffusion", "unet"): "channels",
         ("autoregressive", "pixelcnn"): "channels", ("autoregressive", "lstm"): "hidden_size"}
DEPTH = {("gan", "dcgan"): ("extra_layers", 0.65), ("diffusion", "unet"): ("extra_layers", 0.05),
         ("autoregressive", "pixelcnn"): ("layers", 0.26)}
SWITCHES = {("gan", "dcgan"): ("r1_gamma", 1.35), ("gan", "mlp"): ("r1_gamma", 1.35)}
BYTES_PER_WEIGHT = 20  # a float32 weight, its gradient, Adam's two moments and a moving average's copy
# Over the line raised by its largest miss: what a busier process adds (its allocator holds more). With it the
# estimate lies above every point measured, the other sizes included (docs/benchmarks.md).
SAFETY = 1.15
MB = 2**20


class OverBudgetError(ValueError):
    """A run estimated to need more memory than the server gives one run, with what would fit."""


@dataclass(frozen=True)
class RunCost:
    """A run's memory as a line in its batch size (safety margin included)."""

    fixed_mb: float
    per_image_mb: float

    def peak_mb(self, batch_size):
        return self.fixed_mb + self.per_image_mb * batch_size

    def largest_batch(self, budget_mb):
        """The largest batch whose peak fits in budget_mb (0 if not even one image fits)."""
        if self.per_image_mb <= 0:
            return SETTINGS["batch_size"].high if self.fixed_mb <= budget_mb else 0
        return max(0, math.floor((budget_mb - self.fixed_mb) / self.per_image_mb))


def run_cost(family, arch, options=None):
    """The RunCost of training this model: options are its config fields (channels, layers, ...), as
    create_model takes them; those not given are the Train tab's."""
    options = {name: value for name, value in (options or {}).items() if value is not None}
    reference = reference_sizes(family, arch)
    size = lambda name: options.get(name, reference.get(name, 0))  # noqa: E731
    fixed, per_image, miss = MEASURED[(family, arch)]
    fixed += miss + extra_weights(family, arch, options) * BYTES_PER_WEIGHT / MB
    if (family, arch) in WIDTH:
        name = WIDTH[(family, arch)]
        per_image *= size(name) / reference[name]
    if (family, arch) in DEPTH:
        name, share = DEPTH[(family, arch)]
        per_image *= max(share, 1 + share * (size(name) - reference[name]))
    if (family, arch) in SWITCHES:
        name, factor = SWITCHES[(family, arch)]
        per_image *= factor if size(name) > 0 else 1
    return RunCost(SAFETY * fixed, SAFETY * per_image)


@lru_cache(maxsize=None)
def reference_sizes(family, arch):
    """The size settings of the model the figures were measured with: what the Train tab builds."""
    return form_defaults(family, arch)


def extra_weights(family, arch, options):
    """How many more weights this model has than the one measured (0 for the Train tab's own sizes, without
    counting: a process counts its first model on the meta device slowly)."""
    reference = reference_sizes(family, arch)
    if all(reference.get(name) == value for name, value in options.items()):
        return 0
    return max(0, weight_count(family, arch, options) - weight_count(family, arch, {}))


def weight_count(family, arch, options):
    return _weight_count(family, arch, tuple(sorted(options.items())))


@lru_cache(maxsize=256)
def _weight_count(family, arch, options):
    """How many numbers the model's weights hold, counted without allocating them (the meta device)."""
    reference = reference_sizes(family, arch)
    config = {name: reference[name] for name in config_fields(family, arch) if name in reference} | dict(options)
    return sum(math.prod(shape) for shape in weight_shapes({"family": family, "arch": arch, "config": config}).values())


def check_fits(family, arch, options, batch_size, budget_mb):
    """Raise OverBudgetError, saying the largest batch that fits, if this run's estimate exceeds budget_mb.
    Returns the estimate in MB."""
    cost = run_cost(family, arch, options)
    peak = cost.peak_mb(batch_size)
    if peak <= budget_mb:
        return peak
    title = model_class(family, arch).title
    largest = min(cost.largest_batch(budget_mb), SETTINGS["batch_size"].high)
    if largest < SETTINGS["batch_size"].low:
        raise OverBudgetError(
            f"This {title} needs about {cost.peak_mb(SETTINGS['batch_size'].low):,.0f} MB to train even at a batch "
            f"of {SETTINGS['batch_size'].low}, and this server gives a run at most {budget_mb:,.0f} MB: "
            "choose a smaller model.")
    raise OverBudgetError(
        f"A batch of {batch_size:,} images needs about {peak:,.0f} MB to train this {title}, and this server gives "
        f"a run at most {budget_mb:,.0f} MB. The largest batch that fits is {largest:,}: lower the batch size.")
