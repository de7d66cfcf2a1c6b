"""Lessons: a teacher's path through the app, one Markdown file per lesson, read when the app starts.

A lesson file is plain Markdown a teacher can read and edit. Its first line is the lesson's title,
the paragraphs after it introduce the lesson, and each "## " heading starts a step:

    # The four families

    Eight steps, about half an hour.

    ## Watch a GAN learn
    Two or three sentences the teacher reads out (any lines that are not fields).

    Question: What will the grid show after 5 seconds?
    Button: Train a GAN for a minute
    Tab: train
    Set: family = gan, seconds = 60
    Start: yes
    Look for: Noise turns into blobs, then digits.

A step's fields, one line each:
- Question: asked of the class *before* anything is pressed (required);
- Button: the words on the one button that sets the app up for the step (required);
- Tab: the tab the button opens: train, sample, interpolate, compare, explore or evaluate (required);
- Demonstration: one of the Train tab's demonstrations (genai/presets.py), for the train tab;
- Model: the model the tab's picker shows (a server without it shows its best model instead);
- Set: name = value pairs for the tab: for the train tab the settings of genai/settings.py (on top
  of the demonstration or the family's recipe), for the others the inputs in TAB_INPUTS below;
- Start: yes to also press the tab's own button (Start training, Interpolate, Compare, ...; on the
  Sample tab, the one that draws the grid in 1, 2, 4 and the chosen number of steps side by side);
- Look for: what the class should see afterwards (required).

Everything is checked when the lesson is read, the settings by the same checks as the Train form
(recipes.check_run_settings); a mistake is a LessonError naming the file and the line.

    lesson = read_lesson(Path("genai/lessons/four-families.md"))
    lessons = shipped_lessons()  # {name: Lesson} of every *.md file in this folder
"""

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..presets import PRESETS
from ..recipes import check_run_settings
from ..sampling import MAX_SEED
from ..settings import SETTINGS, Setting, SettingsError

LESSONS_DIR = Path(__file__).resolve().parent
MAX_FILE_BYTES = 64 * 1024  # a lesson is a few kilobytes of text
MAX_STEPS = 20
MAX_TITLE_CHARS = 80
MAX_BUTTON_CHARS = 40
MAX_TEXT_CHARS = 700  # "two or three sentences": what fits beside the question at a projector's size

FIELDS = ("Question", "Button", "Tab", "Demonstration", "Model", "Set", "Start", "Look for")
REQUIRED = ("Question", "Button", "Tab", "Look for")
DIGITS = tuple(str(digit) for digit in range(10))


def whole(name, low, high):
    return Setting(name, "whole", "", low=low, high=high)


def one_of(name, *choices):
    return Setting(name, "choice", "", choices=tuple(choices))


# What a step may set on each tab besides the train tab (whose settings are genai/settings.py's):
# name -> how its value is checked. genai/ui/lesson_tab.py maps each name to its widget.
TAB_INPUTS = {
    "train": {},
    "sample": {"seed": whole("seed", 0, MAX_SEED), "digit": one_of("digit", "all", *DIGITS),
               "grid_size": whole("grid_size", 1, 12), "temperature": Setting("temperature", "number", "", 0.1, 2.0)},
    "interpolate": {"seed_a": whole("seed_a", 0, MAX_SEED), "seed_b": whole("seed_b", 0, MAX_SEED),
                    "digit": one_of("digit", *DIGITS), "digit_b": one_of("digit_b", "same", *DIGITS),
                    "steps": whole("steps", 2, 64), "path": one_of("path", "slerp", "lerp")},
    "compare": {"seed": whole("seed", 0, MAX_SEED), "digit": one_of("digit", "all", *DIGITS),
                "grid_size": whole("grid_size", 1, 6)},
    "explore": {"seed": whole("seed", 0, 2**32 - 1), "digit": one_of("digit", *DIGITS)},
    "evaluate": {"samples": one_of("samples", "500", "1000", "2000"), "seed": whole("seed", 0, 2**32 - 1)},
}
TABS_WITH_A_MODEL = ("sample", "interpolate", "explore", "evaluate")  # one model picker each


class LessonError(ValueError):
    """A lesson file that cannot be used, with the file and line of the mistake, for a teacher to fix."""


@dataclass(frozen=True)
class Step:
    """One step of a lesson: what to say, what to ask, what the button sets up, what to look for."""

    title: str
    text: str
    question: str
    button: str
    tab: str
    look_for: str
    line: int  # where the step starts in its file
    demonstration: str | None = None
    model: str | None = None
    values: dict = field(default_factory=dict)  # checked values to set: settings (train) or tab inputs
    start: bool = False

    def train_values(self):
        """For a train step: the form's values it sets: the demonstration's changes, then its own Set
        (the Train tab puts them on top of the family's recipe for its device)."""
        changes = dict(PRESETS[self.demonstration]["changes"]) if self.demonstration else {}
        family = PRESETS[self.demonstration]["family"] if self.demonstration else self.values.get("family")
        return {"family": family, **changes, **self.values}


