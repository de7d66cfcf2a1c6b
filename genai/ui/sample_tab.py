"""The Sample tab: a seed slider that turns noise into digits, instantly.

The same seed always gives the same digits (genai.sampling draws the noise on the CPU
from that seed), so a class can compare notes: "seed 42 is a 3". Sampling takes a few
milliseconds, so every change of the seed, grid size, digit or temperature redraws the
grid at once.

Models that draw in steps (a diffusion model walking from noise to a digit, an autoregressive
model filling in pixel by pixel) also show *how* they draw, as an animation, and a diffusion
model's number of steps and guidance scale can be changed here without retraining, or the same
digits drawn in 1, 2, 4 and the chosen number of steps side by side. An autoregressive model's grid
(a second or so) shows its rows as they are drawn.
"""

import time
from dataclasses import dataclass, replace

import gradio as gr
import numpy as np

from .. import environment
from ..sampling import (MAX_SEED, SAMPLING_SETTINGS, decode_in_parts, drawing, gif_bytes, grid, label_tensor,
                        model_device, seeded_latents, strip)
from ..settings import SETTINGS
from . import model_store, request_costs, settings
from .batching import draw_together
from .errors import AppError, friendly
from .gpu import on_gpu
from .inputs import DIGIT_CHOICES, NumberInput, SliderInput, digit_or_none, number_in, whole_number
from .pictures import enlarge, gif_file, png_file
from .result_cache import ResultCache
from .session import pictures_folder

MAX_GRID_SIDE = 12
RESULTS = ResultCache(max_bytes=environment.value("GENAI_SAMPLE_CACHE_MB") * 2**20)  # shared by every visitor
DISPLAY_SCALE = 2  # pixels per MNIST pixel in the picture sent to the browser (and the PNG download)
DRAWING_FRAMES = 24  # snapshots in the "how it draws" animation
MAX_DRAWING_SIDE = 4  # the animation shows at most this many rows (4 x 4 digits, or 4 rows of 0-9)
# A grid drawn pixel by pixel is shown while it fills in: first after FIRST_PART_SECONDS (issue 43: the first
# rows within 0.1 s, the request's own way there and back included: docs/benchmarks.md, "A PixelCNN's grid as
# it fills in"), then every PART_SECONDS (each picture sent costs the server its PNG and Gradio's handling).
FIRST_PART_SECONDS, PART_SECONDS = 0.05, 0.3
# Sampling settings a model may have (models list theirs in sampling_options): (label, low, high, step),
# the range the settings table's (genai/settings.py).
SAMPLING_CONTROLS = {
    name: (label, SETTINGS[name].low, SETTINGS[name].high, step) for name, (label, step) in zip(SAMPLING_SETTINGS, (
        ("Sampling steps (models that draw in steps)", 1),
        ("Guidance scale (guided diffusion; 1 = no guidance)", 0.1)), strict=True)
}


@dataclass
class SampleTab:
    picker: gr.Dropdown
    seed_slider: gr.Slider
    seed: gr.Number
    grid_size: gr.Slider
    digit: gr.Radio
    temperature: gr.Slider
    steps: gr.Slider
    guidance: gr.Slider
    image: gr.Image
    info: gr.Markdown
    animate: gr.Button
    animation: gr.Image
    frames: gr.Image
    drawing_panel: gr.Accordion
    side_by_side: gr.Button
    steps_gallery: gr.Gallery

    @property
    def inputs(self):
        return [self.picker, self.seed, self.grid_size, self.digit, self.temperature, self.steps, self.guidance]


@dataclass
class GridRequest:
    """One checked request for a grid: which model, which noise, which digits, which sampling settings."""

    entry: object
    seed: int
    count: int
    columns: int
    label: object
    temperature: float
    options: dict

    def key(self):
        return (self.entry.token, self.seed, self.count, self.columns, self.label, self.temperature,
                tuple(sorted(self.options.items())))


