"""Replay a training run: its timelapse of preview grids, frame by frame, or as a GIF.

Every run in the Train tab keeps a genai.timelapse.Timelapse (bounded: at most 48 frames, spread
over the run). During the run the tab's own run is replayed; afterwards any model this visitor
trained, by name.
"""

from dataclasses import dataclass

import gradio as gr

from . import settings
from .compute import compute_slot
from .errors import AppError, friendly
from .inputs import SliderInput, whole_number
from .pictures import enlarge, gif_file, png_file
from .session import pictures_folder

DISPLAY_SCALE = 2
MAX_FRAME = 10_000  # far past any timelapse (48 frames at most): an index past the end shows the newest


@dataclass
class ReplayPanel:
    frame: gr.Slider
    picture: gr.Image
    caption: gr.Markdown
    gif_button: gr.Button
    gif: gr.File


def timelapse_of(model_name, session):
    """The timelapse of the model called model_name (one this visitor trained), or of this tab's current run."""
    if model_name:
        entry = session.models.get(model_name)
        if entry is None or entry.timelapse is None:
            raise AppError(f"{model_name!r} has no timelapse: only models trained in this tab's session keep one. "
                           "Train a model, then replay its run here.")
        return entry.timelapse
    timelapse = session.controls().timelapse
    if timelapse is None or not len(timelapse):
        raise AppError("Nothing to replay yet: start a training run; its preview grids are kept as it goes.")
    return timelapse


def replay_frame(model_name, index, session):
    """One frame of a run's timelapse: (picture path, caption); past the end, the newest frame."""
    index = whole_number(index, "The frame", 0, MAX_FRAME)  # the number first, whatever this session holds
    frames = timelapse_of(model_name, session).frames()
    index = min(index, len(frames) - 1)
    frame = frames[index]
    picture = png_file(enlarge(frame.picture, DISPLAY_SCALE), pictures_folder())
    caption = f"Frame {index + 1} of {len(frames)}: {frame.caption()}"
    return picture, caption


def replay_gif(model_name, session):
    """The whole timelapse as an animated GIF file."""
    timelapse = timelapse_of(model_name, session)
    with compute_slot():  # up to 48 grids to quantize and encode: CPU work, like a forward pass
        data = timelapse.gif_bytes()
    return gr.update(value=gif_file(data, pictures_folder()), visible=True)


def build():
    """The replay panel (inside an open layout block)."""
    with gr.Accordion("Replay the run (timelapse of the live samples)", open=False, elem_id="train-replay"):
        frame = SliderInput(0, 1, value=0, step=1, label="Frame (drag to replay; the newest is at the right)",
                            elem_id="train-replay-frame")
        picture = gr.Image(label="The live samples at that moment",
                           alt_text="The run's live samples at the chosen moment of training",
                           type="filepath", interactive=False,
                           elem_id="train-replay-picture", elem_classes=["genai-digits"], height=320)
        caption = gr.Markdown(elem_id="train-replay-caption")
        gif_button = gr.Button("The whole run as a GIF", size="sm", elem_id="train-replay-gif-button")
        gif = gr.File(label="Timelapse GIF", visible=False, interactive=False, elem_id="train-replay-gif")
    return ReplayPanel(frame, picture, caption, gif_button, gif)


def connect(panel, model_name, session):
    """model_name: the Train tab's box with the name of the model its last run made (empty while training)."""
    # .change: as the slider is dragged, and when a run ends (the slider then jumps to the newest frame).
    panel.frame.change(friendly(replay_frame), [model_name, panel.frame, session],
                       [panel.picture, panel.caption], api_name="timelapse", concurrency_limit=None,
                       show_progress="hidden", trigger_mode="always_last")
    panel.gif_button.click(friendly(replay_gif), [model_name, session], panel.gif, api_name="timelapse_gif",
                           concurrency_id="encode", concurrency_limit=settings.request_concurrency())
