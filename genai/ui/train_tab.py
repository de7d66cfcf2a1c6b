"""The Train tab: pick a dataset and a model, press Start, watch it learn.

While genai.train.train runs, this tab streams what it reports: a progress bar with
the ETA and images per second, the loss curves, and a grid decoded from the same fixed
noise every few seconds, so the class watches the same digits sharpen (and, under it, which
digits the grid shows, as the metrics classifier reads them: live_digits). When training
ends (or is stopped) the model is saved in the visitor's private folder, offered as a
.zip download and added to the model pickers of the other tabs.
"""

import inspect
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from ..costs import check_fits
from ..device import describe
from ..knobs import LiveKnobs, check_turn, live_settings
from ..models import create_model, model_class
from ..presets import PRESETS, preset
from ..recipes import form_defaults, model_options, recipe
from ..run_link import run_query
from ..settings import SETTINGS, check_values
from ..sampling import grid
from ..timelapse import Timelapse
from ..stepping import StepControl
from ..train import TrainSettings, preview_count, train, training_record
from ..training_together import run_group
from . import datasets, live_digits, model_store, replay, settings, shutdown, step_mode, visitors
from .code_view import training_code
from .errors import AppError, friendly
from .gpu import on_gpu
from .training_slots import TrainingSlots
from .train_form import (build_form, build_knobs, checked_form, field_check, field_info,
                         filled, shown_for)
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
            _slots = TrainingSlots(settings.train_concurrency(), settings.runs_per_visitor(),
                                   slot_mb=settings.train_memory_mb())
        return _slots

# The class view: the settings, the explanation and the code hidden, the live grid large beside the step and
# the losses (style.py), and the run scrolled to the top of the screen.
CLASS_VIEW_JS = """(on) => {
  document.body.classList.toggle('genai-class-view', on);
  if (on) document.querySelector('#train-main').scrollIntoView({block: 'start'});
  return [];
}"""

PREVIEW_WORDS = (f"Live samples: the digits the model being trained draws from the same fixed noise (seed "
                 f"{settings.PREVIEW_SEED}) at each preview, one column per digit 0 to 9 for a conditional model")

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
    link: gr.Textbox  # the finished run's link (genai/run_link.py)
    explanation: gr.Markdown  # what the chosen family does, with its losses
    code: gr.Code  # the code that runs each step of the chosen family
    download: gr.Button
    download_file: gr.File
    replay: replay.ReplayPanel
    steps: step_mode.StepPanel
    fields: dict  # setting name -> its field on the form (train_form.form_settings(), in that order)
    knobs: dict  # live setting name -> its box in the "while it trains" panel
    turn: gr.Button
    turn_status: gr.Markdown
    demonstration: gr.Dropdown = None  # the Demonstrations menu (a lesson step sets it)
    demonstration_note: gr.Markdown = None  # what to look for in the chosen demonstration

    @property
    def inputs(self):
        """The form's fields in the settings table's order: the /train endpoint's arguments."""
        return list(self.fields.values())


def family_class(family):
    """The model class of a family's recipe architecture: what the tab shows about the family."""
    return model_class(family, recipe(family)["arch"])


