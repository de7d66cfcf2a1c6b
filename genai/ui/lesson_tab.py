"""The "Start here" tab: a lesson leads the class through the app, one step at a time.

A lesson is a file (genai/lessons/*.md, read by genai.lessons when the app starts). Each step
shows a few sentences and a question for the class to answer *before* anything is pressed; its
one button then sets the app up: it fills the Train form or picks a model and its inputs, opens
the step's tab, and presses that tab's own button (Start training, Interpolate, Compare, ...)
where the step says so. A banner above the tabs then says what to look for, and leads back to the
lesson's next step.

The button works by name: each tab's widgets are found under the names lessons use (TAB_INPUTS
in genai/lessons), and a train step fills the form through the Train tab's own functions.
"""

import logging
from dataclasses import dataclass

import gradio as gr

from ..lessons import LessonError, shipped_lessons
from ..recipes import form_defaults
from . import model_store, settings
from .errors import friendly
from .train_form import filled
from .train_tab import family_changed

log = logging.getLogger("genai.ui")

LESSON_TAB = "start"  # the tab's id in gr.Tabs
# The Interpolate tab's inputs in order (interpolate_tab.build's `inputs`), by the names lessons use.
INTERPOLATE_NAMES = ("model", "source", "seed_a", "seed_b", "index_a", "index_b", "upload_a", "upload_b", "steps",
                     "path", "digit", "digit_b")
# Which tab a picker is in decides whether it needs a model with an encoder (Explore: reconstructions, drawings).
NEEDS_ENCODER = {"explore"}


@dataclass
class LessonTab:
    lesson: gr.Dropdown
    steps: gr.Radio
    step_text: gr.Markdown
    question: gr.Markdown
    button: gr.Button
    look_for: gr.Markdown
    next_step: gr.Button
    action: gr.Textbox  # the elem_id of the button a step presses after setting up ("" for none)


@dataclass
class LessonBanner:
    """Above the tabs, while a step is under way: what to look for, and the way back to the lesson."""

    row: gr.Row
    text: gr.Markdown
    back: gr.Button


def load_lessons():
    """({name: Lesson}, problem or "") from genai/lessons: a broken file is said, not a crash of the app."""
    try:
        return shipped_lessons(), ""
    except LessonError as error:
        log.error("A lesson file has a mistake: %s", error)
        return {}, str(error)


LESSONS, PROBLEM = load_lessons()


def step_choices(lesson):
    return [(f"{number}. {step.title}", number - 1) for number, step in enumerate(lesson.steps, start=1)]


def step_card(lesson_name, index):
    """The step's text, its question, its button's words, and its look-for hidden until pressed."""
    lesson = LESSONS.get(lesson_name)
    if lesson is None:
        return "Choose a lesson.", "", gr.update(visible=False), gr.update(value="", visible=False)
    index = min(max(int(index or 0), 0), len(lesson.steps) - 1)
    step = lesson.steps[index]
    text = f"### Step {index + 1} of {len(lesson.steps)}: {step.title}\n\n{step.text}"
    question = f"**Ask the class first:** {step.question}"
    return text, question, gr.update(value=step.button, visible=True), gr.update(value="", visible=False)


def next_step(lesson_name, index):
    """The step after index (the last one stays), shown on the lesson tab, which opens."""
    lesson = LESSONS.get(lesson_name)
    last = len(lesson.steps) - 1 if lesson else 0
    following = min(int(index or 0) + 1, last)
    return (gr.update(value=following), *step_card(lesson_name, following), gr.Tabs(selected=LESSON_TAB),
            gr.update(visible=False))


def model_for(step, choices, session):
    """The step's model if this server has it, else the picker's best model (and a note saying so)."""
    names = [name for _, name in choices]
    if step.model in names:
        return step.model, ""
    rank = draws_in_steps if step.tab == "sample" and step.start else None  # its button draws steps side by side
    chosen = model_store.preferred(choices, session, needs_encoder=step.tab in NEEDS_ENCODER, rank=rank)
    if step.model and chosen:
        return chosen, f" ({step.model} is not on this server: {chosen} instead.)"
    return chosen, ""