def grid_request(model_name, seed, grid_size, digit, temperature, steps, guidance, session, max_side=MAX_GRID_SIDE):
    """Check the Sample tab's settings. Unconditional models draw grid_size x grid_size images;
    conditional ones the chosen digit, or, for "all", grid_size rows of the digits 0 to 9."""
    entry = model_store.find(model_name, session)
    seed = whole_number(seed, "The seed", 0, MAX_SEED)
    side = min(whole_number(grid_size, "The grid size", 1, MAX_GRID_SIDE), max_side)
    label = digit_or_none(digit) if entry.model.conditional else None
    if entry.model.conditional and label is None:
        count, columns = side * entry.model.config.num_classes, entry.model.config.num_classes
    else:
        count, columns = side * side, side
    temperature = number_in(temperature, "The temperature", 0.1, 2.0)
    options = checked_options(entry.model, steps, guidance)
    return GridRequest(entry, seed, count, columns, label, temperature, options)


def checked_options(model, steps, guidance):
    """The sampling settings the model has, from the sliders. Both values are checked (typed numbers
    may be anything), then only the ones this model has are kept (a GAN has no sampling steps)."""
    options = {}
    for name, value in (("sampling_steps", steps), ("guidance_scale", guidance)):
        if value is None:
            continue
        label, low, high, step = SAMPLING_CONTROLS[name]
        what = label.split(" (")[0]
        value = whole_number(value, what, low, high) if step == 1 else number_in(value, what, low, high)
        if name in model.sampling_options:
            options[name] = value
    return options


def sample_grid(model_name, seed, grid_size, digit, temperature, steps, guidance, session):
    """A grid of digits drawn by a model from one seed: yields the path of a PNG file.

    A model that draws pixel by pixel (a second or so for a grid, on a CPU) shows the grid as it fills
    in: the rows drawn so far, the rest grey, then the whole grid. The others, and grids drawn before,
    come in one piece."""
    request = grid_request(model_name, seed, grid_size, digit, temperature, steps, guidance, session)
    key, model = ("sample", *request.key()), request.entry.model
    if model.draws_in_one_pass or RESULTS.get(key) is not None or model_device(model).type != "cpu":
        yield png_file(grid_in_one_piece(request), pictures_folder())
        return
    next_part = time.perf_counter() + FIRST_PART_SECONDS  # (counted from the ask: waiting for a slot counts)
    with RESULTS.making(key):  # a class asking for this very grid at once waits for this one drawing of it
        picture = RESULTS.get(key)
        if picture is None:
            z, labels = seeded_latents(model, request.seed, request.count, request.temperature), \
                label_tensor(model, request.label, request.count)
            with request_costs.computing(model, request.count, request.options, what="digits"):
                started = time.perf_counter()
                for images in decode_in_parts(model, z, labels, request.options):
                    if time.perf_counter() >= next_part:
                        yield png_file(enlarge(grid(images, columns=request.columns), DISPLAY_SCALE),
                                       pictures_folder())
                        next_part = time.perf_counter() + PART_SECONDS
                request_costs.record(model, request.count, request.options, time.perf_counter() - started)
            picture = enlarge(grid(images, columns=request.columns), DISPLAY_SCALE)
            RESULTS.put(key, picture)
    yield png_file(picture, pictures_folder())


def grid_in_one_piece(request):
    """The request's grid as a picture: the shared cache's, or drawn in one forward pass together with any
    other grid of this model asked for at the same moment."""
    def draw():
        images = draw_together(request.entry.token, request.entry.model, request.seed, request.count, request.label,
                               request.temperature, request.options)
        return enlarge(grid(images, columns=request.columns), DISPLAY_SCALE)

    return RESULTS.get_or_make(("sample", *request.key()), draw)


