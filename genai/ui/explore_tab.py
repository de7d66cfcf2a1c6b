"""The Explore tab: look inside a VAE.

- Reconstructions: real test digits next to what the VAE makes of them (encode to the
  mean code mu, decode). Works for every VAE.
- For a VAE with a 2-D latent space, two maps of that space: the *manifold*, a grid of
  digits decoded from evenly spaced codes (Gaussian quantiles, so each cell covers the
  same probability under N(0, I)), and a scatter plot of where the encoder puts the test
  digits, colored by their label. Similar digits land close together.

A GAN has no encoder, so none of this applies to it; the tab says so.

Below: draw your own digit (genai/ui/drawing.py).
"""

from dataclasses import dataclass

import gradio as gr
import pandas as pd
import torch

from ..sampling import decode, encode, grid, label_tensor, reconstruct
from . import datasets, drawing, model_store, settings
from .compute import compute_slot
from .errors import friendly
from .gpu import on_gpu
from .inputs import ONE_DIGIT_CHOICES, NumberInput, digit_or_none, whole_number
from .pictures import enlarge

RECONSTRUCTIONS = 10  # test digits shown, in one row, with their reconstructions below
MANIFOLD_SIDE = 20  # decoded codes per side of the manifold map
SCATTER_POINTS = 2000  # encoded test digits in the scatter plot


@dataclass
class ExploreTab:
    picker: gr.Dropdown
    seed: gr.Number
    digit: gr.Radio
    button: gr.Button
    outputs: list
    drawing: drawing.DrawingPanel

    @property
    def inputs(self):
        return [self.picker, self.seed, self.digit]


