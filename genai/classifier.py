"""A small CNN that recognizes MNIST digits: the judge behind genai's metrics.

Papers measure generated images with a network trained on ImageNet (Inception).
For 28x28 digits a small digit classifier does the same job better and runs in
a second on a laptop:

    image (1x28x28) -> conv 3x3, 32 -> ReLU -> max-pool   (32 x 14 x 14)
                    -> conv 3x3, 64 -> ReLU -> max-pool   (64 x 7 x 7)
                    -> linear 3136 -> 128 -> ReLU          <- features(): the penultimate layer
                    -> linear 128 -> 10                    <- logits; softmax = probabilities()

It trains with genai's ONE training loop (genai.train.train), like the GANs and
VAEs: it has configure_optimizers(lr) and training_step(images, labels, optimizers).

It learns from the 60,000 MNIST training images only (with random shifts of up to
2 pixels, so it does not depend on where exactly a digit sits); its accuracy is
measured on the 10,000 test images, which are also the reference every figure of
genai.metrics is measured against. Each batch also carries some non-digit "junk"
(noise, speckles, blobs) labelled "every digit 1/10": without it, the network
calls pure noise a confident 8, and a generator drawing noise would look
"recognizable".

The shipped classifier lives in checkpoints/classifier/ (config.json +
model.safetensors + README.md); default_classifier() loads it once.
"""

import functools
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import __version__
from .checkpoints import CONFIG_FILE, CheckpointError, load_weights_into, write_folder
from .images import to_unit
from .models import build_seeded
from .train import TrainSettings, train, training_record

FAMILY = "classifier"  # the "family" in config.json: not a generative model, so load_model refuses it
ARCH = "cnn"
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "checkpoints" / "classifier"


@dataclass
class ClassifierConfig:
    channels: int = 32  # first conv layer; the second has twice as many
    hidden: int = 128  # size of the penultimate layer (the features used for FID)
    num_classes: int = 10
    dropout: float = 0.3  # only while training
    max_shift: int = 2  # training augmentation: random shifts of up to this many pixels
    junk_share: float = 0.25  # outlier exposure: non-digit images added to each batch, as a share of it
    junk_weight: float = 0.5  # weight of the "say I don't know on non-digits" loss

    def to_dict(self):
        return asdict(self)