def clock(seconds):
    """Seconds as m:ss (or h:mm:ss)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_html(event, note="", losses=None):
    """A progress bar with step, epoch, speed and time left, and under it the latest losses
    ({name: value}), as HTML. The step and the losses have classes of their own: the class view
    (style.py) shows them in type a room can read."""
    percent = 100.0 * event.fraction
    steps = f"step {event.step:,}" + (f" of {event.total_steps:,}" if event.total_steps else "")
    parts = [f"epoch {event.epoch:.1f}"]
    if event.images_per_sec:
        parts.append(f"{event.images_per_sec:,.0f} images/s")
    parts.append(f"{clock(event.elapsed_seconds)} elapsed")
    if event.done:
        parts.append("done")
    else:
        parts.append(f"about {clock(event.eta_seconds)} left")
    text = f'<span class="genai-progress-step">{steps}</span><span class="genai-progress-then"> · </span>'
    return waiting_html(text + " · ".join(parts) + (f" — {note}" if note else ""), percent, losses_text(losses))


def losses_text(losses):
    """The latest losses in words, "loss: L_D 0.693 · L_G 1.21" (also the loss plot's text alternative)."""
    if not losses:
        return ""
    return "loss: " + " · ".join(f"{name} {value:.4g}" for name, value in losses.items())


def waiting_html(text, percent=0.0, losses=""):
    return (
        '<div class="genai-progress">'
        f'<div class="genai-progress-track"><div class="genai-progress-fill" style="width: {percent:.1f}%"></div></div>'
        f'<div class="genai-progress-text">{text}</div>'
        + (f'<div class="genai-progress-losses">{losses}</div>' if losses else "")
        + "</div>"
    )


def make_settings(checked):
    """TrainSettings from the form's checked values: a budget in seconds, or steps if fewer."""
    return TrainSettings(
        batch_size=checked["batch_size"], lr=checked["lr"], seed=checked["seed"],
        preview_seconds=settings.PREVIEW_SECONDS, preview_images=preview_count(checked["conditional"]),
        preview_seed=settings.PREVIEW_SEED, max_steps=checked.get("max_steps"), max_seconds=checked["seconds"],
    )


def loss_table(rows):
    """The loss history as the line plot wants it: one row per (step, loss value, curve name)."""
    table = pd.DataFrame(rows, columns=["step", "loss", "curve"])
    return table.astype({"step": "int64", "loss": "float64", "curve": "string"})


def train_model(values, session, *, outputs):
    """Train a model with the form's values ({setting name: value}) and stream progress; `outputs` names the
    widgets each update goes to."""
    ui = outputs
    controls = session.controls()
    controls.waiting = False
    if shutdown.RESTARTING.is_set():
        raise AppError(shutdown.restart_message())
    if not controls.busy.acquire(blocking=False):
        raise AppError("You are already training a model in this tab: press Stop first, or wait until it ends.")
    shutdown.run_started(controls)  # a server told to end (SIGTERM) stops it and says why
    try:
        controls.stop.clear()
        if controls.cancel_waiting:  # Stop was pressed between Start and this run's first step
            controls.cancel_waiting = False
            yield {ui["status"]: "Cancelled before it started.", ui["progress"]: waiting_html("Press Start to train.")}
            return
        checked = checked_form(values, settings.max_train_seconds())
        family, arch, dataset_name = checked["family"], checked["arch"], checked["dataset"]
        train_settings = make_settings(checked)
        # The recipe's model settings the form does not show (e.g. ema_decay), then the form's.
        options = model_options({**recipe(family), **checked}, family, arch)
        need_mb = check_fits(family, arch, options, train_settings.batch_size, settings.train_memory_mb())  # no wait
        # Runs of one group (where they train together: GENAI_STACK_RUNS) share a slot; refused if this visitor
        # has a run training or waiting.
        group = run_group(family, arch, options, train_settings.batch_size, model_store.app_device())
        slot = training_slots().lease(visitors.current(), group, need_mb)
        try:
            yield {
                ui["progress"]: waiting_html("Waiting for a free training slot ..."),
                ui["status"]: "Getting ready ...",
                ui["losses"]: None,  # clear old curves (None, not an empty table: the plot would not redraw)
                ui["histogram"]: gr.update(value=None, visible=False),  # shown again if this model has diagnostics
                ui["digits"]: live_digits.update(None, dataset_name),  # shown again with the first preview
                ui["start"]: gr.update(interactive=False),
                ui["stop"]: gr.update(interactive=True),
            }
            while not slot.take(timeout=WAIT_POLL_SECONDS):
                if controls.stop.is_set():  # Stop (browser or API) while waiting: never starts
                    yield {ui["status"]: shutdown.restart_message() if shutdown.RESTARTING.is_set() else
                           "Cancelled before it started.",
                           ui["progress"]: waiting_html("Press Start to train.")}
                    return
                yield {ui["status"]: f"Waiting: all {settings.train_concurrency()} training slots of this server are "
                                     "busy. Your run starts when one is free (Stop cancels it)."}
            controls.slot = slot  # step mode lends it while the run is paused and another run waits
            yield from run_training(dataset_name, family, arch, checked["conditional"], train_settings, options,
                                    session, ui, checked)
        finally:
            slot.end()
            controls.slot = None
    finally:
        shutdown.run_ended(controls)
        controls.busy.release()


def run_training(dataset_name, family, arch, conditional, train_settings, options, session, ui, form_values):
    """The training itself, once a slot is free: stream progress, then keep the model in the session.
    form_values: the form's checked values, which the link to this run carries."""
    controls = session.controls()
    yield {ui["progress"]: waiting_html(f"Loading {dataset_name} ...")}
    dataset = datasets.get(dataset_name, download=True)
    device = model_store.app_device()
    model = create_model(family, arch, seed=train_settings.seed, **options).to(device)
    where = describe(device)
    if dataset.warning:
        gr.Warning(dataset.warning)
    controls.live_values = {"lr": train_settings.lr, **{name: getattr(model.config, name)
                                                         for name in live_settings(model) if name != "lr"}}
    controls.fixed_values = {"batch_size": train_settings.batch_size, "seed": train_settings.seed}
    yield {
        ui["status"]: f"Training: {model.describe()}, on {len(dataset):,} images of the {dataset.split} split "
                      f"({where}).",
        ui["dataset_status"]: datasets.status(dataset_name),
        **knob_updates(ui["knobs"], controls.live_values),  # the panel shows this run's own values
    }

    rows, last, last_sent, turned, diagnostics, latest = [], None, 0.0, [], {}, {}
    shown = model.plotted_losses
    timelapse = controls.timelapse = Timelapse()  # replayable while the run goes on
    controls.knobs, controls.model = LiveKnobs(), model  # turned from the "while it trains" row (set_knobs)
    controls.stepper = StepControl(max_pause_seconds=settings.max_pause_seconds(), slot=controls.slot)  # pause / step / resume
    try:
        for event in train(model, dataset, train_settings, stop=controls.stop, knobs=controls.knobs,
                           stepper=controls.stepper):
            last = event
            timelapse.add(event)
            turned.extend(event.changes)
            diagnostics = event.diagnostics or diagnostics
            if not event.done:
                rows.extend((event.step, value, name) for name, value in event.losses.items() if name in shown)
                latest = {name: value for name, value in event.losses.items() if name in shown}
                for change in event.changes:  # a vertical line on the loss plot where a knob was turned
                    rows.extend(change_marker(rows, change))
            now = time.perf_counter()
            # (A step where a knob was turned is always sent: the status says it was applied, and at which step.)
            if not event.done and (event.preview is not None or event.changes or now - last_sent >= UI_REFRESH_SECONDS):
                paused = "paused: step mode" if controls.stepper.paused else ""
                update = {ui["progress"]: progress_html(event, paused, latest), ui["losses"]: loss_table(rows)}
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
    if shutdown.RESTARTING.is_set():  # the server is ending: say so, keep nothing (its folders go with it)
        yield {ui["status"]: shutdown.restart_message(last.step if last is not None else None),
               ui["progress"]: progress_html(last, losses=latest) if last is not None else waiting_html("")}
        return

    name = session.new_model_name(family, arch, conditional, taken=model_store.pretrained_folders())
    training = training_record(dataset, train_settings, device, last, train_settings.lr or model.default_lr,
                               app="genai web app", family=family, arch=arch, options=options)
    if turned:
        training["live_changes"] = turned  # what was turned, and at which step (the config holds the last values)
    else:  # (a run whose knobs were turned cannot be re-run from its settings alone)
        training["link"] = run_query(form_values, last.step)
    entry, dropped = session.keep(name, model, dataset=dataset_name, steps=last.step, training=training)
    entry.timelapse = timelapse
    choices = model_store.choices(session)
    info = model_store.picker_info(choices)
    update = {ui["progress"]: progress_html(last, losses=latest), ui["losses"]: loss_table(rows)}
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
    update[ui["link"]] = gr.update(value=session.page_url + training["link"] if "link" in training else "",
                                   visible="link" in training)
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


def knob_updates(knobs, values):
    """The knob panel showing values ({name: value}): each knob the run has, filled; the others hidden."""
    return {box: gr.update(value=values[name], visible=True) if name in values else gr.update(visible=False)
            for name, box in knobs.items()}


def set_knobs(values, session):
    """Turn this tab's run while it trains: each live setting whose value differs from the run's own now
    (values: {name: value}, as the panel or an API client sends them); applied before its next step."""
    # The numbers first, so a bad one gets its own message whether or not a run is going on.
    values = check_values({name: value for name, value in values.items() if value is not None},
                          name_of=lambda setting: setting.label)
    controls = session.controls()
    knobs, model = controls.knobs, controls.model
    if knobs is None or model is None:
        raise AppError("Nothing is training in this tab: the live knobs turn a run while it goes on. Press Start first.")
    # Only what differs from the run's own values turns: a knob left as the panel showed it is not sent again.
    changed = {name: value for name, value in values.items()
               if value is not None and name in controls.live_values and value != controls.live_values[name]}
    if not changed:
        return "Nothing to turn: every knob shows the run's own value. Change one, then press Turn now."
    values = check_turn(model, changed)
    knobs.turn(**values)
    controls.live_values.update(values)
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
    if entry is None or entry.archive is None or entry.folder is None or not Path(entry.folder).is_dir():
        raise AppError("Train a model first: its download appears here when the run ends.")
    session.touch()
    return gr.update(value=str(entry.zipped()), visible=True,
                     label=f"{model_name}.zip: config.json + model.safetensors")


@friendly
def stop_training(session):
    """Ask this tab's training run to stop after its current step (the model is kept).

    A run still waiting for a free training slot is cancelled instead (from the browser or the API:
    the run waits in its own handler, which watches the same Stop switch).
    """
    controls = session.controls()
    if controls.busy.locked():
        controls.stop.set()
        if controls.slot is not None and not controls.slot.held:
            return ("Stopping: your run lent its training slot to another run while it was paused. It takes its "
                    "last step as soon as a slot is free, then ends; its model is kept.")
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
            "",  # nor the knobs the last run turned
            gr.update(value="", visible=False),  # nor the last run's link
            *previous_run_cleared())