def draws_in_steps(name, metadata):
    """Models with a number of sampling steps first (model_store.preferred's rank), from their config.json."""
    return ("sampling_steps" in (metadata.get("config") or {}),)


def train_updates(step, train):
    """The Train form, its knob panel, explanation, code and demonstration menu set up for a train step."""
    values = step.train_values()
    family = values["family"]
    form = {**form_defaults(family, values.get("arch"), device=model_store.app_device()), **values}
    cap = settings.max_train_seconds()
    parts = {"fields": train.fields, "knobs": train.knobs, "explanation": train.explanation, "code": train.code}
    updates = {**family_changed(family, parts), **filled(train.fields, family, form, cap),
               **filled(train.knobs, family, form)}
    updates[train.demonstration] = step.demonstration or ""
    updates[train.demonstration_note] = ""  # the banner says what to look for
    return updates


def set_up(lesson_name, index, session, targets):
    """Everything the step's button changes: {component: update}. targets: see connect()."""
    lesson = LESSONS[lesson_name]
    step = lesson.steps[int(index)]
    updates, note = {}, ""
    widgets = targets["widgets"][step.tab]
    if step.tab == "train":
        updates.update(train_updates(step, targets["train"]))
    if step.model or step.tab in NEEDS_ENCODER:
        choices = model_store.choices(session)
        chosen, note = model_for(step, choices, session)
        if chosen:
            updates[widgets["model"]] = gr.update(value=chosen)
    if step.tab == "interpolate" and {"seed_a", "seed_b"} & set(step.values):
        updates[widgets["source"]] = gr.update(value="seeds")
    for name, value in step.values.items():
        if step.tab != "train":
            updates[widgets[name]] = gr.update(value=int(value) if name == "samples" else value)
    action = targets["run_buttons"].get(step.tab, "") if step.start else ""
    if action and step.tab in targets["panels"]:  # a button inside a closed panel: open it, so it can be pressed
        updates[targets["panels"][step.tab]] = gr.update(open=True)
    if step.tab == "train" and step.start and session.controls().busy.locked():
        action = ""
        note += " A run of yours is still training: press Stop in the Train tab, then this step's button again."
    said = f"**Step {int(index) + 1} of {len(lesson.steps)}: {step.title}.** Look for: {step.look_for}{note}"
    updates.update({
        targets["tabs"]: gr.Tabs(selected=step.tab),
        targets["banner"].row: gr.update(visible=True),
        targets["banner"].text: said,
        targets["lesson"].look_for: gr.update(value=f"**Afterwards, look for:** {step.look_for}{note}", visible=True),
        targets["lesson"].action: action,
    })
    return updates


PRESS = """async (id) => {
  // The step's own button (Start training, Interpolate, ...), pressed as a visitor would press it, once
  // its tab has been drawn (a tab opened for the first time draws its widgets a moment later).
  for (let tries = 0; id && tries < 50; tries++) {
    const button = document.querySelector(`#${id}`);
    if (button && button.offsetParent !== null && !button.disabled) { button.click(); return; }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}"""


def build():
    """Lay out the lesson tab (inside an open gr.Tab) and return its widgets."""
    names = list(LESSONS)
    first = LESSONS[names[0]] if names else None
    if PROBLEM:
        gr.Markdown(f"**A lesson file has a mistake, so it is not offered:** {PROBLEM}", elem_id="lesson-problem")
    lesson = gr.Dropdown([(LESSONS[name].title, name) for name in names], value=names[0] if names else None,
                         label="Lesson", visible=len(names) > 1, elem_id="lesson-choice")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=240):
            gr.Markdown(f"### {first.title}\n\n{first.about}" if first else "No lesson is installed.",
                        elem_classes=["genai-note"], elem_id="lesson-about")
            steps = gr.Radio(step_choices(first) if first else [], value=0, label="Steps", elem_id="lesson-steps",
                             elem_classes=["genai-lesson-steps"])
        with gr.Column(scale=5, min_width=360, elem_classes=["genai-lesson-card"]):
            text, question, button_update, _ = step_card(names[0] if names else None, 0)
            step_text = gr.Markdown(text, elem_id="lesson-step")
            question_box = gr.Markdown(question, elem_id="lesson-question", elem_classes=["genai-lesson-question"])
            button = gr.Button(button_update.get("value", ""), variant="primary", size="lg", elem_id="lesson-go",
                               visible=first is not None)
            look_for = gr.Markdown(visible=False, elem_id="lesson-look-for")
            next_button = gr.Button("Next step →", elem_id="lesson-next", size="sm")
            action = gr.Textbox(visible=False, elem_id="lesson-action")
    return LessonTab(lesson, steps, step_text, question_box, button, look_for, next_button, action)


