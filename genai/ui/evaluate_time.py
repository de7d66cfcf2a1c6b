"""How long the Evaluate tab takes for a model, measured on this server: the hint under "Samples to judge".

Drawing the samples is what differs between models: a GAN draws 1,000 digits in a fraction of a
second, a PixelCNN pixel by pixel for most of a minute (docs/benchmarks.md, "Evaluate: seconds per
1,000 samples"). So each model's own drawing is timed on a few samples, once, and remembered.
Judging the samples (the digit classifier over them and over as many real digits, then the Frechet
and kernel distances) costs about the same for every model: it is timed once, on random pictures.
A model's own figures (its likelihood on the test digits, its reconstructions) are timed on a few
pictures too: a PixelCNN's likelihood is a pass of the whole network over every test digit.
Once a model has been evaluated here, its real time replaces the estimate.
"""

import threading

import numpy as np
import torch

from .. import metrics
from . import request_costs
from .compute import compute_slot

FIGURES_PROBE = 20  # pictures a model's own figures are timed on (scaled to PER)
PER = 1000  # the hint speaks of seconds per this many samples
BATCH = 500  # metrics.generate_images draws this many samples per call

_lock = threading.Lock()
_figures = {}  # model token -> seconds of its own figures on PER test digits, from a probe
_measured = {}  # model token -> seconds a real evaluation took per PER samples
_judging = []  # [seconds to judge PER samples], once measured


def drawing_seconds(entry):
    """Seconds this model takes to draw PER samples here, in calls of BATCH, from its speed on this server
    (request_costs.py: two small draws timed once, then what its grids took): a GAN's cost is mostly per
    call (scaling one small draw up would make it look 50 times slower), a PixelCNN's per sample."""
    return request_costs.speed_outside_a_slot(entry.model).seconds(PER, calls=-(-PER // BATCH))


def figures_seconds(entry):
    """Seconds this model's own figures take on PER test digits here (its likelihood figure, and its
    reconstructions when it has an encoder), timed once on FIGURES_PROBE random pictures."""
    with _lock:
        known = _figures.get(entry.token)
    if known is None:
        model = entry.model
        pictures = (torch.rand(FIGURES_PROBE, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.5).float()
        labels = torch.zeros(FIGURES_PROBE, dtype=torch.long) if model.conditional else None
        with compute_slot(), torch.no_grad():
            _, seconds = request_costs.timed(model.likelihood, pictures, labels)
            if model.can_encode:
                seconds += request_costs.timed(metrics.reconstructions, model, pictures, labels)[1]
        known = seconds * PER / FIGURES_PROBE
        with _lock:
            _figures[entry.token] = known
    return known


def judging_seconds():
    """Seconds to judge PER samples here: what evaluate() does with them besides drawing them, timed once."""
    with _lock:
        if _judging:
            return _judging[0]
    pictures = np.random.default_rng(0).integers(0, 256, size=(PER, 28, 28), dtype=np.uint8)
    with compute_slot():
        features, features_seconds = request_costs.timed(metrics.classifier_features, pictures)
        _, probabilities_seconds = request_costs.timed(metrics.classifier_probabilities, pictures)
        _, frechet_seconds = request_costs.timed(metrics.frechet_distance, features, features[::-1])
        _, kernel_seconds = request_costs.timed(metrics.kernel_distance, features, features[::-1])
    # evaluate() takes the features of the samples, of the real reference and of a second real set (the
    # floor), the probabilities of two of them, and two Frechet and two kernel distances.
    seconds = 3 * features_seconds + 2 * (probabilities_seconds + frechet_seconds + kernel_seconds)
    with _lock:
        _judging[:] = [seconds]
    return seconds


def record(entry, samples, seconds):
    """Remember how long a real evaluation of this model took (the hint then says so)."""
    with _lock:
        _measured[entry.token] = seconds * PER / samples


def expected_seconds(entry, samples):
    """Seconds an evaluation of `samples` samples of this model should take here: its last one's pace, or the
    estimate (what its compute slot is told: genai/ui/compute.py)."""
    with _lock:
        measured = _measured.get(entry.token)
    if measured is None:
        measured = drawing_seconds(entry) + judging_seconds() + figures_seconds(entry)
    return measured * samples / PER


def hint(entry):
    """The line under "Samples to judge" for this model: its time per PER samples on this server."""
    with _lock:
        measured = _measured.get(entry.token)
    if measured is not None:
        return (f"More samples: steadier figures, slower. {entry.name} took {seconds_words(measured)} per "
                f"{PER:,} samples here last time.")
    drawing, judging = drawing_seconds(entry), judging_seconds() + figures_seconds(entry)
    return (f"More samples: steadier figures, slower. About {seconds_words(drawing + judging)} per {PER:,} samples "
            f"of {entry.name} on this server: drawing them {seconds_words(drawing)}, judging them "
            f"{seconds_words(judging)} (timed here).")


def seconds_words(seconds):
    """0.04 -> "0.04 s", 3.2 -> "3.2 s", 54.4 -> "54 s", 130 -> "2 min 10 s"."""
    if seconds >= 100:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