def drawing_animation(model_name, seed, grid_size, digit, temperature, steps, guidance, session):
    """How the model draws the grid (at most MAX_DRAWING_SIDE rows): an animated GIF, and the first
    digit's frames side by side. Models that draw in one pass say so instead."""
    request = grid_request(model_name, seed, grid_size, digit, temperature, steps, guidance, session,
                           max_side=MAX_DRAWING_SIDE)
    with request_costs.computing(request.entry.model, request.count, request.options, what="digits"):
        frames = drawing(request.entry.model, request.seed, request.count, labels=request.label,
                         temperature=request.temperature, frames=DRAWING_FRAMES, **request.options)
    if len(frames) == 1:
        raise AppError(f"A {request.entry.model.title} draws its digits in one pass, from noise straight to "
                       "pixels: there are no steps to show. Try a diffusion or an autoregressive model.")
    grids = [np.asarray(grid(images, columns=request.columns)) for images in frames]
    gif = gif_file(gif_bytes(grids, scale=3, duration_ms=100, bounce=False, hold_last_ms=1500), pictures_folder())
    first_digit = enlarge(strip(frames[:, 0]), DISPLAY_SCALE)
    return gif, png_file(first_digit, pictures_folder())


FEWEST_STEPS = (1, 2, 4)  # shown beside the chosen number of steps: what the steps buy, one grid each


def steps_side_by_side(model_name, seed, grid_size, digit, temperature, steps, guidance, session):
    """The same digits (the grid's first MAX_DRAWING_SIDE rows, the same noise) drawn in 1, 2, 4 and the chosen
    number of steps: a gallery of (PNG path, caption), each caption with the network passes one digit took.

    Each grid is a Sample-tab grid of its own (shared with /sample's cache, its cost checked before it runs);
    the largest goes first, so a request too long for the server is refused before anything is drawn."""
    request = grid_request(model_name, seed, grid_size, digit, temperature, steps, guidance, session,
                           max_side=MAX_DRAWING_SIDE)
    model = request.entry.model
    if "sampling_steps" not in model.sampling_options:
        raise AppError(f"A {model.title} has no number of steps to change: it draws in one way only. Try a "
                       "diffusion model, which removes the noise a little at each step.")
    counts = sorted({*FEWEST_STEPS, request.options["sampling_steps"]}, reverse=True)
    gallery = []
    for count in counts:
        one = replace(request, options={**request.options, "sampling_steps": count})
        passes = model.sampling_passes(**one.options)
        # The caption is also the picture's text alternative (Gradio's gallery makes it the alt text): what it shows.
        caption = (f"{count} step{'s' * (count > 1)}: {one.count} digits of {request.entry.name}, seed {one.seed}, "
                   f"{passes} network pass{'es' * (passes > 1)} per digit")
        gallery.append((png_file(grid_in_one_piece(one), pictures_folder()), caption))
    return gallery[::-1]


def model_info(model_name, session):
    """What the chosen model is, and which of the digit and sampling controls apply to it.

    The sampling sliders show the model's own settings, and are active only for models that have them.
    """
    if not model_name:
        message = model_store.no_models_message() if not model_store.choices(session) else "Choose a model."
        return message, gr.update(), gr.update(), gr.update()
    entry = model_store.find(model_name, session)
    about = model_store.summary(entry.metadata, entry.source)
    if entry.model.conditional:
        note = "Conditional: choose which digit it draws (**all** = one row of 0 to 9 per grid row)."
    else:
        note = "Not conditional: it decides by itself which digit to draw, so the digit choice does not apply."
    controls = []
    for name in SAMPLING_CONTROLS:
        has = name in entry.model.sampling_options
        controls.append(gr.update(interactive=has, **({"value": getattr(entry.model.config, name)} if has else {})))
    return f"**{entry.name}** — {about}. {note}", gr.update(interactive=entry.model.conditional), *controls


def first_grid(model_name, seed, grid_size, digit, temperature, steps, guidance, session):
    """The grid shown when the page opens; nothing (and no error) when no model exists yet."""
    if not model_name:
        yield None
        return
    yield from sample_grid(model_name, seed, grid_size, digit, temperature, steps, guidance, session)


