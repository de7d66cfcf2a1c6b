"""The Interpolate tab: walk through latent space from one digit to another.

Two seeds give two noise vectors z_a and z_b; the frames decode codes on the way from
one to the other, along a straight line (lerp) or along the sphere where Gaussian noise
lives (slerp). A VAE can also start from real images: its encoder turns two test digits,
or two uploaded pictures, into their codes mu, and the walk goes between those.
"""

import hashlib
from dataclasses import dataclass

import gradio as gr
import numpy as np

from ..sampling import MAX_SEED, decode_path, encode, gif_bytes, interpolate, interpolate_latents, strip
from . import datasets, model_store, request_costs, settings
from .errors import AppError, friendly
from .gpu import on_gpu
from .inputs import ONE_DIGIT_CHOICES, NumberInput, SliderInput, digit_or_none, whole_number
from .pictures import digit_from_upload, enlarge, gif_file, png_file
from .result_cache import ResultCache
from .session import pictures_folder

SOURCES = [("two seeds", "seeds"), ("two test digits (VAE)", "test digits"), ("two uploaded images (VAE)", "uploads")]
MAX_STEPS = 64
SAME_DIGIT = "same"  # "Digit at B": keep the digit of A
WALKS = ResultCache(max_bytes=16 * 2**20)  # walks between seeds, shared by every visitor (16 frames: 12.5 KB)
GIFS = ResultCache(max_bytes=16 * 2**20)  # their animations (16 frames: about 100 KB)
STRIP_SCALE = 2
FRAME_SCALE = 8


@dataclass
class InterpolateTab:
    picker: gr.Dropdown
    inputs: list
    outputs: list
    frame_slider: gr.Slider
    frame: gr.Image
    frames: gr.State
    button: gr.Button
    note: gr.Markdown  # what the chosen model can and cannot do here


def endpoint_images(entry, source, index_a, index_b, upload_a, upload_b, digit):
    """The two real images to walk between, with the labels to encode them with."""
    if not entry.model.can_encode:
        raise AppError(
            f"{entry.name} ({entry.model.title}) has no encoder to turn an image into a code, so it can only walk "
            "between two seeds. Choose a model with an encoder (a VAE) to start from real images."
        )
    if source == "test digits":
        test = datasets.get(model_store.dataset_of(entry), split="test")
        last = len(test) - 1
        a = whole_number(index_a, "Test digit A", 0, last)
        b = whole_number(index_b, "Test digit B", 0, last)
        return (test.images[a].numpy(), int(test.labels[a])), (test.images[b].numpy(), int(test.labels[b]))
    if not upload_a or not upload_b:
        raise AppError("Upload two images (A and B) to walk between them.")
    return (digit_from_upload(upload_a), digit), (digit_from_upload(upload_b), digit)


def walk(model_name, source, seed_a, seed_b, index_a, index_b, upload_a, upload_b, steps, method, digit, session,
         digit_b=SAME_DIGIT):
    """Frames from A to B as uint8 (steps, 28, 28); a conditional model may morph digit into digit_b on the way."""
    entry = model_store.find(model_name, session)
    steps = whole_number(steps, "Steps", 2, MAX_STEPS)
    label = digit_or_none(digit)
    label = 0 if label is None else label
    label_b = None if digit_b in (None, "", SAME_DIGIT) else digit_or_none(digit_b)
    if source == "seeds":  # the same walk for everyone who asks: made once, then answered from memory
        seed_a, seed_b = whole_number(seed_a, "Seed A", 0, MAX_SEED), whole_number(seed_b, "Seed B", 0, MAX_SEED)

        def make():
            with request_costs.computing(entry.model, steps):
                return interpolate(entry.model, seed_a, seed_b, steps, method, label=label, label_b=label_b)

        return WALKS.get_or_make(("walk", entry.token, seed_a, seed_b, steps, method, label, label_b), make)
    if source not in ("test digits", "uploads"):
        raise AppError(f"Walk between seeds, test digits or uploads, not {source!r}.")
    with request_costs.computing(entry.model, steps):  # (and two pictures encoded)
        return walk_between_pictures(entry, source, index_a, index_b, upload_a, upload_b, label, steps, method, label_b)


def walk_between_pictures(entry, source, index_a, index_b, upload_a, upload_b, label, steps, method, label_b=None):
    """Encode two test digits or uploads with a VAE and decode the path between their codes."""
    (image_a, label_a), (image_b, label_b) = endpoint_images(entry, source, index_a, index_b, upload_a, upload_b, label)
    label_list = [label_a, label_b] if entry.model.conditional else None
    z_a, z_b = encode(entry.model, np.stack([image_a, image_b]), label_list)
    return decode_path(entry.model, interpolate_latents(z_a, z_b, steps, method), label, label_b)


def interpolate_walk(model_name, source, seed_a, seed_b, index_a, index_b, upload_a, upload_b, steps, method, digit,
                     digit_b, session):
    """The walk as a strip, an animated GIF and a frame slider (shown at the middle frame)."""
    frames = walk(model_name, source, seed_a, seed_b, index_a, index_b, upload_a, upload_b, steps, method, digit, session,
                  digit_b)
    middle = len(frames) // 2
    return (
        png_file(enlarge(strip(frames), STRIP_SCALE), pictures_folder()),
        walk_gif(frames),
        gr.update(maximum=len(frames) - 1, value=middle),
        png_file(enlarge(frames[middle], FRAME_SCALE), pictures_folder()),
        frames,
        session,
    )


