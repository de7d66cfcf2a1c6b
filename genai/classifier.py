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

Only the 10,000-image MNIST test split exists on the project's machines, so the
classifier holds out a FIXED, seeded set of 2,000 of those images to measure its
accuracy and trains on the other 8,000 (with random shifts of up to 2 pixels, so
it does not depend on where exactly a digit sits). Each batch also carries some
non-digit "junk" (noise, speckles, blobs) labelled "every digit 1/10": without it,
the network calls pure noise a confident 8, and a generator drawing noise would
look "recognizable".

The shipped classifier lives in checkpoints/classifier/ (config.json +
model.safetensors + README.md); default_classifier() loads it once.
"""

import dataclasses
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
from .train import TrainSettings, train

FAMILY = "classifier"  # the "family" in config.json: not a generative model, so load_model refuses it
ARCH = "cnn"
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "checkpoints" / "classifier"
HELD_OUT_SEED = 0
HELD_OUT_COUNT = 2000
MNIST_TEST_SIZE = 10_000


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
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 7
            nn.Flatten(),
            nn.Dropout(self.config.dropout),
            nn.Linear(2 * c * 7 * 7, hidden), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(self.config.dropout), nn.Linear(hidden, self.config.num_classes))

    def forward(self, images):
        """Logits (N, 10)."""
        return self.head(self.body(images))

    # --- what the training loop needs ---------------------------------------------------------

    def configure_optimizers(self, lr):
        return {"classifier": torch.optim.Adam(self.parameters(), lr=lr)}

    def training_step(self, images, labels, optimizers):
        """One update on a batch of digits plus some junk (non-digit) images.

            loss = CE(digits, labels) + junk_weight * CE(junk, uniform)

        The digits are shifted at random by up to max_shift pixels. The second term is
        "outlier exposure" (Hendrycks et al. 2019): on noise, speckles and blobs the target is
        1/10 for every class, so the classifier learns to say "not sure" instead of calling
        noise a confident 8. That keeps the "recognizable share" of a bad generator honest.
        """
        n = len(images)
        junk = junk_images(round(n * self.config.junk_share), images.device)
        logits = self(torch.cat([random_shift(images, self.config.max_shift), junk]))
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


def random_shift(images, max_shift):
    """Move each image by its own random (dx, dy) in [-max_shift, max_shift], filling with black.

    Pad by max_shift on every side, then cut a 28x28 window at a random offset of each image.
    """
    if max_shift <= 0:
        return images
    n, _, height, width = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n, 1), device=images.device)
    dx = torch.randint(0, 2 * max_shift + 1, (n, 1), device=images.device)
    rows = (dy + torch.arange(height, device=images.device))[:, :, None]  # (n, 28, 1)
    cols = (dx + torch.arange(width, device=images.device))[:, None, :]  # (n, 1, 28)
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded[batch, 0, rows, cols].unsqueeze(1)


def junk_images(n, device="cpu"):
    """n images that are not digits, float (n, 1, 28, 28) in [0, 1], for outlier exposure.

    A third each: pixel noise of random brightness, sparse white speckles, and smooth
    random blobs (noise blurred by a 7x7 average, then thresholded at a random level).
    """
    brightness = torch.rand(n, 1, 1, 1, device=device)
    noise = torch.rand(n, 1, 28, 28, device=device)
    speckles = (torch.rand(n, 1, 28, 28, device=device) < 0.3 * brightness).float()
    smooth = F.avg_pool2d(torch.rand(n, 1, 28, 28, device=device), 7, stride=1, padding=3)
    low, high = smooth.amin(dim=(2, 3), keepdim=True), smooth.amax(dim=(2, 3), keepdim=True)
    smooth = (smooth - low) / (high - low + 1e-6)
    blobs = torch.sigmoid(12 * (smooth - 0.4 - 0.4 * brightness))
    kind = (torch.arange(n, device=device) % 3).view(n, 1, 1, 1)
    return torch.where(kind == 0, noise * brightness, torch.where(kind == 1, speckles, blobs))


# --- the held-out images -----------------------------------------------------------------------


def held_out_indices(n_images=MNIST_TEST_SIZE, count=HELD_OUT_COUNT, seed=HELD_OUT_SEED):
    """The sorted indices of the images kept aside for measuring accuracy: a seeded random choice."""
    order = torch.randperm(n_images, generator=torch.Generator().manual_seed(seed))
    return order[:count].sort().values


def split_held_out(dataset, indices):
    """(training part, held-out part) of a genai.data.Dataset, as two Datasets."""
    held_out = torch.zeros(len(dataset), dtype=torch.bool)
    held_out[indices] = True

    def part(mask):
        return dataclasses.replace(dataset, images=dataset.images[mask], labels=dataset.labels[mask])

    return part(~held_out), part(held_out)


def check_mnist_test_split(dataset):
    if dataset.name != "mnist" or tuple(dataset.splits) != ("test",) or len(dataset) != MNIST_TEST_SIZE:
        raise CheckpointError(
            f"The classifier is trained on the MNIST test split (10,000 images); got {dataset.describe()}. "
            "Load it with load_dataset('mnist', split='test')."
        )


@torch.no_grad()
def accuracy(model, images, labels):
    """Share of images whose most probable digit is the true label. images: uint8 (N, 28, 28) or float."""
    probs = model.probabilities(as_float_images(images))
    return float((probs.argmax(dim=1) == labels.cpu()).float().mean())


def as_float_images(images):
    """uint8 (N, 28, 28) [0, 255] or float (N, 1, 28, 28) [0, 1], tensor or numpy -> float (N, 1, 28, 28) in [0, 1]."""
    images = torch.as_tensor(images)
    if images.dtype == torch.uint8:
        images = images.float() / 255
    if images.dim() == 3:
        images = images.unsqueeze(1)
    return images.float()


def train_classifier(dataset, epochs=15, seed=0, device="cpu", progress=None):
    """Train a fresh classifier on the 8,000 non-held-out test images; returns (model, facts).

    dataset: the MNIST test split (load_dataset("mnist", split="test")). progress: an optional
    function called with every TrainEvent. facts holds the held-out accuracy and indices.
    """
    check_mnist_test_split(dataset)
    indices = held_out_indices(len(dataset))
    train_part, held_out = split_held_out(dataset, indices)
    torch.manual_seed(seed)
    model = DigitClassifier().to(device)
    settings = TrainSettings(epochs=epochs, batch_size=64, seed=seed, preview_images=0)
    last = None
    for event in train(model, train_part.to(device), settings):
        last = event
        if progress is not None:
            progress(event)
    model.eval()
    facts = {
        "held_out_accuracy": accuracy(model, held_out.images, held_out.labels),
        "train_accuracy": accuracy(model, train_part.images, train_part.labels),
        "steps": last.step,
        "training": {
            "epochs": epochs, "batch_size": settings.batch_size, "lr": model.default_lr, "seed": seed,
            "augmentation": f"random shifts of up to {model.config.max_shift} px", "images": len(train_part),
            "device": str(device), "seconds": round(last.elapsed_seconds, 1), "stopped": last.reason,
        },
        "held_out": {"split": "test", "seed": HELD_OUT_SEED, "count": len(indices), "indices": indices.tolist()},
    }
    return model, facts


# --- saving and loading ------------------------------------------------------------------------


def save_classifier(model, directory, facts, command=""):
    """Write config.json + model.safetensors + README.md (a model card) to a new folder, atomically."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise CheckpointError(f"{directory} already exists and is not empty; choose a new folder (nothing was overwritten).")
    metadata = {
        "family": FAMILY,
        "arch": ARCH,
        "config": model.config.to_dict(),
        "dataset": "mnist",
        "accuracy": {"held_out": round(facts["held_out_accuracy"], 4), "train": round(facts["train_accuracy"], 4)},
        "steps": facts["steps"],
        "training": {**facts["training"], "command": command},
        "held_out": facts["held_out"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "genai_version": __version__,
    }
    files = {CONFIG_FILE: metadata_json(metadata), "README.md": model_card(model, metadata)}
    return write_folder(directory, model, files)


def metadata_json(metadata):
    """JSON with two-space indents, but the 2,000 held-out indices on one line."""
    indices = metadata["held_out"]["indices"]
    marker = "__HELD_OUT_INDICES__"
    text = json.dumps({**metadata, "held_out": {**metadata["held_out"], "indices": marker}}, indent=2)
    return text.replace(f'"{marker}"', json.dumps(indices)) + "\n"


def model_card(model, metadata):
    """README.md of a classifier folder: what it is, how it was trained, how well it does."""
    config, training, held_out = model.config, metadata["training"], metadata["held_out"]
    lines = [
        "# MNIST digit classifier (genai metrics)",
        "",
        "A small CNN that genai uses to judge generated digits: its penultimate layer gives the features",
        "for classifier-FID; its probabilities give the classifier Inception Score and the \"recognizable",
        "share\". It is not a generative model, so it is not offered as one in the app.",
        "",
        f"- **Held-out accuracy: {100 * metadata['accuracy']['held_out']:.2f}%** on {held_out['count']:,} MNIST "
        "test images never used in training.",
        f"- Architecture: {model.describe()}: conv 3x3 ({config.channels}) -> max-pool -> conv 3x3 "
        f"({2 * config.channels}) -> max-pool -> linear {config.hidden} (the features) -> 10 classes.",
        f"- Data: the MNIST test split (10,000 images, the only MNIST images on the project's machines). "
        f"{held_out['count']:,} of them, chosen with seed {held_out['seed']}, are held out (their indices are in "
        f"config.json); the other {MNIST_TEST_SIZE - held_out['count']:,} train the network, shifted at random "
        f"by up to {config.max_shift} pixels.",
        f"- Outlier exposure: each batch also holds {config.junk_share:.0%} non-digit images (noise, speckles, "
        f"blobs) whose target is 1/10 for every digit (weight {config.junk_weight:g}), so the classifier is "
        "not confident about things that are not digits.",
        f"- Training: {training['epochs']} epochs of batch {training['batch_size']}, Adam, learning rate "
        f"{training['lr']:g}, seed {training['seed']}: {metadata['steps']:,} steps in {training['seconds']} s "
        f"on {training['device']}.",
        f"- Reproduce: `{training['command']}`",
        "",
        "It has seen 8,000 digits rather than MNIST's 60,000 training images: good enough to judge",
        "samples (accuracy above), not a state-of-the-art MNIST model.",
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
