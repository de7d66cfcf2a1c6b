"""The Train tab: pick a dataset and a model, press Start, watch it learn.

While genai.train.train runs, this tab streams what it reports: a progress bar with
the ETA and images per second, the loss curves, and a grid decoded from the same fixed
noise every few seconds, so the class watches the same digits sharpen (and, under it, which
digits the grid shows, as the metrics classifier reads them: live_digits). When training
ends (or is stopped) the model is saved in the visitor's private folder, offered as a
.zip download and added to the model pickers of the other tabs.
"""

import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from ..device import describe
from ..knobs import KnobError, LiveKnobs, check_turn
from ..models import ARCHS, create_model, model_class
from ..presets import PRESETS, preset
from ..recipes import model_options, recipe
from ..sampling import grid
from ..timelapse import Timelapse
from ..stepping import StepControl
from ..train import TrainSettings, preview_count, train, training_record
from . import datasets, live_digits, model_store, replay, settings, step_mode
from .code_view import training_code
from .errors import AppError, friendly
from .gpu import on_gpu
from .inputs import NumberInput, SliderInput, number_in, seconds_number, whole_number

DATASET_CHOICES = [("MNIST (handwritten digits)", "mnist"), ("Fashion-MNIST (clothes)", "fashion-mnist")]
FAMILY_CHOICES = [("GAN — generator vs. discriminator", "gan"), ("VAE — encoder + decoder", "vae"),
                  ("Autoregressive — one pixel at a time", "autoregressive"),
                  ("Diffusion — noise walked back to a digit", "diffusion")]
ARCH_LABELS = {"mlp": "MLP (fully connected)", "dcgan": "DCGAN (convolutional)", "conv": "Convolutional",
               "unet": "UNet (convolutional)", "pixelcnn": "Gated PixelCNN (masked convolutions)",
               "lstm": "row-by-row LSTM (recurrent)"}
UI_REFRESH_SECONDS = 0.5  # send progress to the browser at most this often (previews and the end always)
WAIT_POLL_SECONDS = 1.0  # a run waiting for a training slot checks for Stop (and tells how it waits) this often

_slots = None
_slots_lock = threading.Lock()


def training_slots():
    """The server's training slots (GENAI_TRAIN_CONCURRENCY of them), shared by every visitor.

    Runs wait for a slot here, in their own handler, rather than in Gradio's queue: so a
    waiting run shows that it waits, and Stop (from the browser or the API) can cancel it.
    """
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.train_concurrency())
        return _slots

LATEX_DELIMITERS = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
]



@dataclass
class TrainTab:
    """The widgets other parts of the app connect to."""

    dataset: gr.Radio
    dataset_status: gr.Markdown
    start: gr.Button
    stop: gr.Button
    progress: gr.HTML
    losses: gr.LinePlot
    preview: gr.Image
    status: gr.Markdown
    histogram: gr.BarPlot
    digits: gr.BarPlot
    model_name: gr.Textbox
    download: gr.Button
    download_file: gr.File
    replay: replay.ReplayPanel
    steps: step_mode.StepPanel
    live_lr: gr.Number
    live_beta: gr.Slider
    live_ratio: gr.Number
    turn: gr.Button
    turn_status: gr.Markdown
    inputs: list


def family_class(family):
    """The model class of a family's recipe architecture: what the tab shows about the family."""
    return model_class(family, recipe(family)["arch"])


def has_setting(family, arch, name):
    """Whether an architecture's config has a setting (the form shows beta only for models that have one)."""
    return name in {field.name for field in dataclasses.fields(model_class(family, arch).Config)}


def arch_choices(family):
    return [(ARCH_LABELS.get(arch, arch), arch) for arch in ARCHS[family]]