def build_banner():
    """The banner above the tabs (hidden until a step's button is pressed)."""
    with gr.Row(visible=False, elem_id="lesson-banner", elem_classes=["genai-lesson-banner"],
                equal_height=True) as row:
        text = gr.Markdown(elem_id="lesson-banner-text")
        back = gr.Button("Next step of the lesson →", size="sm", scale=0, min_width=200, elem_id="lesson-back")
    return LessonBanner(row, text, back)


def tab_widgets(train, sample, interpolate, compare, explore, evaluate):
    """{tab: {name a lesson uses: widget}}: the names of genai.lessons.TAB_INPUTS (and "model"), found."""
    return {
        "train": dict(train.fields),
        "sample": {"model": sample.picker, "seed": sample.seed, "digit": sample.digit, "grid_size": sample.grid_size,
                   "temperature": sample.temperature},
        "interpolate": dict(zip(INTERPOLATE_NAMES, interpolate.inputs)),
        "compare": {"seed": compare.seed, "digit": compare.digit, "grid_size": compare.grid_size},
        "explore": {"model": explore.picker, "seed": explore.seed, "digit": explore.digit},
        "evaluate": dict(zip(("model", "samples", "seed"), evaluate.inputs)),
    }


def connect(tab, banner, session, tabs, page, train, sample, interpolate, compare, explore, evaluate):
    """Wire the lesson to the tabs it sets up. page: the lesson's gr.Tab."""
    widgets = tab_widgets(train, sample, interpolate, compare, explore, evaluate)
    run_buttons = {"train": train.start.elem_id, "sample": sample.side_by_side.elem_id,
                   "interpolate": interpolate.button.elem_id,
                   "compare": compare.button.elem_id, "explore": explore.button.elem_id,
                   "evaluate": evaluate.button.elem_id}
    panels = {"sample": sample.drawing_panel}
    targets = {"widgets": widgets, "run_buttons": run_buttons, "panels": panels, "train": train, "tabs": tabs,
               "banner": banner,
               "lesson": tab}
    outputs = {tabs, banner.row, banner.text, tab.look_for, tab.action, *panels.values(), train.explanation, train.code,
               train.demonstration, train.demonstration_note, *train.knobs.values()}
    for named in widgets.values():
        outputs.update(named.values())

    card = [tab.step_text, tab.question, tab.button, tab.look_for]
    tab.steps.input(friendly(step_card), [tab.lesson, tab.steps], card, api_visibility="private",
                    show_progress="hidden")
    tab.lesson.input(lambda name: (gr.update(choices=step_choices(LESSONS[name]), value=0), *step_card(name, 0)),
                     tab.lesson, [tab.steps, *card], api_visibility="private", show_progress="hidden")
    tab.button.click(
        friendly(lambda name, index, session: set_up(name, index, session, targets)), [tab.lesson, tab.steps, session],
        list(outputs), api_visibility="private", show_progress="hidden",
    ).then(None, tab.action, None, js=PRESS, api_visibility="private")
    for button in (tab.next_step, banner.back):
        button.click(friendly(next_step), [tab.lesson, tab.steps], [tab.steps, *card, tabs, banner.row],
                     api_visibility="private", show_progress="hidden")
    page.select(lambda: gr.update(visible=False), None, banner.row, api_visibility="private", show_progress="hidden")
