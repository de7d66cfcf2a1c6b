"""Which digits the live grid shows, as the metrics classifier reads them: mode collapse as it happens.

Each time a training run sends a preview (the fixed-noise grid: 64 images, 100 for a conditional
model), the shipped digit classifier (genai.classifier.default_classifier) reads every image of it,
and a bar chart shows the share of the grid it takes for each digit. A model that draws every
digit gets ten bars of about a tenth each; a GAN collapsing onto a few digits gets a few tall bars
(beside the D histogram, which shows why). Images the classifier is less than 90% sure about
(noise, early in a run, or a digit half drawn) go to the "?" bar instead of a digit they only
faintly resemble: the same threshold as the recognizable share of genai.metrics.

It is the Evaluate tab's class histogram (genai.metrics.class_histogram), taken on the grid the
class is watching; any family, since it only looks at the pictures. The classifier knows digits
only, so the chart is shown for MNIST runs, and not at all where no classifier is installed.
"""

import gradio as gr
import numpy as np
import pandas as pd

from ..checkpoints import CheckpointError
from ..classifier import default_classifier
from ..metrics import class_histogram, classifier_probabilities

SURE = 0.9  # below this probability an image counts as "?" (genai.metrics.confident_share's threshold)
UNSURE = "?"
ORDER = [str(digit) for digit in range(10)] + [UNSURE]
READ_DATASETS = ("mnist",)  # the classifier reads digits: other datasets get no chart


def digit_shares(images, classifier=None):
    """Share of the images (uint8 (N, 28, 28)) the classifier reads as each digit, and as "?":
    a table with one row per bar (digit, share), the shares adding up to 1."""
    probabilities = classifier_probabilities(images, classifier)
    sure = probabilities.max(axis=1) >= SURE
    counts = np.append(class_histogram(probabilities[sure]), np.count_nonzero(~sure))
    return pd.DataFrame({"digit": ORDER, "share": counts / max(len(probabilities), 1)})


def update(preview, dataset_name):
    """The chart's update for a new preview grid: shown with its shares, or hidden when it cannot be read."""
    if preview is None or dataset_name not in READ_DATASETS:
        return gr.update(value=None, visible=False)
    try:
        classifier = default_classifier()
    except (CheckpointError, FileNotFoundError):  # an install without checkpoints/classifier
        return gr.update(value=None, visible=False)
    return gr.update(value=digit_shares(np.asarray(preview), classifier), visible=True)


def build():
    """The bar chart (inside an open layout block); hidden until a run sends its first preview."""
    return gr.BarPlot(
        x="digit", y="share", label="Which digits the live samples are, as the digit classifier reads them",
        x_title="digit read (?: less than 90% sure)", y_title="share of the live grid",
        sort=ORDER, y_lim=[0, 1], visible=False, elem_id="train-digits",
        caption="The metrics classifier reads each image of the live grid: even bars, every digit is drawn; "
                "a few tall bars, the model draws only those (mode collapse).",
    )