@dataclass(frozen=True)
class Lesson:
    name: str  # the file's name without .md
    title: str
    about: str
    steps: tuple


def read_lesson(path):
    """The lesson in a file, checked; LessonError names the file and line of any mistake."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LessonError(f"{path.name}: {size:,} bytes is too long for a lesson (at most {MAX_FILE_BYTES:,}).")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LessonError(f"{path.name} is not UTF-8 text: save it as UTF-8.") from None
    except OSError as error:
        raise LessonError(f"{path.name} cannot be read ({error.strerror}).") from None
    return parse_lesson(text, path.stem, source=path.name)


def shipped_lessons(folder=LESSONS_DIR):
    """{name: Lesson} of every lesson file (*.md) in folder, in name order."""
    return {path.stem: read_lesson(path) for path in sorted(Path(folder).glob("*.md"))}


def parse_lesson(text, name="lesson", source="the lesson"):
    """A Lesson from a lesson file's text (see the module docstring for the format)."""
    lines = text.splitlines()
    numbered = [(number, line.rstrip()) for number, line in enumerate(lines, start=1)]
    content = [(number, line) for number, line in numbered if line.strip()]
    if not content or not content[0][1].startswith("# "):
        where = content[0][0] if content else 1
        raise LessonError(f"{source}, line {where}: a lesson starts with its title, as \"# Title\".")
    title_line, title = content[0][0], content[0][1][2:].strip()
    check_length(title, MAX_TITLE_CHARS, "The lesson's title", source, title_line)
    headings = [number for number, line in numbered if line.startswith("## ")]
    before_steps = numbered[title_line:headings[0] - 1] if headings else numbered[title_line:]
    for number, line in before_steps:
        if line.startswith("#"):
            raise LessonError(f"{source}, line {number}: a step starts with \"## \" (two #, then a space).")
    if not headings:
        raise LessonError(f"{source}: the lesson has no steps: start each step with a \"## \" heading.")
    if len(headings) > MAX_STEPS:
        raise LessonError(f"{source}, line {headings[MAX_STEPS]}: a lesson has at most {MAX_STEPS} steps.")
    about = paragraphs([line for number, line in numbered[title_line:headings[0] - 1]])
    ends = headings[1:] + [len(lines) + 1]
    steps = tuple(parse_step(numbered[start - 1:end - 1], source) for start, end in zip(headings, ends))
    return Lesson(name=name, title=title, about=about, steps=steps)


def parse_step(numbered, source):
    """One step from its lines ((number, text) pairs, the "## " heading first)."""
    start, heading = numbered[0]
    title = re.sub(r"^\d+[.)]\s*", "", heading[3:].strip())  # "## 2. Mode collapse": the number is the app's
    if not title:
        raise LessonError(f"{source}, line {start}: this step has no title after \"## \".")
    check_length(title, MAX_TITLE_CHARS, "A step's title", source, start)
    found, at, text = {}, {}, []
    for number, line in numbered[1:]:
        if line.startswith("#"):
            raise LessonError(f"{source}, line {number}: only \"# \" (the lesson) and \"## \" (a step) headings "
                              "are used in a lesson.")
        key, value = field_line(line, source, number)
        if key is None:
            text.append(line)
            continue
        if key in found:
            raise LessonError(f"{source}, line {number}: a second \"{key}:\" in this step (the first is on line "
                              f"{at[key]}).")
        if not value:
            raise LessonError(f"{source}, line {number}: \"{key}:\" is empty.")
        found[key], at[key] = value, number
    for key in REQUIRED:
        if key not in found:
            raise LessonError(f"{source}, line {start}: the step \"{title}\" has no \"{key}:\" line.")
    words = paragraphs(text)
    if not words:
        raise LessonError(f"{source}, line {start}: the step \"{title}\" has no text: two or three sentences that "
                          "say what the class will see.")
    check_length(words, MAX_TEXT_CHARS, f"The text of \"{title}\"", source, start)
    check_length(found["Button"], MAX_BUTTON_CHARS, "A button's words", source, at["Button"])
    tab = found["Tab"].strip().lower()
    if tab not in TAB_INPUTS:
        raise LessonError(f"{source}, line {at['Tab']}: there is no tab {found['Tab']!r}: choose one of "
                          f"{', '.join(TAB_INPUTS)}.")
    step = Step(title=title, text=words, question=found["Question"], button=found["Button"], tab=tab,
                look_for=found["Look for"], line=start)
    return checked_actions(step, found, at, source)