class DigitClassifier(nn.Module):
    """conv 32 -> conv 64 -> fc 128 (features) -> 10 classes. Images: float (N, 1, 28, 28) in [0, 1]."""

    family = FAMILY
    arch = ARCH
    title = "CNN digit classifier"
    default_lr = 1e-3
    loss_names = ("loss", "accuracy", "junk p_max")

    def __init__(self, config=None):
        super().__init__()
        self.config = config or ClassifierConfig()
        c, hidden = self.config.channels, self.config.hidden
        self.convolutions = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 7
            nn.Flatten(),
        )
        self.hidden = nn.Sequential(nn.Linear(2 * c * 7 * 7, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, self.config.num_classes)

    def body(self, images, rng=None):
        """The penultimate features (N, hidden); with rng (training only), dropout before each linear layer."""
        return self.hidden(self.dropout(self.convolutions(images), rng))

    def forward(self, images, rng=None):
        """Logits (N, 10)."""
        return self.head(self.dropout(self.body(images, rng), rng))

    def dropout(self, features, rng):
        """Inverted dropout drawn from the run's generator: zero a share p of features, scale the rest by 1/(1-p)."""
        p = self.config.dropout
        if rng is None or not self.training or p == 0:
            return features
        keep = torch.rand(features.shape, device=features.device, generator=rng) >= p
        return features * keep / (1 - p)

    # --- what the training loop needs ---------------------------------------------------------

    def configure_optimizers(self, lr):
        return {"classifier": torch.optim.Adam(self.parameters(), lr=lr)}

    def training_step(self, images, labels, optimizers, rng):
        """One update on a batch of digits plus some junk (non-digit) images.

            loss = CE(digits, labels) + junk_weight * CE(junk, uniform)

        The digits are shifted at random by up to max_shift pixels. The second term is
        "outlier exposure" (Hendrycks et al. 2019): on noise, speckles and blobs the target is
        1/10 for every class, so the classifier learns to say "not sure" instead of calling
        noise a confident 8. That keeps the "recognizable share" of a bad generator honest.
        """
        n = len(images)
        junk = junk_images(round(n * self.config.junk_share), images.device, rng)
        logits = self(torch.cat([random_shift(images, self.config.max_shift, rng), junk]), rng)
        digit_logits, junk_logits = logits[:n], logits[n:]
        digit_loss = F.cross_entropy(digit_logits, labels)
        junk_loss = -F.log_softmax(junk_logits, dim=1).mean() if len(junk) else torch.zeros((), device=images.device)
        loss = digit_loss + self.config.junk_weight * junk_loss
        optimizers["classifier"].zero_grad(set_to_none=True)
        loss.backward()
        optimizers["classifier"].step()
        accuracy = (digit_logits.detach().argmax(dim=1) == labels).float().mean()
        junk_confidence = torch.softmax(junk_logits.detach(), dim=1).amax(dim=1).mean() if len(junk) else accuracy * 0
        return {"loss": digit_loss.detach(), "accuracy": accuracy, "junk p_max": junk_confidence}

    # --- what the metrics need -----------------------------------------------------------------

    @torch.no_grad()
    def features(self, images):
        """The 128 penultimate activations per image: (N, 128). Used like Inception's pool features in FID."""
        return self.inference(self.body, images)

    @torch.no_grad()
    def probabilities(self, images):
        """p(digit | image): softmax of the logits, (N, 10); each row sums to 1."""
        return torch.softmax(self.inference(self, images), dim=1)

    def inference(self, network, images, batch_size=1000):
        """Run network in eval mode (no dropout) in batches, on this model's device; returns CPU floats."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        outputs = [network(images[i:i + batch_size].to(device=device, dtype=torch.float32)).cpu()
                   for i in range(0, len(images), batch_size)]
        self.train(was_training)
        return torch.cat(outputs) if outputs else torch.zeros(0)

    def describe(self):
        params = sum(p.numel() for p in self.parameters())
        return f"{self.title}, {params / 1e6:.2f}M parameters"


def random_shift(images, max_shift, rng=None):
    """Move each image by its own random (dx, dy) in [-max_shift, max_shift], filling with black.

    Pad by max_shift on every side, then cut a 28x28 window at a random offset of each image.
    """
    if max_shift <= 0:
        return images
    n, _, height, width = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n, 1), device=images.device, generator=rng)
    dx = torch.randint(0, 2 * max_shift + 1, (n, 1), device=images.device, generator=rng)
    rows = (dy + torch.arange(height, device=images.device))[:, :, None]  # (n, 28, 1)
    cols = (dx + torch.arange(width, device=images.device))[:, None, :]  # (n, 1, 28)
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded[batch, 0, rows, cols].unsqueeze(1)


def junk_images(n, device="cpu", rng=None):
    """n images that are not digits, float (n, 1, 28, 28) in [0, 1], for outlier exposure.

    A third each: pixel noise of random brightness, sparse white speckles, and smooth
    random blobs (noise blurred by a 7x7 average, then thresholded at a random level).
    """
    brightness = torch.rand(n, 1, 1, 1, device=device, generator=rng)
    noise = torch.rand(n, 1, 28, 28, device=device, generator=rng)
    speckles = (torch.rand(n, 1, 28, 28, device=device, generator=rng) < 0.3 * brightness).float()
    smooth = F.avg_pool2d(torch.rand(n, 1, 28, 28, device=device, generator=rng), 7, stride=1, padding=3)
    low, high = smooth.amin(dim=(2, 3), keepdim=True), smooth.amax(dim=(2, 3), keepdim=True)
    smooth = (smooth - low) / (high - low + 1e-6)
    blobs = torch.sigmoid(12 * (smooth - 0.4 - 0.4 * brightness))
    kind = (torch.arange(n, device=device) % 3).view(n, 1, 1, 1)
    return torch.where(kind == 0, noise * brightness, torch.where(kind == 1, speckles, blobs))


# --- the data -----------------------------------------------------------------------------------


def check_mnist_split(dataset, split):
    """The classifier learns from MNIST's train split and is measured on its test split: refuse anything else."""
    if dataset.name != "mnist" or dataset.split != split:
        raise CheckpointError(
            f"The classifier needs the MNIST {split} split here; got {dataset.describe()}. "
            f"Load it with load_dataset('mnist', split={split!r})."
        )


@torch.no_grad()
def accuracy(model, images, labels):
    """Share of images whose most probable digit is the true label. images: uint8 (N, 28, 28) or float."""
    probs = model.probabilities(as_float_images(images))
    return float((probs.argmax(dim=1) == labels.cpu()).float().mean())


as_float_images = to_unit  # the name the metrics and tests know


def train_classifier(train_set, test_set, epochs=15, seed=0, device="cpu", progress=None, **how):
    """Train a fresh classifier on train_set (MNIST train split); measure it on test_set (test split).

    Returns (model, facts): facts holds the test and train accuracy and the training record.
    progress: an optional function called with every TrainEvent. how: recorded as is (e.g. command=...).
    """
    check_mnist_split(train_set, "train")
    check_mnist_split(test_set, "test")
    model = build_seeded(seed, DigitClassifier).to(device)
    settings = TrainSettings(epochs=epochs, batch_size=64, seed=seed, preview_images=0)
    last = None
    for event in train(model, train_set.to(device), settings):
        last = event
        if progress is not None:
            progress(event)
    model.eval()
    facts = {
        "test_accuracy": accuracy(model, test_set.images, test_set.labels),
        "train_accuracy": accuracy(model, train_set.images, train_set.labels),
        "test_images": len(test_set),
        "training": training_record(
            train_set, settings, device, last, model.default_lr,
            augmentation=f"random shifts of up to {model.config.max_shift} px", **how,
        ),
    }
    return model, facts


# --- saving and loading ------------------------------------------------------------------------


def save_classifier(model, directory, facts):
    """Write config.json + model.safetensors + README.md (a model card) to a new folder, atomically."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise CheckpointError(f"{directory} already exists and is not empty; choose a new folder (nothing was overwritten).")
    metadata = {
        "family": FAMILY,
        "arch": ARCH,
        "config": model.config.to_dict(),
        "dataset": "mnist",
        "accuracy": {"test": round(facts["test_accuracy"], 4), "train": round(facts["train_accuracy"], 4),
                     "test_images": facts["test_images"]},
        "steps": facts["training"]["steps"],
        "training": facts["training"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "genai_version": __version__,
    }
    files = {CONFIG_FILE: json.dumps(metadata, indent=2) + "\n", "README.md": model_card(model, metadata)}
    return write_folder(directory, model, files)


def model_card(model, metadata):
    """README.md of a classifier folder: what it is, how it was trained, how well it does."""
    config, training, accuracy = model.config, metadata["training"], metadata["accuracy"]
    lines = [
        "# MNIST digit classifier (genai metrics)",
        "",
        "A small CNN that genai uses to judge generated digits: its penultimate layer gives the features",
        "for classifier-FID; its probabilities give the classifier Inception Score and the \"recognizable",
        "share\". It is not a generative model, so it is not offered as one in the app.",
        "",
        f"- **Test accuracy: {100 * accuracy['test']:.2f}%** on the {accuracy['test_images']:,} MNIST test images "
        f"(never used in training; train accuracy {100 * accuracy['train']:.2f}%).",
        f"- Architecture: {model.describe()}: conv 3x3 ({config.channels}) -> max-pool -> conv 3x3 "
        f"({2 * config.channels}) -> max-pool -> linear {config.hidden} (the features) -> 10 classes, "
        f"dropout {config.dropout:g} while training.",
        f"- Data: the MNIST train split only ({training['images']:,} images), shifted at random by up to "
        f"{config.max_shift} pixels. The test split is what genai's figures are measured against.",
        f"- Outlier exposure: each batch also holds {config.junk_share:.0%} non-digit images (noise, speckles, "
        f"blobs) whose target is 1/10 for every digit (weight {config.junk_weight:g}), so the classifier is "
        "not confident about things that are not digits.",
        f"- Training: {training['epochs']} epochs of batch {training['batch_size']}, Adam, learning rate "
        f"{training['lr']:g}, seed {training['seed']}: {training['steps']:,} steps in {training['seconds']} s "
        f"on {training['device']}.",
        f"- Reproduce: `{training.get('command', '')}`",
        "",
        "MNIST is by Yann LeCun, Corinna Cortes and Christopher Burges (CC BY-SA 3.0).",
    ]
    return "\n".join(lines) + "\n"


def load_classifier(directory, device="cpu"):
    """Rebuild the classifier of a folder written by save_classifier; returns it in eval mode, frozen."""
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(f"No classifier at {directory}: {CONFIG_FILE} is missing. Train one with "
                              "`python -m genai train-classifier --out DIR`.")
    try:
        metadata = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{config_path} is not valid JSON ({error}).") from None
    if not isinstance(metadata, dict) or metadata.get("family") != FAMILY:
        raise CheckpointError(f"{directory} does not hold a genai digit classifier (family is not {FAMILY!r}).")
    try:
        model = DigitClassifier(ClassifierConfig(**metadata.get("config", {})))
    except TypeError as error:
        raise CheckpointError(f"{config_path} describes a classifier genai cannot build: {error}") from None
    load_weights_into(model, directory)
    model.metadata = metadata
    return model.to(device).eval().requires_grad_(False)


@functools.lru_cache(maxsize=None)
def _shipped(device):
    return load_classifier(SHIPPED_DIR, device)


def default_classifier(device="cpu"):
    """The classifier shipped in checkpoints/classifier, loaded once per device and shared (read-only)."""
    return _shipped(str(torch.device(device)))
