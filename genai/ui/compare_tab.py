"""The Compare tab: the same seed (and digit) through one model of every family, side by side.

Each model gets the seed's noise and draws a grid, as in the Sample tab; beside it, how long
that took on this server, and the figures its `eval` measured against the MNIST test split
(pretrained models: checkpoints/eval/<name>.json, made by checkpoints/train_all.sh).
"""

import time
from dataclasses import dataclass

import gradio as gr

from .. import environment
from ..device import describe
from ..models import FAMILIES
from ..sampling import MAX_SEED, grid, sample
from . import model_store, request_costs, settings
from .errors import AppError, friendly
from .gpu import on_gpu
from .inputs import DIGIT_CHOICES, NumberInput, SliderInput, digit_or_none, number_in, whole_number
from .pictures import enlarge, png_file
from .result_cache import ResultCache
from .session import pictures_folder

MAX_MODELS = 6
MAX_SIDE = 6
DISPLAY_SCALE = 2
RESULTS = ResultCache(max_bytes=environment.value("GENAI_COMPARE_CACHE_MB") * 2**20)


@dataclass
class CompareTab:
    models: gr.Dropdown
    seed: gr.Number
    grid_size: gr.Slider
    digit: gr.Radio
    temperature: gr.Slider
    button: gr.Button
    gallery: gr.Gallery
    table: gr.Markdown

    @property
    def inputs(self):
        return [self.models, self.seed, self.grid_size, self.digit, self.temperature]


def family_of(name, session):
    """(family, conditional) of a model, from its config.json (without loading its weights)."""
    metadata = model_store.metadata_of(name, session)
    return metadata.get("family"), bool(metadata.get("config", {}).get("conditional"))


def lineup(pairs, session):
    """One model of every family, in the registry's order: a conditional one where there is one
    (so the chosen digit applies), else the first of that family."""
    picked = {}
    for _, name in pairs:
        family, conditional = family_of(name, session)
        if family in FAMILIES and (family not in picked or (conditional and not picked[family][1])):
            picked[family] = (name, conditional)
    return [picked[family][0] for family in FAMILIES if family in picked]


def shipped_figures(name):
    """The figures `eval` measured for a pretrained model (its JSON in checkpoints/eval/), or None."""
    return model_store.measured_figures(name)


def likelihood_words(figures):
    if figures.get("nll_nats") is not None:
        return f"{figures['nll_nats']:.1f} nats (exact −log p)"
    if figures.get("negative_elbo") is not None:
        return f"≤ {figures['negative_elbo']:.1f} nats (−ELBO bound)"
    return "– (no likelihood)"


def figures_row(name, entry, seconds, figures):
    family = entry.model.family
    if figures is None:
        measured = "not measured yet (Evaluate tab) | | "
    else:
        measured = (f"{100 * figures['recognizable_share']:.1f}% | {figures['fid']:.1f} | "
                    f"{likelihood_words(figures)}")
    return f"| {name} | {family} | {entry.model.describe()} | {seconds:.2f} s | {measured} |"


def compare(names, seed, grid_size, digit, temperature, session):
    """Every chosen model draws from the same seed: gallery items (picture, caption) and a table of figures."""
    if isinstance(names, str):
        names = [names]
    names = [name for name in (names or []) if name]
    if not names:
        raise AppError("Choose at least one model to compare (one of every family is the default).")
    if len(names) > MAX_MODELS:
        raise AppError(f"Compare at most {MAX_MODELS} models at once, not {len(names)}.")
    seed = whole_number(seed, "The seed", 0, MAX_SEED)
    side = whole_number(grid_size, "The grid size", 1, MAX_SIDE)
    label = digit_or_none(digit)
    temperature = number_in(temperature, "The temperature", 0.1, 2.0)
    items, rows = [], []
    for name in dict.fromkeys(names):
        entry = model_store.find(name, session)
        model = entry.model
        asked = label if model.conditional else None
        count, columns = (side * 10, 10) if model.conditional and asked is None else (side * side, side)

        def draw():
            with request_costs.computing(model, count, what="digits"):
                start = time.perf_counter()
                images = sample(model, seed, count, labels=asked, temperature=temperature)
                seconds = time.perf_counter() - start
            return enlarge(grid(images, columns=columns), DISPLAY_SCALE), seconds

        picture, seconds = RESULTS.get_or_make((entry.token, seed, count, columns, asked, temperature), draw)
        # The caption is also the picture's text alternative (Gradio's gallery makes it the alt text): what it shows.
        caption = f"{name}: {count} sample{'s' if count != 1 else ''} of this {model.family} model, seed {seed}"
        if asked is not None:
            caption += f", all of digit {asked}"
        elif model.conditional:
            caption += ", one column per digit 0 to 9"
        if label is not None and not model.conditional:
            caption += " · not conditional: draws any digit"
        caption += f" · drawn in {seconds:.2f} s"
        items.append((png_file(picture, pictures_folder()), caption))
        rows.append(figures_row(name, entry, seconds, shipped_figures(name)))
    table = "\n".join([
        f"Seed **{seed}**, the same noise for every model. Time: drawing this grid on this server "
        f"({describe(model_store.app_device())}), measured now. Figures: the model's own `eval` on 2,000 samples "
        "against the MNIST test split (pretrained models; measure yours in the Evaluate tab).",
        "",
        "| model | family | what it is | drawing time | recognizable | classifier-FID | likelihood |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ])
    return items, table


def build(initial_choices):
    """Lay out the Compare tab (inside an open gr.Tab) and return its widgets."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=280):
            models = gr.Dropdown(initial_choices, value=lineup(initial_choices, None), multiselect=True,
                                 max_choices=MAX_MODELS, label="Models (one of every family to start with)",
                                 elem_id="compare-models", allow_custom_value=True)
            seed = NumberInput(42, label=f"Seed (0 to {MAX_SEED:,}): the same noise for every model",
                               elem_id="compare-seed")
            grid_size = SliderInput(1, MAX_SIDE, value=2, step=1, label="Grid size (rows)")
            digit = gr.Radio(DIGIT_CHOICES, value="all", label="Digit (conditional models)")
            temperature = SliderInput(0.1, 2.0, value=1.0, step=0.05, label="Temperature (noise scale)")
            button = gr.Button("Compare", variant="primary", elem_id="compare-run")
        with gr.Column(scale=7, min_width=360):
            # style.py lets each grid keep its own shape, with its caption under it, and the gallery as tall as
            # its grids: four models at 1280 px show whole, without a scroll bar inside the gallery.
            gallery = gr.Gallery(label="The same seed, every family", columns=2, height="auto", object_fit="contain",
                                 elem_id="compare-gallery", elem_classes=["genai-digits", "genai-grid-gallery"])
            table = gr.Markdown(elem_id="compare-table")
    return CompareTab(models, seed, grid_size, digit, temperature, button, gallery, table)


def connect(tab, session):
    gr.on([tab.button.click, tab.seed.submit, tab.digit.change], on_gpu(friendly(compare)), tab.inputs + [session],
          [tab.gallery, tab.table], api_name="compare", concurrency_limit=settings.request_concurrency(),
          concurrency_id="sample", trigger_mode="always_last")


def refreshed(choices, current, session):
    """The models picker when the page opens or a model is trained: kept choices, or one of every family."""
    names = {name for _, name in choices}
    kept = [name for name in (current or []) if name in names]
    return gr.update(choices=choices, value=kept or lineup(choices, session))