def checked_actions(step, found, at, source):
    """The step with its Demonstration, Model, Set and Start checked against its tab."""
    def wrong(key, message):
        return LessonError(f"{source}, line {at[key]}: {message}")

    demonstration = found.get("Demonstration")
    if demonstration is not None:
        demonstration = demonstration.strip()
        if step.tab != "train":
            raise wrong("Demonstration", "a demonstration is set up in the train tab: give \"Tab: train\".")
        if demonstration not in PRESETS:
            raise wrong("Demonstration", f"there is no demonstration {demonstration!r}: choose one of "
                                         f"{', '.join(PRESETS)}.")
    model = found.get("Model")
    if model is not None:
        model = model.strip()
        if step.tab not in TABS_WITH_A_MODEL:
            raise wrong("Model", f"the {step.tab} tab has no model picker: a model is chosen in "
                                 f"{', '.join(TABS_WITH_A_MODEL)}.")
    start = False
    if "Start" in found:
        answer = found["Start"].strip().lower()
        if answer not in ("yes", "no"):
            raise wrong("Start", f"Start is yes or no, not {found['Start']!r}.")
        start = answer == "yes"
    values = checked_values(found["Set"], step.tab, source, at["Set"]) if "Set" in found else {}
    step = dataclasses.replace(step, demonstration=demonstration, model=model, values=values, start=start)
    if step.tab == "train":
        check_train_step(step, source, at.get("Set", at.get("Demonstration", step.line)))
    return step


def checked_values(text, tab, source, line):
    """"seed = 42, digit = 3" -> {"seed": 42, "digit": "3"}, each value checked for this tab."""
    values = {}
    for part in text.split(","):
        name, equals, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name or not value:
            raise LessonError(f"{source}, line {line}: write Set: as name = value pairs separated by commas, "
                              f"e.g. \"Set: seed = 42, digit = 3\"; {part.strip()!r} is not one.")
        allowed = form_settings() if tab == "train" else TAB_INPUTS[tab]
        if name not in allowed:
            close = difflib.get_close_matches(name, list(allowed), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            names = ", ".join(allowed) or "nothing"
            raise LessonError(f"{source}, line {line}: the {tab} tab has no setting {name!r}.{hint} It has: {names}.")
        setting = allowed[name]
        if setting.kind == "yes/no":
            value = {"yes": True, "true": True, "no": False, "false": False}.get(value.lower(), value)
        try:
            values[name] = setting.parse(value)
        except SettingsError as error:
            raise LessonError(f"{source}, line {line}: {name} {error}.") from None
    return values


def form_settings():
    """The Train form's settings (those with a label), by name."""
    return {name: setting for name, setting in SETTINGS.items() if setting.label}


def check_train_step(step, source, line):
    """A train step names its family (by a demonstration or Set: family = ...), and its values are ones
    the Train form takes together (an MLP has no channels), checked as the form checks them."""
    values = step.train_values()
    if values["family"] is None:
        raise LessonError(f"{source}, line {line}: a train step names its model: give \"Demonstration: ...\" or "
                          "\"Set: family = gan\" (gan, vae, autoregressive or diffusion).")
    try:
        check_run_settings(values)
    except SettingsError as error:
        raise LessonError(f"{source}, line {line}: {error}") from None


def field_line(line, source, number):
    """(field name, value) when the line is a field ("Question: ..."), else (None, None). A line that
    almost names a field ("Quesiton: ...") is a mistake, said as one."""
    match = re.match(r"^([A-Za-z][A-Za-z ]{0,20}):\s*(.*)$", line)
    if match is None:
        return None, None
    name = match[1].strip()
    for known in FIELDS:
        if name.lower() == known.lower():
            return known, match[2].strip()
    close = difflib.get_close_matches(name.lower(), [known.lower() for known in FIELDS], n=1, cutoff=0.75)
    if close:
        known = FIELDS[[f.lower() for f in FIELDS].index(close[0])]
        raise LessonError(f"{source}, line {number}: {name!r} is not a field of a step: did you mean \"{known}:\"?")
    return None, None


def paragraphs(lines):
    """Lines of text joined into paragraphs (a blank line between two), without leading or trailing blanks."""
    blocks, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append(" ".join(current))
            current = []
    if current:
        blocks.append(" ".join(current))
    return "\n\n".join(blocks)


def check_length(text, limit, what, source, line):
    if len(text) > limit:
        raise LessonError(f"{source}, line {line}: {what} is {len(text)} characters long; keep it to {limit} "
                          "(it has to fit a projector's screen).")