def previous_run_cleared():
    """Updates that take the last run's files off the tab when a new run starts: its Download button, and
    the replay panel's picture, caption and GIF (the panel replays the new run as it goes)."""
    return (gr.update(value="Download model (.zip)", interactive=False), None, "", gr.update(value=None, visible=False))


def buttons_after_run(session):
    """Start back on and Stop off, unless another run of this session is still training."""
    running = session.controls().busy.locked()
    return gr.update(interactive=not running), gr.update(interactive=running)


def field_message(check, info):
    """An event handler that shows check's message under a form field while its value is wrong.

    The same checks run again when Start is pressed (and for API clients), so a wrong value
    never trains; this only says what is wrong, next to the field, as soon as it is typed.
    """
    def show(value):
        try:
            check(value)
        except AppError as error:
            return gr.update(info=f"⚠ {error}")
        return gr.update(info=info)

    return show


def buttons_after_failure(session):
    """After a refused or failed run: Start back on, and the status says what to do."""
    start, stop = buttons_after_run(session)
    return start, stop, "Nothing was trained: correct what the message names, then press Start again."


def family_changed(family, tab_parts):
    """The family's recipe (as the CLI uses it, for the app's device) in the form and the knob panel, and its
    explanation and code. tab_parts: {"fields", "knobs", "explanation", "code"}. Returns {component: update}."""
    values = form_defaults(family, device=model_store.app_device())
    values.pop("family")  # (the family field is what the visitor just chose)
    fields = {name: box for name, box in tab_parts["fields"].items() if name != "family"}
    return {
        **filled(fields, family, values, settings.max_train_seconds()),
        **filled(tab_parts["knobs"], family, values),
        tab_parts["explanation"]: family_class(family).explanation,
        tab_parts["code"]: code_update(family),
    }