def clock(seconds):
    """Seconds as m:ss (or h:mm:ss)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_html(event, note=""):
    """A progress bar with step, epoch, speed and time left, as HTML."""
    percent = 100.0 * event.fraction
    steps = f"step {event.step:,}" + (f" of {event.total_steps:,}" if event.total_steps else "")
    parts = [steps, f"epoch {event.epoch:.1f}"]
    if event.images_per_sec:
        parts.append(f"{event.images_per_sec:,.0f} images/s")
    parts.append(f"{clock(event.elapsed_seconds)} elapsed")
    if event.done:
        parts.append("done")
    else:
        parts.append(f"about {clock(event.eta_seconds)} left")
    return waiting_html(" · ".join(parts) + (f" — {note}" if note else ""), percent)


def waiting_html(text, percent=0.0):
    return (
        '<div class="genai-progress">'
        f'<div class="genai-progress-track"><div class="genai-progress-fill" style="width: {percent:.1f}%"></div></div>'
        f'<div class="genai-progress-text">{text}</div>'
        "</div>"
    )


# Each number of the form, checked: as it is typed (the message shows under the field) and when Start is pressed.
FIELD_CHECKS = {
    "seconds": lambda v: seconds_number(v, "The training time", settings.max_train_seconds()),
    "latent_dim": lambda v: whole_number(v, "The latent size", 1, 1024),
    "batch_size": lambda v: whole_number(v, "Batch size", 2, 4096),
    "lr": lambda v: None if v is None else number_in(v, "The learning rate", 0, 1, low_included=False),
    "seed": lambda v: whole_number(v, "The seed", 0, 2**32 - 1),
    "max_steps": lambda v: whole_number(v, "Max steps", 1, 10**9) if v else None,  # 0: no step limit
    "d_lr_ratio": lambda v: number_in(v, "D's learning-rate ratio", 0.001, 100),
}


def make_settings(seconds, batch_size, lr, seed, max_steps, conditional):
    """TrainSettings from the form: a budget in seconds (at most the server's cap), or steps if fewer."""
    return TrainSettings(
        batch_size=FIELD_CHECKS["batch_size"](batch_size),
        lr=FIELD_CHECKS["lr"](lr),
        seed=FIELD_CHECKS["seed"](seed),
        preview_seconds=settings.PREVIEW_SECONDS,
        preview_images=preview_count(conditional),
        preview_seed=settings.PREVIEW_SEED,
        max_steps=FIELD_CHECKS["max_steps"](max_steps),
        max_seconds=FIELD_CHECKS["seconds"](seconds),
    )


def loss_table(rows):
    """The loss history as the line plot wants it: one row per (step, loss value, curve name)."""
    table = pd.DataFrame(rows, columns=["step", "loss", "curve"])
    return table.astype({"step": "int64", "loss": "float64", "curve": "string"})


def train_model(
    dataset_name, family, arch, conditional, latent_dim, seconds, batch_size, lr, beta, seed, max_steps, d_lr_ratio,
    session, *, outputs,
):
    """Train a model and stream progress; `outputs` names the widgets each update goes to."""
    ui = outputs
    controls = session.controls()
    controls.waiting = False
    if not controls.busy.acquire(blocking=False):
        raise AppError("You are already training a model in this tab: press Stop first, or wait until it ends.")
    try:
        controls.stop.clear()
        if controls.cancel_waiting:  # Stop was pressed between Start and this run's first step
            controls.cancel_waiting = False
            yield {ui["status"]: "Cancelled before it started.", ui["progress"]: waiting_html("Press Start to train.")}
            return
        if family not in ARCHS:
            raise AppError(f"Choose the model family {', '.join(ARCHS)}, not {family!r}.")
        if arch not in ARCHS[family]:
            raise AppError(f"{arch!r} is not a {family.upper()} architecture: choose {', '.join(ARCHS[family])}.")
        conditional = bool(conditional)
        train_settings = make_settings(seconds, batch_size, lr, seed, max_steps, conditional)
        options = model_options(recipe(family), family, arch)  # what the form does not show (e.g. ema_decay)
        options.update(latent_dim=FIELD_CHECKS["latent_dim"](latent_dim), conditional=conditional)
        if has_setting(family, arch, "beta"):
            options["beta"] = number_in(beta, "β", 0, 1000)
        if has_setting(family, arch, "d_lr_ratio"):
            options["d_lr_ratio"] = FIELD_CHECKS["d_lr_ratio"](1.0 if d_lr_ratio is None else d_lr_ratio)
        yield {
            ui["progress"]: waiting_html("Waiting for a free training slot ..."),
            ui["status"]: "Getting ready ...",
            ui["losses"]: None,  # clear old curves (None, not an empty table: the plot would not redraw)
            ui["histogram"]: gr.update(value=None, visible=False),  # shown again if this model has diagnostics
            ui["digits"]: live_digits.update(None, dataset_name),  # shown again with the first preview
            ui["start"]: gr.update(interactive=False),
            ui["stop"]: gr.update(interactive=True),
        }
        slots = training_slots()
        while not slots.acquire(timeout=WAIT_POLL_SECONDS):
            if controls.stop.is_set():  # Stop (browser or API) while waiting: never starts
                yield {ui["status"]: "Cancelled before it started.", ui["progress"]: waiting_html("Press Start to train.")}
                return
            yield {ui["status"]: f"Waiting: all {settings.train_concurrency()} training slots of this server are "
                                 "busy. Your run starts when one is free (Stop cancels it)."}
        try:
            yield from run_training(dataset_name, family, arch, conditional, train_settings, options, session, ui)
        finally:
            slots.release()
    finally:
        controls.busy.release()


def run_training(dataset_name, family, arch, conditional, train_settings, options, session, ui):
    """The training itself, once a slot is free: stream progress, then keep the model in the session."""
    controls = session.controls()
    yield {ui["progress"]: waiting_html(f"Loading {dataset_name} ...")}
    dataset = datasets.get(dataset_name, download=True)
    device = model_store.app_device()
    model = create_model(family, arch, seed=train_settings.seed, **options).to(device)
    where = describe(device)
    if dataset.warning:
        gr.Warning(dataset.warning)
    yield {
        ui["status"]: f"Training: {model.describe()}, on {len(dataset):,} images of the {dataset.split} split "
                      f"({where}).",
        ui["dataset_status"]: datasets.status(dataset_name),
    }

    rows, last, last_sent, turned, diagnostics = [], None, 0.0, [], {}
    shown = model.plotted_losses
    timelapse = controls.timelapse = Timelapse()  # replayable while the run goes on
    controls.knobs, controls.model = LiveKnobs(), model  # turned from the "while it trains" row (set_knobs)
    controls.stepper = StepControl(max_pause_seconds=settings.max_pause_seconds())  # pause / step / resume
    try:
        for event in train(model, dataset, train_settings, stop=controls.stop, knobs=controls.knobs,
                           stepper=controls.stepper):
            last = event
            timelapse.add(event)
            turned.extend(event.changes)
            diagnostics = event.diagnostics or diagnostics
            if not event.done:
                rows.extend((event.step, value, name) for name, value in event.losses.items() if name in shown)
                for change in event.changes:  # a vertical line on the loss plot where a knob was turned
                    rows.extend(change_marker(rows, change))
            now = time.perf_counter()
            # (A step where a knob was turned is always sent: the status says it was applied, and at which step.)
            if not event.done and (event.preview is not None or event.changes or now - last_sent >= UI_REFRESH_SECONDS):
                paused = "paused: step mode" if controls.stepper.paused else ""
                update = {ui["progress"]: progress_html(event, paused), ui["losses"]: loss_table(rows)}
                if event.preview is not None:
                    update[ui["preview"]] = grid(event.preview, event.preview_columns)
                    update[ui["digits"]] = live_digits.update(event.preview, dataset_name)
                    # The replay slider reaches the newest frame while the run goes on (its value stays put).
                    update[ui["replay_frame"]] = gr.update(maximum=max(len(timelapse) - 1, 1))
                if event.diagnostics:
                    update[ui["histogram"]] = gr.update(value=histogram_table(diagnostics), visible=True)
                if event.changes:
                    update[ui["status"]] = "Turned: " + "; ".join(change_words(c) for c in event.changes) + "."
                    # Gradio's plot keeps the curves it was first drawn with: one that joins later (this knob's
                    # line) would get no colour and no legend entry. Emptied first, it is drawn afresh.
                    yield {ui["losses"]: None}
                last_sent = now
                yield update
    finally:
        controls.stepper.end()  # a /step still waiting hears that the run is over
        controls.knobs = controls.model = controls.stepper = None

    name = session.new_model_name(family, arch, conditional, taken=model_store.pretrained_folders())
    training = training_record(dataset, train_settings, device, last, train_settings.lr or model.default_lr,
                               app="genai web app", family=family, arch=arch, options=options)
    if turned:
        training["live_changes"] = turned  # what was turned, and at which step (the config holds the last values)
    entry, dropped = session.keep(name, model, dataset=dataset_name, steps=last.step, training=training)
    entry.timelapse = timelapse
    choices = model_store.choices(session)
    info = model_store.picker_info(choices)
    update = {ui["progress"]: progress_html(last), ui["losses"]: loss_table(rows)}
    if last.preview is not None:
        update[ui["preview"]] = grid(last.preview, last.preview_columns)
        update[ui["digits"]] = live_digits.update(last.preview, dataset_name)
    if diagnostics:
        update[ui["histogram"]] = gr.update(value=histogram_table(diagnostics), visible=True)
    update[ui["status"]] = (
        f"**{last.message}** Your model is **{name}**: pick it in the Sample, Interpolate and Explore tabs, "
        "or download it." + dropped_note(dropped)
    )
    update[ui["model_name"]] = name
    update[ui["download"]] = gr.update(value=f"Download {name}.zip", interactive=True)
    for picker in ui["pickers"]:
        keep_current = not model.can_encode and any(picker is p for p in ui["vae_pickers"])
        update[picker] = gr.update(choices=choices, info=info, **({} if keep_current else {"value": name}))
    for model_list in ui["lists"]:
        update[model_list] = gr.update(choices=choices)
    update[ui["replay_frame"]] = gr.update(maximum=max(len(timelapse) - 1, 1), value=len(timelapse) - 1)
    update[ui["replay_picture"]], update[ui["replay_caption"]] = replay.replay_frame(name, len(timelapse) - 1, session)
    update[ui["session"]] = session
    if last.reason == "diverged":
        gr.Warning(last.message)
    yield update


def histogram_table(diagnostics, bins=20):
    """model.diagnostics() (name -> values in [0, 1]) as bar-chart rows: bin centre, share of images, name."""
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for name, values in diagnostics.items():
        counts, _ = np.histogram(np.clip(values, 0, 1), bins=edges)
        shares = counts / max(len(values), 1)
        rows += [(round(float(centre), 3), float(share), name) for centre, share in zip((edges[:-1] + edges[1:]) / 2, shares)]
    return pd.DataFrame(rows, columns=["value", "share", "of"])


def change_words(change):
    """{"step": 340, "lr": 0.0005} -> "at step 340: lr 0.0005"."""
    values = ", ".join(f"{name} {value:g}" for name, value in change.items() if name != "step")
    return f"at step {change['step']:,}: {values}"


def change_marker(rows, change):
    """Two rows of the loss table that draw a vertical line at the step where a knob was turned."""
    losses = [value for _, value, curve in rows if not curve.startswith("turned")] or [0.0]
    label = f"turned {change_words(change)}"
    return [(change["step"], min(losses), label), (change["step"], max(losses), label)]


@friendly
def set_knobs(lr, beta, d_lr_ratio, session):
    """Turn the learning rate (and a VAE's beta, a GAN's D ratio) of this tab's run while it trains; applied
    before its next step."""
    # The numbers first, so a bad one gets its own message whether or not a run is going on.
    asked = {"lr": FIELD_CHECKS["lr"](lr)}
    if beta is not None:
        asked["beta"] = number_in(beta, "β", 0, 1000)
    if d_lr_ratio is not None:
        asked["d_lr_ratio"] = FIELD_CHECKS["d_lr_ratio"](d_lr_ratio)
    controls = session.controls()
    knobs, model = controls.knobs, controls.model
    if knobs is None or model is None:
        raise AppError("Nothing is training in this tab: the live knobs turn a run while it goes on. Press Start first.")
    values = {name: value for name, value in asked.items() if name == "lr" or name in model.live_settings}
    try:
        values = check_turn(model, values)
    except KnobError as error:
        raise AppError(str(error)) from None
    knobs.turn(**values)
    return "Turning " + ", ".join(f"{name} to {value:g}" for name, value in values.items()) + " before the next step."


def dropped_note(dropped):
    """A sentence about models removed to make room, or nothing."""
    if not dropped:
        return ""
    return (f" To make room, your oldest model{'s' if len(dropped) > 1 else ''} ({', '.join(dropped)}) "
            f"{'were' if len(dropped) > 1 else 'was'} removed: each visitor keeps at most "
            f"{settings.session_max_models()} models. Download a model to keep it.")


@friendly
def download_model(model_name, session):
    """The .zip of a model this visitor trained, handed out only when asked for.

    (Handing it out at the end of every run would copy each model into Gradio's file cache, even
    the many nobody downloads: a visitor training 1-step models back to back filled gigabytes.)
    """
    entry = session.models.get(model_name) if model_name else None
    if entry is None or entry.archive is None or not Path(entry.archive).is_file():
        raise AppError("Train a model first: its download appears here when the run ends.")
    session.touch()
    return gr.update(value=str(entry.archive), visible=True, label=f"{model_name}.zip: config.json + model.safetensors")


@friendly
def stop_training(session):
    """Ask this tab's training run to stop after its current step (the model is kept).

    A run still waiting for a free training slot is cancelled instead (from the browser or the API:
    the run waits in its own handler, which watches the same Stop switch).
    """
    controls = session.controls()
    if controls.busy.locked():
        controls.stop.set()
        return "Stopping after the current step ..."
    if controls.waiting:
        controls.cancel_waiting = True
        return "Cancelled: your run was still waiting for a free training slot."
    gr.Info("Nothing is training in this tab right now.")
    return "Nothing is training right now."


def mark_waiting(session):
    """Right after Start is pressed: the run is on its way (perhaps waiting for a slot); Stop can cancel it."""
    controls = session.controls()
    if not controls.busy.locked():
        controls.waiting, controls.cancel_waiting = True, False
    return (gr.update(interactive=False), gr.update(interactive=True), "Starting (or waiting for a free training slot) ...",
            gr.update(visible=False, value=None),  # the previous model's download
            "",  # no model name while it trains: the replay panel shows this run
            "")  # nor the knobs the last run turned


def buttons_after_run(session):
    """Start back on and Stop off, unless another run of this session is still training."""
    running = session.controls().busy.locked()
    return gr.update(interactive=not running), gr.update(interactive=running)


def field_message(check):
    """An event handler that shows check's message under a form field while its value is wrong.

    The same checks run again when Start is pressed (and for API clients), so a wrong value
    never trains; this only says what is wrong, next to the field, as soon as it is typed.
    """
    def show(value):
        try:
            check(value)
        except AppError as error:
            return gr.update(info=f"⚠ {error}")
        return gr.update(info="")

    return show


def buttons_after_failure(session):
    """After a refused or failed run: Start back on, and the status says what to do."""
    start, stop = buttons_after_run(session)
    return start, stop, "Nothing was trained: correct what the message names, then press Start again."


def family_changed(family):
    """New defaults (the family's recipe, as the CLI uses, for the app's device) when switching families."""
    defaults = recipe(family, model_store.app_device())
    return (
        gr.update(choices=arch_choices(family), value=defaults["arch"]),
        defaults["conditional"],
        defaults["latent_dim"],
        min(defaults["seconds"], settings.max_train_seconds()),
        defaults["batch_size"],
        defaults["lr"],
        gr.update(visible=has_setting(family, defaults["arch"], "beta"), value=defaults.get("beta", 1.0)),
        family_class(family).explanation,
        code_update(family),
        gr.update(visible=has_setting(family, defaults["arch"], "beta"), value=defaults.get("beta", 1.0)),
        defaults["lr"],
        gr.update(visible=has_setting(family, defaults["arch"], "d_lr_ratio"), value=defaults.get("d_lr_ratio", 1.0)),
        gr.update(visible=has_setting(family, defaults["arch"], "d_lr_ratio"), value=defaults.get("d_lr_ratio", 1.0)),
    )


def code_update(family):
    """The code view for a family: its loss functions and training step, read from its module."""
    text, where = training_code(family_class(family))
    return gr.update(value=text, label=f"The code that runs: {where}")


def preset_chosen(name):
    """Fill the form with a demonstration's settings, and say what to look for."""
    if not name:
        return [gr.skip()] * 14 + [""]
    settings_of = preset(name)
    family = PRESETS[name]["family"]
    updates = list(family_changed(family))  # the family's form, then the preset's own values on top
    updates[1], updates[2] = settings_of["conditional"], settings_of["latent_dim"]
    updates[3] = min(settings_of["seconds"], settings.max_train_seconds())
    updates[5] = updates[10] = settings_of["lr"]
    updates[6] = gr.update(visible=has_setting(family, settings_of["arch"], "beta"), value=settings_of.get("beta", 1.0))
    updates[11] = updates[12] = gr.update(visible=has_setting(family, settings_of["arch"], "d_lr_ratio"),
                                          value=settings_of.get("d_lr_ratio", 1.0))
    return [family, *updates, f"**What to look for:** {PRESETS[name]['explanation']}"]


def build():
    """Lay out the Train tab (inside an open gr.Tab) and wire its own events."""
    defaults = recipe("gan", model_store.app_device())
    cap = settings.max_train_seconds()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            dataset = gr.Radio(DATASET_CHOICES, value="mnist", label="Dataset")
            dataset_status = gr.Markdown(label="Dataset status", show_label=False, elem_classes=["genai-note"],
                                         elem_id="train-dataset-status")
            demo_choice = gr.Dropdown([("—", "")] + [(entry["title"], name) for name, entry in PRESETS.items()],
                                      value="", label="Demonstrations: settings that show a known behaviour",
                                      elem_id="train-preset")
            demo_note = gr.Markdown(elem_classes=["genai-note"], elem_id="train-preset-note")
            family = gr.Radio(FAMILY_CHOICES, value="gan", label="Model family", elem_id="train-family")
            # A dropdown that accepts any name: API clients choose the family and architecture together
            # (train_model checks that they fit); in the browser the list follows the family.
            arch = gr.Dropdown(arch_choices("gan"), value=defaults["arch"], label="Architecture",
                               allow_custom_value=True)
            conditional = gr.Checkbox(value=defaults["conditional"],
                                      label="Conditional: also tell the model which digit to draw")
            with gr.Row():
                seconds = NumberInput(min(defaults["seconds"], cap), label=f"Train for (seconds, at most {cap:g})",
                                      min_width=100, elem_id="train-seconds")
                latent_dim = NumberInput(defaults["latent_dim"], label="Latent size (1-1024)", min_width=100,
                                         elem_id="train-latent")
            with gr.Row():
                batch_size = NumberInput(defaults["batch_size"], label="Batch size (2-4096)", min_width=100,
                                         elem_id="train-batch")
                lr = NumberInput(defaults["lr"], label="Learning rate (above 0, at most 1)", step=1e-4, min_width=100)
            beta = SliderInput(0, 30, value=recipe("vae")["beta"], step=0.1, label="β (weight of the KL term)",
                               visible=False, info="1 = the true ELBO; more = smoother latent space, blurrier digits.")
            d_lr_ratio = NumberInput(defaults.get("d_lr_ratio", 1.0),
                                     label="D learns at this many times the learning rate (0.001-100)",
                                     info="1 = as fast as G. Far below 1: mode collapse; far above: D wins too easily.",
                                     elem_id="train-d-ratio")
            seed = NumberInput(0, label="Seed (fixes the initial weights and the batch order)")
            with gr.Accordion("Stop early", open=False, elem_id="train-stop-early"):
                max_steps = NumberInput(0, label="Max steps (0 = no step limit: train for the time above)",
                                        elem_id="train-max-steps")
        with gr.Column(scale=5, min_width=380):
            with gr.Row():
                start = gr.Button("Start training", variant="primary", elem_id="train-start")
                stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="train-stop")
            progress = gr.HTML(waiting_html("Press Start to train."), label="Progress", elem_id="train-progress")
            with gr.Accordion("Turn the knobs while it trains", open=False, elem_id="train-knobs"):
                with gr.Row(equal_height=True):
                    live_lr = NumberInput(defaults["lr"], label="Learning rate", step=1e-4, min_width=100,
                                          elem_id="train-live-lr")
                    live_beta = SliderInput(0, 30, value=recipe("vae")["beta"], step=0.1, label="β (VAE)",
                                            visible=False, elem_id="train-live-beta")
                    live_ratio = NumberInput(defaults.get("d_lr_ratio", 1.0), label="D's ratio (GAN)", min_width=100,
                                             elem_id="train-live-ratio")
                    turn = gr.Button("Turn now", elem_id="train-turn", min_width=80)
                gr.Markdown("Applied before the next step; the loss plot marks the step, and the model's "
                            "training record keeps every change.", elem_classes=["genai-note"])
                # What was asked for shows here, and the status below the step it was applied at: in one place
                # the two answers (this click's and the run's) could arrive in either order.
                turn_status = gr.Markdown(elem_id="train-turn-status")
            with gr.Row(equal_height=False):
                preview = gr.Image(label="Live samples", format="png", type="pil", interactive=False,
                                   elem_id="train-preview", elem_classes=["genai-digits"], height=320,
                                   buttons=["download", "fullscreen"], min_width=240)
                losses = gr.LinePlot(x="step", y="loss", color="curve", label="Loss curves", x_title="training step",
                                     y_title="loss", color_title="loss", elem_id="train-losses", min_width=240)
            with gr.Row(equal_height=False):  # why a GAN collapses (D), beside the collapse itself (the digits)
                histogram = gr.BarPlot(x="value", y="share", color="of", label="What the discriminator says, last step",
                                       x_title="D's output: 0 = fake, 1 = real", y_title="share of the batch",
                                       visible=False, elem_id="train-histogram", min_width=240)
                digits = live_digits.build()
            status = gr.Markdown(label="Status", show_label=False, elem_id="train-status")
            with gr.Row(equal_height=True):
                model_name = gr.Textbox(label="Your model's name", interactive=False, elem_id="train-model-name")
                download = gr.Button("Download model (.zip)", interactive=False, elem_id="train-download")
            download_file = gr.File(label="Your model: config.json + model.safetensors", visible=False,
                                    interactive=False, elem_id="train-download-file")
            steps_panel = step_mode.build()
            replay_panel = replay.build()
            gr.Markdown(
                f"Runs on **{describe(model_store.app_device())}**. A run stops after at most **{clock(cap)}** "
                f"(the server's `GENAI_MAX_TRAIN_SECONDS`). {settings.train_concurrency()} runs can happen at once "
                "on this server; more wait in line.",
                elem_classes=["genai-note"], elem_id="train-device",
            )
        with gr.Column(scale=3, min_width=280, elem_classes=["genai-explain"]):
            explanation = gr.Markdown(family_class("gan").explanation, latex_delimiters=LATEX_DELIMITERS)
    with gr.Accordion("The code that runs each step, with each loss marked by its formula", open=True):
        text, where = training_code(family_class("gan"))
        code = gr.Code(text, language="python", label=f"The code that runs: {where}", interactive=False,
                       elem_id="train-code", max_lines=60)

    family_outputs = [arch, conditional, latent_dim, seconds, batch_size, lr, beta, explanation, code, live_beta, live_lr,
                      d_lr_ratio, live_ratio]
    # .input: when the visitor picks a family (a preset sets the family and its own settings together).
    family.input(
        family_changed, family, family_outputs,
        api_visibility="private", show_progress="hidden",
    )
    demo_choice.input(preset_chosen, demo_choice, [family, *family_outputs, demo_note], api_visibility="private",
                      show_progress="hidden")
    dataset.change(friendly(datasets.status), dataset, dataset_status, api_name="dataset_status", show_progress="hidden")
    fields = {"seconds": seconds, "latent_dim": latent_dim, "batch_size": batch_size, "lr": lr, "seed": seed,
              "max_steps": max_steps, "d_lr_ratio": d_lr_ratio}
    for name, field in fields.items():
        field.change(field_message(FIELD_CHECKS[name]), field, field, api_visibility="private", show_progress="hidden",
                     concurrency_limit=None)
    return TrainTab(
        dataset=dataset, dataset_status=dataset_status, start=start, stop=stop, progress=progress, losses=losses,
        preview=preview, status=status, histogram=histogram, digits=digits, model_name=model_name, download=download, download_file=download_file,
        replay=replay_panel, steps=steps_panel, live_lr=live_lr, live_beta=live_beta, live_ratio=live_ratio, turn=turn,
        turn_status=turn_status,
        inputs=[dataset, family, arch, conditional, latent_dim, seconds, batch_size, lr, beta, seed, max_steps, d_lr_ratio],
    )