def walk_gif(frames):
    """The walk as an animated GIF file. Encoding it is most of what a walk answered from memory
    costs, so each distinct walk is encoded once and its file named by its content."""
    key = ("gif", frames.shape, hashlib.sha1(frames.tobytes()).hexdigest())
    return gif_file(GIFS.get_or_make(key, lambda: gif_bytes(frames)), pictures_folder())


def show_frame(frames, index):
    """One frame of the last walk, enlarged; past the end of a shorter walk, its last frame."""
    index = whole_number(index, "The frame", 0, MAX_STEPS - 1)  # the number first, whatever this session holds
    if frames is None:
        raise AppError("Make a walk first (press Interpolate).")
    return png_file(enlarge(frames[min(index, len(frames) - 1)], FRAME_SCALE), pictures_folder())


def walk_note(model_name, session):
    """A warning under the picker when the model cannot walk smoothly between two seeds (its interface
    says why), else nothing."""
    reason = model_store.model_interface(model_store.metadata_of(model_name, session)).seed_walk_note
    return f"⚠ **No smooth walk between seeds:** {model_name} {reason}." if reason else ""


def source_changed(source):
    return (
        gr.update(visible=source == "seeds"),
        gr.update(visible=source == "test digits"),
        gr.update(visible=source == "uploads"),
    )


def build(initial_choices):
    first = model_store.preferred(initial_choices, None)  # a strong, fast model first
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            picker = gr.Dropdown(
                initial_choices, value=first, label="Model", allow_custom_value=True, elem_id="interpolate-model",
                info=model_store.picker_info(initial_choices),
            )
            note = gr.Markdown(elem_id="interpolate-note", elem_classes=["genai-note"])
            source = gr.Radio(SOURCES, value="seeds", label="Walk between")
            with gr.Row() as seed_row:
                seed_a = NumberInput(1, label="Seed A")
                seed_b = NumberInput(2, label="Seed B")
            with gr.Row(visible=False) as index_row:
                index_a = NumberInput(0, label="Test digit A (index)")
                index_b = NumberInput(1, label="Test digit B (index)")
            with gr.Row(visible=False) as upload_row:
                upload_a = gr.File(label="Image A", type="filepath", height=120)
                upload_b = gr.File(label="Image B", type="filepath", height=120)
            steps = SliderInput(2, MAX_STEPS, value=10, step=1, label="Steps (frames, both ends included)")
            method = gr.Radio([("slerp (along the sphere)", "slerp"), ("lerp (straight line)", "lerp")],
                              value="slerp", label="Path")
            digit = gr.Radio(ONE_DIGIT_CHOICES, value="0", label="Digit (conditional models keep it fixed)")
            digit_b = gr.Radio([("same", SAME_DIGIT)] + ONE_DIGIT_CHOICES, value=SAME_DIGIT,
                               label="Digit at B (conditional models: morph into it; the same seed twice keeps the style)",
                               elem_id="interpolate-digit-b")
            button = gr.Button("Interpolate", variant="primary", elem_id="interpolate-run")
        with gr.Column(scale=6, min_width=360):
            strip_image = gr.Image(label="From A to B",
                                   alt_text="A row of digits morphing from A to B",
                                   format="png", type="pil", interactive=False,
                                   elem_id="interpolate-strip", elem_classes=["genai-digits"], show_label=False,
                                   buttons=["download", "fullscreen"], height=140)
            with gr.Row(equal_height=False):
                gif = gr.Image(label="Animation (GIF)",
                               alt_text="An animation of the walk from A to B and back",
                               type="filepath", interactive=False, elem_id="interpolate-gif",
                               elem_classes=["genai-digits"], buttons=["download"], height=260)
                with gr.Column():
                    frame = gr.Image(label="One frame",
                                     alt_text="One digit of the walk, at the chosen frame",
                                     format="png", type="pil", interactive=False, height=200,
                                     elem_classes=["genai-digits"], elem_id="interpolate-frame")
                    frame_slider = SliderInput(0, 9, value=5, step=1, label="Frame")
            gr.Markdown(
                "Uploads: a photo or drawing of one digit. It is turned to grayscale, inverted if the paper is "
                "light, and fitted into 28x28 pixels like MNIST.", elem_classes=["genai-note"],
            )
    frames = gr.State(None)
    source.change(source_changed, source, [seed_row, index_row, upload_row], api_visibility="private",
                  show_progress="hidden")
    return InterpolateTab(
        picker=picker,
        inputs=[picker, source, seed_a, seed_b, index_a, index_b, upload_a, upload_b, steps, method, digit, digit_b],
        outputs=[strip_image, gif, frame_slider, frame, frames],
        frame_slider=frame_slider, frame=frame, frames=frames, button=button, note=note,
    )


def connect(tab, session):
    tab.button.click(
        on_gpu(friendly(interpolate_walk)), tab.inputs + [session], tab.outputs + [session], api_name="interpolate",
        concurrency_limit=settings.request_concurrency(), concurrency_id="encode", show_progress="minimal",
    )
    tab.picker.change(friendly(walk_note), [tab.picker, session], tab.note, api_visibility="private",
                      show_progress="hidden", concurrency_limit=None)
    tab.frame_slider.input(friendly(show_frame), [tab.frames, tab.frame_slider], tab.frame, api_name="frame",
                           show_progress="hidden", concurrency_limit=None, trigger_mode="always_last")