def code_update(family):
    """The code view for a family: its loss functions and training step, read from its module."""
    text, where = training_code(family_class(family))
    return gr.update(value=text, label=f"The code that runs: {where}")


def preset_chosen(name, tab_parts):
    """Fill the form and the knob panel with a demonstration's settings, and say what to look for."""
    if not name:
        return {tab_parts["note"]: ""}
    family = PRESETS[name]["family"]
    values = {**form_defaults(family, device=model_store.app_device()), **preset(name)}
    return {
        **family_changed(family, tab_parts),  # the family's form, then the preset's own values on top
        **filled(tab_parts["fields"], family, values, settings.max_train_seconds()),
        **filled(tab_parts["knobs"], family, values),
        tab_parts["note"]: f"**What to look for:** {PRESETS[name]['explanation']}",
    }


def build():
    """Lay out the Train tab (inside an open gr.Tab) and wire its own events."""
    cap = settings.max_train_seconds()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300, elem_id="train-settings"):  # hidden in the class view
            demo_choice = gr.Dropdown([("—", "")] + [(entry["title"], name) for name, entry in PRESETS.items()],
                                      value="", label="Demonstrations: settings that show a known behaviour",
                                      elem_id="train-preset")
            demo_note = gr.Markdown(elem_classes=["genai-note"], elem_id="train-preset-note")
            fields = build_form("gan", cap)
            dataset_status = gr.Markdown(label="Dataset status", show_label=False, elem_classes=["genai-note"],
                                         elem_id="train-dataset-status")
        with gr.Column(scale=5, min_width=380, elem_id="train-main"):
            with gr.Row():
                start = gr.Button("Start training", variant="primary", elem_id="train-start")
                stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="train-stop")
                class_view = gr.Checkbox(False, label="Class view", elem_id="train-class-view", min_width=120)
            progress = gr.HTML(waiting_html("Press Start to train."), label="Progress", elem_id="train-progress")
            # The live grid and the loss curves first, right under the progress bar: at a projector's 1280x720
            # they are the part of a running run the class must see without scrolling.
            with gr.Row(equal_height=False, elem_id="train-live-row"):
                # Its text alternative is fixed (an update carrying one would reach API clients as a dict, not a
                # picture); the progress bar beside it says the step, and the digits chart what it shows.
                preview = gr.Image(label="Live samples", format="png", type="pil", interactive=False,
                                   elem_id="train-preview", elem_classes=["genai-digits"], height=320,
                                   buttons=["download", "fullscreen"], min_width=240, alt_text=PREVIEW_WORDS)
                losses = gr.LinePlot(x="step", y="loss", color="curve", label="Loss curves", x_title="training step",
                                     y_title="loss", color_title="loss", elem_id="train-losses", min_width=240,
                                     height=250)  # whole beside the grid at 1280x720, under a lesson's banner too
            with gr.Accordion("Turn the knobs while it trains", open=False, elem_id="train-knobs"):
                gr.Markdown("The boxes show the running run's own values. Change one and press Turn now: only what "
                            "you changed is turned.", elem_classes=["genai-note"])
                with gr.Row(equal_height=True):
                    knobs = build_knobs("gan")
                    turn = gr.Button("Turn now", elem_id="train-turn", min_width=80)
                gr.Markdown("Applied before the next step; the loss plot marks the step, and the model's "
                            "training record keeps every change.", elem_classes=["genai-note"])
                # What was asked for shows here, and the status below the step it was applied at: in one place
                # the two answers (this click's and the run's) could arrive in either order.
                turn_status = gr.Markdown(elem_id="train-turn-status")
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
            link = gr.Textbox(label="Link to this run: opens the app with its settings and seed, to run it again",
                              interactive=False, visible=False, buttons=["copy"], elem_id="train-link")
            steps_panel = step_mode.build()
            replay_panel = replay.build()
            gr.Markdown(
                f"Runs on **{describe(model_store.app_device())}**. A run stops after at most **{clock(cap)}** "
                f"(the server's `GENAI_MAX_TRAIN_SECONDS`). {settings.train_concurrency()} runs can happen at once "
                "on this server; more wait in line.",
                elem_classes=["genai-note"], elem_id="train-device",
            )
        with gr.Column(scale=3, min_width=280, elem_classes=["genai-explain"], elem_id="train-explain"):
            explanation = gr.Markdown(family_class("gan").explanation, latex_delimiters=LATEX_DELIMITERS)
    with gr.Accordion("The code that runs each step, with each loss marked by its formula", open=True,
                      elem_id="train-code-panel"):
        text, where = training_code(family_class("gan"))
        code = gr.Code(text, language="python", label=f"The code that runs: {where}", interactive=False,
                       elem_id="train-code", max_lines=60)

    # The class view is the page's own business (a class on the body, style.py's CSS): it works at once, even
    # while the run's stream keeps the server busy, and never reaches the server.
    class_view.change(None, class_view, None, js=CLASS_VIEW_JS)
    tab_parts = {"fields": fields, "knobs": knobs, "explanation": explanation, "code": code, "note": demo_note}
    family_outputs = [*fields.values(), *knobs.values(), explanation, code]
    # .input: when the visitor picks a family (a preset sets the family and its own settings together).
    fields["family"].input(lambda family: family_changed(family, tab_parts), fields["family"], family_outputs,
                           api_visibility="private", show_progress="hidden")
    fields["arch"].input(lambda family, arch: shown_for({**fields, **knobs}, family, arch),
                         [fields["family"], fields["arch"]], [*fields.values(), *knobs.values()],
                         api_visibility="private", show_progress="hidden")
    demo_choice.input(lambda name: preset_chosen(name, tab_parts), demo_choice, [*family_outputs, demo_note],
                      api_visibility="private", show_progress="hidden")
    fields["dataset"].change(friendly(datasets.status), fields["dataset"], dataset_status, api_name="dataset_status",
                             show_progress="hidden")
    for name, field in fields.items():
        if SETTINGS[name].kind in ("whole", "number"):
            field.change(field_message(field_check(name), field_info(name, cap)), field, field, api_visibility="private",
                         show_progress="hidden", concurrency_limit=None)
    return TrainTab(
        dataset=fields["dataset"], dataset_status=dataset_status, start=start, stop=stop, progress=progress,
        losses=losses, preview=preview, status=status, histogram=histogram, digits=digits, model_name=model_name,
        download=download, download_file=download_file, link=link, explanation=explanation, code=code,
        replay=replay_panel, steps=steps_panel, fields=fields,
        knobs=knobs, turn=turn, turn_status=turn_status, demonstration=demo_choice, demonstration_note=demo_note,
    )