def build(initial_choices):
    """Lay out the Sample tab (inside an open gr.Tab) and return its widgets."""
    first = model_store.preferred(initial_choices, None)  # a strong, fast model first
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
            label, low, high, step = SAMPLING_CONTROLS["sampling_steps"]
            steps = SliderInput(low, high, value=20, step=step, label=label, interactive=False, elem_id="sample-steps",
                                info="Fewer steps: faster, rougher digits.")
            label, low, high, step = SAMPLING_CONTROLS["guidance_scale"]
            guidance = SliderInput(low, high, value=2.0, step=step, label=label, interactive=False,
                                   elem_id="sample-guidance", info="More: clearer digits, less variety.")
        with gr.Column(scale=6, min_width=360):
            image = gr.Image(label="Samples",
                             alt_text="A grid of digits drawn by the chosen model from the seed",
                             format="png", type="pil", interactive=False, elem_id="sample-image",
                             elem_classes=["genai-digits"], buttons=["download", "fullscreen"], height=560)
            gr.Markdown("The same seed always draws the same digits — on any computer. Use the download button "
                        "above the grid to save it as a PNG.", elem_classes=["genai-note"])
            with gr.Accordion("How it draws (diffusion: noise to digit; autoregressive: pixel by pixel)", open=False,
                              elem_id="sample-drawing") as drawing_panel:
                animate = gr.Button("Show how these digits are drawn", elem_id="sample-animate")
                with gr.Row():
                    animation = gr.Image(label="Animation (GIF, up to 4 rows of the grid)",
                                         alt_text="An animation of the digits being drawn, step by step",
                                         type="filepath",
                                         interactive=False, elem_id="sample-animation", elem_classes=["genai-digits"])
                    frames = gr.Image(label="The first digit, step by step",
                                      alt_text="The first digit at each drawing step, left to right",
                                      type="filepath", interactive=False,
                                      elem_id="sample-frames", elem_classes=["genai-digits"])
                side_by_side = gr.Button(f"Draw them in {', '.join(map(str, FEWEST_STEPS))} and the chosen "
                                         "number of steps, side by side", elem_id="sample-side-by-side")
                steps_gallery = gr.Gallery(label="The same noise, drawn in more and more steps", columns=2,
                                           height="auto", object_fit="contain", elem_id="sample-steps-gallery",
                                           elem_classes=["genai-digits", "genai-grid-gallery"], interactive=False)
                gr.Markdown("Each grid starts from the same noise. In one step the model must guess the whole "
                            "digit at once, and its best guess is the average of every digit that noise could "
                            "become: a blur. Each further step looks again and corrects the last guess.",
                            elem_classes=["genai-note"])

    # The slider covers small seeds; the number box takes any 32-bit seed. They are kept in sync
    # in the browser, and the number box is what the sampler reads.
    seed_slider.input(None, seed_slider, seed, js="(s) => s", api_visibility="private", show_progress="hidden")
    seed.change(
        None, [seed, seed_slider], seed_slider, api_visibility="private", show_progress="hidden",
        js=f"(n, s) => (Number.isInteger(n) && n >= 0 && n <= {settings.SEED_SLIDER_MAX}) ? n : s",
    )
    random_seed.click(None, None, seed, js=f"() => Math.floor(Math.random() * {MAX_SEED + 1})",
                      api_visibility="private")
    return SampleTab(picker, seed_slider, seed, grid_size, digit, temperature, steps, guidance, image, info, animate,
                     animation, frames, drawing_panel, side_by_side, steps_gallery)


def connect(tab, session):
    tab_inputs = tab.inputs + [session]
    gr.on(
        [tab.picker.change, tab.seed.change, tab.grid_size.change, tab.digit.change, tab.temperature.change,
         tab.steps.change, tab.guidance.change],
        on_gpu(friendly(sample_grid)), tab_inputs, tab.image, api_name="sample", show_progress="hidden",
        trigger_mode="always_last", concurrency_limit=settings.request_concurrency(), concurrency_id="sample",
    )
    tab.picker.change(friendly(model_info), [tab.picker, session], [tab.info, tab.digit, tab.steps, tab.guidance],
                      api_name="model_info", show_progress="hidden", concurrency_limit=None)
    tab.animate.click(on_gpu(friendly(drawing_animation)), tab_inputs, [tab.animation, tab.frames], api_name="drawing",
                      concurrency_limit=settings.request_concurrency(), concurrency_id="sample")
    tab.side_by_side.click(on_gpu(friendly(steps_side_by_side)), tab_inputs, tab.steps_gallery,
                           api_name="steps_side_by_side", concurrency_limit=settings.request_concurrency(),
                           concurrency_id="sample")
