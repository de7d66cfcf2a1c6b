"""The Sample tab: a seed slider that turns noise into digits, instantly.

The same seed always gives the same digits (genai.sampling draws the noise on the CPU
from that seed), so a class can compare notes: "seed 42 is a 3". Sampling takes a few
milliseconds, so every change of the seed, grid size, digit or temperature redraws the
grid at once.
"""

from dataclasses import dataclass

import gradio as gr

from ..sampling import MAX_SEED, grid, sample
from . import model_store, settings
from .compute import compute_slot
from .errors import friendly
from .gpu import on_gpu
from .inputs import DIGIT_CHOICES, NumberInput, SliderInput, digit_or_none, number_in, whole_number
from .pictures import enlarge, png_file
from .result_cache import ResultCache
from .session import pictures_folder

MAX_GRID_SIDE = 12
RESULTS = ResultCache(max_bytes=settings.env_int("GENAI_SAMPLE_CACHE_MB", 64) * 2**20)  # shared by every visitor
DISPLAY_SCALE = 2  # pixels per MNIST pixel in the picture sent to the browser (and the PNG download)


@dataclass
class SampleTab:
    picker: gr.Dropdown
    seed_slider: gr.Slider
    seed: gr.Number
    grid_size: gr.Slider
    digit: gr.Radio
    temperature: gr.Slider
    image: gr.Image
    info: gr.Markdown

    @property
    def inputs(self):
        return [self.picker, self.seed, self.grid_size, self.digit, self.temperature]


def sample_grid(model_name, seed, grid_size, digit, temperature, session):
    """A grid of digits drawn by a model from one seed, as a PIL image.

    Unconditional models draw grid_size x grid_size images. Conditional models draw the
    chosen digit, or, for "all", grid_size rows of the digits 0 to 9.
    """
    entry = model_store.find(model_name, session)
    seed = whole_number(seed, "The seed", 0, MAX_SEED)
    side = whole_number(grid_size, "The grid size", 1, MAX_GRID_SIDE)
    label = digit_or_none(digit) if entry.model.conditional else None
    if entry.model.conditional and label is None:
        count, columns = side * entry.model.config.num_classes, entry.model.config.num_classes
    else:
        count, columns = side * side, side
    temperature = number_in(temperature, "The temperature", 0.1, 2.0)

    def draw():
        with compute_slot():
            images = sample(entry.model, seed, count, labels=label, temperature=temperature)
        return enlarge(grid(images, columns=columns), DISPLAY_SCALE)

    picture = RESULTS.get_or_make(("sample", entry.token, seed, count, columns, label, temperature), draw)
    return png_file(picture, pictures_folder())


def model_info(model_name, session):
    """What the chosen model is, and whether the digit choice applies to it."""
    if not model_name:
        return model_store.no_models_message() if not model_store.choices(session) else "Choose a model.", gr.update()
    entry = model_store.find(model_name, session)
    about = model_store.summary(entry.metadata, entry.source)
    if entry.model.conditional:
        note = "Conditional: choose which digit it draws (**all** = one row of 0 to 9 per grid row)."
    else:
        note = "Not conditional: it decides by itself which digit to draw, so the digit choice does not apply."
    return f"**{entry.name}** — {about}. {note}", gr.update(interactive=entry.model.conditional)


def first_grid(model_name, seed, grid_size, digit, temperature, session):
    """The grid shown when the page opens; nothing (and no error) when no model exists yet."""
    if not model_name:
        return None
    return sample_grid(model_name, seed, grid_size, digit, temperature, session)


def build(initial_choices):
    """Lay out the Sample tab (inside an open gr.Tab) and return its widgets."""
    first = initial_choices[0][1] if initial_choices else None
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            picker = gr.Dropdown(
                initial_choices, value=first, label="Model", allow_custom_value=True, elem_id="sample-model",
                info=model_store.picker_info(initial_choices),
            )
            info = gr.Markdown(label="About this model", show_label=False, elem_classes=["genai-note"])
            seed_slider = gr.Slider(0, settings.SEED_SLIDER_MAX, value=42, step=1, label="Seed",
                                    elem_id="sample-seed-slider")
            seed = NumberInput(42, label=f"Seed (any whole number from 0 to {MAX_SEED:,})", elem_id="sample-seed")
            random_seed = gr.Button("Random seed", size="sm")
            grid_size = SliderInput(1, MAX_GRID_SIDE, value=8, step=1, label="Grid size (images per side)")
            digit = gr.Radio(DIGIT_CHOICES, value="all", label="Digit (conditional models)", interactive=False)
            temperature = SliderInput(0.1, 2.0, value=1.0, step=0.05, label="Temperature (noise scale)",
                                      info="Below 1: safer, more typical digits. Above 1: wilder ones.")
        with gr.Column(scale=6, min_width=360):
            image = gr.Image(label="Samples", format="png", type="pil", interactive=False, elem_id="sample-image",
                             elem_classes=["genai-digits"], buttons=["download", "fullscreen"], height=560)
            gr.Markdown("The same seed always draws the same digits — on any computer. Use the download button "
                        "above the grid to save it as a PNG.", elem_classes=["genai-note"])

    # The slider covers small seeds; the number box takes any 32-bit seed. They are kept in sync
    # in the browser, and the number box is what the sampler reads.
    seed_slider.input(None, seed_slider, seed, js="(s) => s", api_visibility="private", show_progress="hidden")
    seed.change(
        None, [seed, seed_slider], seed_slider, api_visibility="private", show_progress="hidden",
        js=f"(n, s) => (Number.isInteger(n) && n >= 0 && n <= {settings.SEED_SLIDER_MAX}) ? n : s",
    )
    random_seed.click(None, None, seed, js=f"() => Math.floor(Math.random() * {MAX_SEED + 1})",
                      api_visibility="private")
    return SampleTab(picker, seed_slider, seed, grid_size, digit, temperature, image, info)


def connect(tab, session):
    tab_inputs = tab.inputs + [session]
    gr.on(
        [tab.picker.change, tab.seed.change, tab.grid_size.change, tab.digit.change, tab.temperature.change],
        on_gpu(friendly(sample_grid)), tab_inputs, tab.image, api_name="sample", show_progress="hidden",
        trigger_mode="always_last", concurrency_limit=settings.request_concurrency(), concurrency_id="sample",
    )
    tab.picker.change(friendly(model_info), [tab.picker, session], [tab.info, tab.digit], api_name="model_info",
                      show_progress="hidden", concurrency_limit=None)