def pick_test_digits(count, seed, size):
    """count indices into the test split, chosen by seed (the same seed shows the same digits)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(size, generator=generator)[:count]


def reconstructions(model, images, labels):
    """Originals (top row) over their reconstructions (bottom row), as one PIL image."""
    rebuilt = reconstruct(model, images, labels if model.conditional else None)
    both = torch.cat([images, torch.from_numpy(rebuilt)]).numpy()
    return grid(both, columns=len(images))


def manifold(model, label):
    """Digits decoded from a MANIFOLD_SIDE x MANIFOLD_SIDE grid of 2-D codes over the Gaussian quantiles 5%..95%.

    z1 grows to the right, z2 grows upwards (as on a plot).
    """
    quantiles = torch.linspace(0.05, 0.95, MANIFOLD_SIDE)
    values = torch.special.ndtri(quantiles)  # the inverse of the standard normal CDF
    z2, z1 = torch.meshgrid(values.flip(0), values, indexing="ij")
    codes = torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)
    labels = label_tensor(model, label, len(codes)) if model.conditional else None
    return grid(decode(model, codes, labels), columns=MANIFOLD_SIDE)


def scatter_table(model, test, class_names):
    """Where the encoder puts the first SCATTER_POINTS test digits: columns z1, z2, label."""
    count = min(SCATTER_POINTS, len(test))
    codes = encode(model, test.images[:count], test.labels[:count] if model.conditional else None)
    labels = test.labels[:count]
    table = pd.DataFrame({
        "z1": codes[:, 0].numpy(), "z2": codes[:, 1].numpy(), "label": [class_names[int(k)] for k in labels],
        "order": labels.numpy(),
    })
    return table.sort_values("order", kind="stable").drop(columns="order")  # legend in label order 0..9


def explore(model_name, seed, digit, session):
    """Reconstructions, manifold, scatter plot and a note saying what applies to this model."""
    entry = model_store.find(model_name, session)
    model = entry.model
    if not model.can_encode:
        note = (
            f"**{entry.name}** ({model.title}) only turns noise into images: it has no encoder "
            "(image → code), so it cannot reconstruct digits or place them in latent space. "
            "Explore needs a model with an encoder (a VAE); Sample and Interpolate work with every model."
        )
        return None, None, None, note
    seed = whole_number(seed, "The seed", 0, 2**32 - 1)
    test = datasets.get(model_store.dataset_of(entry), split="test")
    chosen = pick_test_digits(RECONSTRUCTIONS, seed, len(test))
    with compute_slot():
        recon = enlarge(reconstructions(model, test.images[chosen], test.labels[chosen]), 3)
    if model.latent_dim != 2:
        note = (
            f"**{entry.name}** has a {model.latent_dim}-D latent space. Reconstructions work for every VAE; "
            "the latent map and the scatter plot need a 2-D latent space: train a VAE with latent size 2 "
            "(or pick a pretrained 2-D one, such as vae-2d)."
        )
        return recon, None, None, note
    label = digit_or_none(digit) if model.conditional else None
    label = 0 if model.conditional and label is None else label
    which = f" for the digit {label}" if model.conditional else ""
    note = (
        f"**{entry.name}** has a 2-D latent space, so we can draw all of it. Left: the digits it decodes{which} "
        "across the codes z = (z1, z2), z1 to the right and z2 upwards. Right: where the encoder puts "
        f"{min(SCATTER_POINTS, len(test)):,} test digits, colored by their label."
    )
    with compute_slot():
        table = scatter_table(model, test, list(test.class_names))
        latent_map = enlarge(manifold(model, label), 2)
    return recon, latent_map, table, note


def two_d_first(name, metadata):
    """Explore opens on a model with a 2-D code where there is one: only that one has a map of its code space."""
    return (metadata.get("config", {}).get("latent_dim") == 2,)


def build(initial_choices):
    first = model_store.preferred(initial_choices, None, needs_encoder=True, rank=two_d_first)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=260):
            picker = gr.Dropdown(
                initial_choices, value=first, label="Model", allow_custom_value=True, elem_id="explore-model",
                info=model_store.picker_info(initial_choices),
            )
            seed = NumberInput(0, label="Which test digits (a seed)")
            digit = gr.Radio(ONE_DIGIT_CHOICES, value="0", label="Digit for the map (conditional VAEs)")
            button = gr.Button("Explore", variant="primary", elem_id="explore-run")
            note = gr.Markdown(label="What applies", show_label=False, elem_id="explore-note")
        with gr.Column(scale=7, min_width=360):
            recon = gr.Image(label="Test digits (top) and their reconstructions (bottom)",
                             alt_text="Test digits in the top row, the model's reconstructions of them below",
                             format="png", type="pil",
                             interactive=False, elem_classes=["genai-digits"], elem_id="explore-recon", height=200)
            with gr.Row(equal_height=False):
                latent_map = gr.Image(label="The latent space, decoded",
                                      alt_text="The 2D latent space: the digit decoded at each point of a grid",
                                      format="png", type="pil", interactive=False,
                                      elem_classes=["genai-digits"], elem_id="explore-manifold", height=420)
                scatter = gr.ScatterPlot(x="z1", y="z2", color="label", label="Test digits in latent space",
                                         elem_id="explore-scatter")
    panel = drawing.build()
    return ExploreTab(picker=picker, seed=seed, digit=digit, button=button, outputs=[recon, latent_map, scatter, note],
                      drawing=panel)


def connect(tab, session, page):
    """Explore on a click, on a new model or digit, and when the tab is opened (`page`, its gr.Tab)."""
    gr.on(
        [tab.button.click, tab.picker.change, tab.digit.change, page.select], on_gpu(friendly(explore)),
        tab.inputs + [session], tab.outputs, api_name="explore", concurrency_id="encode",
        concurrency_limit=settings.request_concurrency(), show_progress="minimal",
        trigger_mode="always_last",
    )
    panel = tab.drawing
    reading = {"inputs": [tab.picker, panel.pad, session], "outputs": [panel.seen, panel.answer, panel.pictures],
               "concurrency_id": "encode", "concurrency_limit": settings.request_concurrency()}
    panel.button.click(on_gpu(friendly(drawing.read_drawing_in_place)), api_visibility="private",
                       show_progress="minimal", **reading)
    gr.on([], on_gpu(friendly(drawing.read_drawing)), api_name="encode_drawing", **reading)  # for API clients only