def connect(tab, session, pickers, vae_pickers=(), lists=()):
    """Wire Start and Stop.

    `pickers` are the model dropdowns of the other tabs: when training ends they list the new
    model and select it (those in `vae_pickers` only select a VAE). `lists` (multi-model pickers,
    like Compare's) list it without changing what is selected.
    """
    outputs = {
        "progress": tab.progress, "losses": tab.losses, "preview": tab.preview, "status": tab.status,
        "model_name": tab.model_name, "download": tab.download, "start": tab.start, "stop": tab.stop,
        "dataset_status": tab.dataset_status, "pickers": pickers, "vae_pickers": list(vae_pickers),
        "lists": list(lists), "session": session, "replay_frame": tab.replay.frame,
        "replay_picture": tab.replay.picture, "replay_caption": tab.replay.caption, "histogram": tab.histogram,
        "digits": tab.digits,  # API clients get it after the dataset status (buttons and the session are not sent)
    }

    @friendly
    def run(dataset, family, arch, conditional, latent_dim, seconds, batch_size, lr, beta, seed, max_steps, d_lr_ratio,
            session):
        yield from train_model(
            dataset, family, arch, conditional, latent_dim, seconds, batch_size, lr, beta, seed, max_steps, d_lr_ratio,
            session, outputs=outputs,
        )

    replay_outputs = [tab.replay.frame, tab.replay.picture, tab.replay.caption, tab.histogram]
    extra = ("pickers", "vae_pickers", "lists", "replay_frame", "replay_picture", "replay_caption", "histogram")  # at the end
    components = ([value for key, value in outputs.items() if key not in extra]
                  + list(pickers) + list(lists) + replay_outputs)
    pressed = tab.start.click(
        mark_waiting, session, [tab.start, tab.stop, tab.status, tab.download_file, tab.model_name, tab.turn_status],
        api_visibility="private",
        show_progress="hidden",
        concurrency_limit=None,
    )
    started = pressed.then(
        on_gpu(run, seconds=settings.max_train_seconds() + 60), tab.inputs + [session], components, api_name="train",
        show_progress="minimal", show_progress_on=[tab.status],
        # Runs wait for a training slot inside train_model (where Stop reaches them); this bounds how many may wait.
        concurrency_limit=settings.train_concurrency() + settings.TRAIN_WAITING_PLACES, concurrency_id="train",
    )
    # Start back on when the run ends: .then after success, .failure after an error (Gradio runs
    # .then only when the event succeeded), so a refused value never leaves Start locked.
    started.then(buttons_after_run, session, [tab.start, tab.stop], api_visibility="private", show_progress="hidden",
                 concurrency_limit=None)
    started.failure(buttons_after_failure, session, [tab.start, tab.stop, tab.status], api_visibility="private",
                    show_progress="hidden", concurrency_limit=None)
    tab.download.click(download_model, [tab.model_name, session], tab.download_file, api_name="download",
                       concurrency_limit=None, show_progress="hidden")
    tab.stop.click(stop_training, session, tab.status, api_name="stop", concurrency_limit=None, show_progress="hidden")
    replay.connect(tab.replay, tab.model_name, session)
    step_mode.connect(tab.steps, tab.status, session)
    tab.turn.click(set_knobs, [tab.live_lr, tab.live_beta, tab.live_ratio, session], tab.turn_status, api_name="set_knobs",
                   concurrency_limit=None, show_progress="hidden")
