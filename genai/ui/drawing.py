"""Draw your own digit (in the Explore tab): what the classifier reads, what a VAE makes of it, and
which training digits it lands next to in latent space.

The drawing is brought to MNIST's form (pictures.digit_from_picture: inverted to white on black,
cropped, scaled into a 20x20 box, placed by its centre of mass in 28x28), so the models see it as
they saw their training digits. It can then start a walk in the Interpolate tab.

The drawing reaches the handlers undecoded (undecoded_drawing) and is read like an upload
(pictures.read_upload): its size is checked from the PNG header before a pixel is decoded.
"""

import io
import types
from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch
from ..metrics import classifier_probabilities
from ..sampling import encode, grid, reconstruct
from . import datasets, model_store, visitors
from .compute import compute_slot
from .errors import AppError
from .pictures import digit_from_picture, enlarge, png_file, read_upload
from .result_cache import ResultCache
from .session import pictures_folder

NEIGHBOURS = 8  # training digits shown nearest to the drawing's code
SEARCHED = 10_000  # the first this many training digits are searched
CODES = ResultCache(max_bytes=64 * 2**20)  # model -> codes of the searched training digits, shared
DIGIT_SCALE = 10  # the 28x28 digit is handed to the Interpolate tab at 280x280


@dataclass
class DrawingPanel:
    pad: gr.Sketchpad
    button: gr.Button
    seen: gr.Image
    answer: gr.Markdown
    pictures: gr.Image
    walk: gr.Button


def undecoded_drawing(pad, payload):
    """The Sketchpad's preprocess: {"composite": what was sent}, not decoded, for drawn_picture to check.

    Gradio's own preprocess decodes the pictures in full before any handler sees them (a 20 KB PNG
    declaring 13000x13000 pixels would cost gigabytes). Here the composite stays as sent: a file
    path (an API client's file) or the PNG bytes the browser sent ahead of the event, by id.
    """
    if payload is None:
        return None
    if payload.id is not None:  # the browser's canvas, sent beforehand through the pad's accept_blobs
        blobs = pad.blob_storage.pop(payload.id, None)
        return {"composite": blobs.composite if blobs else None}
    return {"composite": payload.composite.path if payload.composite else None}


class PendingDrawings(dict):
    """The Sketchpad's store of canvases the browser sent ahead of an event (id -> blobs), bounded.

    Gradio keeps each one until its event runs; a client that sends canvases and never presses the
    button would otherwise fill the server's memory. Beyond max_count canvases or max_bytes bytes
    the oldest are forgotten (a visitor who then presses the button is asked to draw again), and a
    canvas larger than max_bytes by itself is not kept at all. A visitor (genai/ui/visitors.py) keeps
    at most per_visitor canvases, their own oldest going first, so sending many never pushes out
    another visitor's drawing.
    """

    def __init__(self, max_count=64, max_bytes=32 * 2**20, per_visitor=4):
        super().__init__()
        self.max_count, self.max_bytes, self.per_visitor = max_count, max_bytes, per_visitor
        self._senders = {}  # canvas id -> the visitor who sent it

    @staticmethod
    def size(blobs):
        parts = [blobs.background, blobs.composite, *(blobs.layers or [])]
        return sum(len(part) for part in parts if isinstance(part, (bytes, bytearray)))

    def __setitem__(self, key, blobs):
        visitor = visitors.current()
        self.pop(key, None)  # re-added at the end: the newest
        super().__setitem__(key, blobs)
        self._senders = {k: who for k, who in self._senders.items() if k in self}  # (taken ones are gone)
        self._senders[key] = visitor
        if visitor is not None:
            for old in [k for k, who in self._senders.items() if who == visitor][:-self.per_visitor]:
                del self[old]
        while self and (len(self) > self.max_count or sum(map(self.size, self.values())) > self.max_bytes):
            del self[next(iter(self))]


def drawn_picture(drawing):
    """The picture in a Sketchpad's value (its composite: a file path or PNG bytes), read as an upload is:
    refused from its header when too large, shrunk before any copy."""
    composite = drawing.get("composite") if isinstance(drawing, dict) else drawing
    if composite is None:
        raise AppError("Nothing is drawn yet: draw one digit on the pad (white or black ink, any size).")
    if isinstance(composite, (bytes, bytearray)):
        composite = io.BytesIO(composite)
    return read_upload(composite, "The drawing")


def classifier_answer(probabilities):
    """"It reads a 7 (97% sure); then 1 (2%)" in Markdown."""
    order = np.argsort(probabilities)[::-1]
    best, sure = int(order[0]), float(probabilities[order[0]])
    others = ", ".join(f"{int(k)} ({100 * probabilities[k]:.0f}%)" for k in order[1:3])
    verdict = "" if sure >= 0.9 else " — **not sure**: it would not count as recognizable (below 90%)"
    return f"The digit classifier reads a **{best}** ({100 * sure:.0f}% sure){verdict}; next: {others}."