def by_name(names):
    """A signature (*names, session): Gradio names an endpoint's arguments after its function's parameters."""
    parameters = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in (*names, "session")]
    return inspect.Signature(parameters)


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
        "knobs": tab.knobs, "link": tab.link,
    }

    @friendly
    def run(*values):
        *form_values, session = values
        yield from train_model(dict(zip(tab.fields, form_values)), session, outputs=outputs)

    run.__signature__ = by_name(tab.fields)  # the API's arguments are named after the settings

    @friendly
    def turn(*values):
        *knob_values, session = values
        return set_knobs(dict(zip(tab.knobs, knob_values)), session)

    turn.__signature__ = by_name(tab.knobs)

    replay_outputs = [tab.replay.frame, tab.replay.picture, tab.replay.caption, tab.histogram]
    extra = ("pickers", "vae_pickers", "lists", "replay_frame", "replay_picture", "replay_caption", "histogram",
             "knobs", "link")  # at the end
    components = ([value for key, value in outputs.items() if key not in extra]
                  + list(pickers) + list(lists) + replay_outputs + list(tab.knobs.values()) + [tab.link])
    pressed = tab.start.click(
        mark_waiting, session,
        [tab.start, tab.stop, tab.status, tab.download_file, tab.model_name, tab.turn_status, tab.link,
         tab.download, tab.replay.picture, tab.replay.caption, tab.replay.gif],
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
    tab.turn.click(turn, [*tab.knobs.values(), session], tab.turn_status, api_name="set_knobs",
                   concurrency_limit=None, show_progress="hidden")