def training_codes(entry):
    """(codes, images) of the first SEARCHED training digits under this model's encoder, made once per model."""
    def make():
        train = datasets.get(model_store.dataset_of(entry), split="train")
        count = min(SEARCHED, len(train))
        images, labels = train.images[:count], train.labels[:count]
        codes = encode(entry.model, images, labels if entry.model.conditional else None)
        return codes.numpy(), images.numpy()

    return CODES.get_or_make(("codes", entry.token), make)


def read_drawing(model_name, drawing, session):
    """(the digit as models see it, the classifier's answer + notes, reconstruction and nearest training digits)."""
    digit = digit_from_picture(drawn_picture(drawing), "The drawing")
    with compute_slot():
        probabilities = classifier_probabilities(digit[None])[0]
    lines = [classifier_answer(probabilities)]
    seen = png_file(enlarge(digit, DIGIT_SCALE // 2), pictures_folder())
    entry = model_store.find(model_name, session) if model_name else None
    if entry is None or not entry.model.can_encode:
        what = f"**{entry.name}** has no encoder" if entry else "No model is chosen"
        lines.append(f"{what}: choose a VAE above to see how it reconstructs your drawing and which training "
                     "digits it lands next to.")
        return seen, "\n\n".join(lines), None
    label = torch.tensor([int(np.argmax(probabilities))]) if entry.model.conditional else None
    with compute_slot():
        rebuilt = reconstruct(entry.model, digit[None], label)[0]
        code = encode(entry.model, digit[None], label).numpy()[0]
        codes, images = training_codes(entry)
    nearest = np.argsort(((codes - code) ** 2).sum(axis=1))[:NEIGHBOURS]
    row = np.stack([digit, rebuilt, *images[nearest]])
    lines.append(f"Left to right: your drawing, **{entry.name}**'s reconstruction of it"
                 + (f" (told it is a {int(label)})" if label is not None else "")
                 + f", then the {NEIGHBOURS} training digits whose codes are nearest to its code (of the first "
                 f"{len(codes):,} training digits).")
    return seen, "\n\n".join(lines), enlarge(grid(row, columns=len(row)), 3)


def read_drawing_in_place(model_name, drawing, session):
    """read_drawing for the page: a drawing it cannot read (an empty pad, a tiny digit, a scribble) is
    answered where the answer goes, and both pictures are cleared, instead of an error that marks every
    picture with a red badge. API clients call read_drawing itself and get the error."""
    try:
        return read_drawing(model_name, drawing, session)
    except AppError as error:
        return None, f"**{error}**", None


def drawing_as_walk_start(model_name, drawing):
    """Hand the drawing to the Interpolate tab as image A: (model, source, image A file), then go there."""
    digit = digit_from_picture(drawn_picture(drawing), "The drawing")
    path = png_file(enlarge(digit, DIGIT_SCALE), pictures_folder())
    gr.Info("Your drawing is image A in the Interpolate tab: upload or pick image B, then press Interpolate.")
    return model_name, "uploads", path


# Gradio's pad opens with no tool chosen, so a student's first stroke selects the page's text instead of
# drawing. Whenever the pad shows, with no tool chosen, the brush is picked for them (the page runs this once).
READY_TO_DRAW = """() => {
  setInterval(() => {
    const pad = document.querySelector('#explore-pad');
    if (!pad || pad.offsetParent === null || !pad.innerText.includes('select the draw tool')) return;
    const brush = pad.querySelector('button[aria-label="Brush"], button[title="Brush"]');
    if (brush) brush.click();
  }, 400);
}"""


def build():
    """The drawing panel (inside an open layout block)."""
    with gr.Accordion("Draw your own digit", open=True, elem_id="explore-drawing"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=300):
                pad = gr.Sketchpad(type="filepath", image_mode="RGBA", canvas_size=(280, 280), height=360, layers=False,
                                   label="Draw one digit", elem_id="explore-pad",
                                   brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"))
                pad.preprocess = types.MethodType(undecoded_drawing, pad)  # checked by drawn_picture, not decoded here
                pad.blob_storage = PendingDrawings()
                with gr.Row():
                    button = gr.Button("Read my drawing", variant="primary", elem_id="explore-read")
                    walk = gr.Button("Walk from it (Interpolate tab)", elem_id="explore-walk")
            with gr.Column(scale=6, min_width=360):
                with gr.Row(equal_height=False):
                    seen = gr.Image(label="As the models see it (28x28)",
                                    alt_text="Your drawing, shrunk to 28 by 28 pixels",
                                    type="filepath", interactive=False,
                                    elem_id="explore-seen", elem_classes=["genai-digits"], height=160, min_width=150)
                    answer = gr.Markdown(elem_id="explore-answer")
                pictures = gr.Image(label="Reconstruction and nearest training digits",
                                    alt_text="Your digit, its reconstruction, and the nearest training digits",
                                    format="png", type="pil",
                                    interactive=False, elem_id="explore-neighbours", elem_classes=["genai-digits"],
                                    height=140)
    return DrawingPanel(pad, button, seen, answer, pictures, walk)
