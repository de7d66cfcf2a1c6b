"""Lessons (genai/lessons): the shipped lesson is complete and fits a class's minute per step, and a
mistake in a lesson file is a message naming its file and line."""

from pathlib import Path

import pytest

from genai.lessons import LessonError, TAB_INPUTS, parse_lesson, read_lesson, shipped_lessons
from genai.presets import PRESETS, preset
from genai.recipes import recipe

REPO = Path(__file__).resolve().parents[1]
GOOD_STEP = """## Watch a GAN learn
A GAN is two networks in a game.

Question: What will the grid show?
Button: Train a GAN
Tab: train
Set: family = gan, seconds = 30
Start: yes
Look for: Digits.
"""


def lesson_text(step=GOOD_STEP):
    return f"# A lesson\n\nAn introduction.\n\n{step}"


def test_the_shipped_lesson_leads_through_all_four_families_in_about_eight_short_steps():
    lesson = shipped_lessons()["four-families"]
    assert 6 <= len(lesson.steps) <= 10
    families = set()
    for step in lesson.steps:
        assert step.question.endswith("?") and step.look_for and step.button and step.text.count(".") >= 2
        if step.tab == "train":
            values = step.train_values()
            families.add(values["family"])
            seconds = {**recipe(values["family"]), **(preset(step.demonstration) if step.demonstration else {}),
                       **values}["seconds"]
            assert seconds <= 60, step.title  # each run within about a minute on a free 2-vCPU Space
            assert step.start
        if step.model:
            assert (REPO / "checkpoints" / step.model / "config.json").is_file(), step.model  # a shipped model
    assert {"gan", "vae"} <= families
    assert {step.tab for step in lesson.steps} >= {"train", "sample", "interpolate", "compare", "explore"}
    assert {"mode-collapse", "mode-collapse-cure"} <= {step.demonstration for step in lesson.steps}


def test_a_step_reads_as_the_file_says():
    step = parse_lesson(lesson_text()).steps[0]
    assert (step.title, step.tab, step.start, step.line) == ("Watch a GAN learn", "train", True, 5)
    assert step.train_values() == {"family": "gan", "seconds": 30.0}
    walk = parse_lesson(lesson_text(GOOD_STEP.replace("Tab: train", "Tab: interpolate").replace(
        "Set: family = gan, seconds = 30", "Set: seed_a = 7, digit = 3, digit_b = 8\nModel: gan-conditional")))
    assert walk.steps[0].values == {"seed_a": 7, "digit": "3", "digit_b": "8"}
    assert walk.steps[0].model == "gan-conditional"
    demo = parse_lesson(lesson_text(GOOD_STEP.replace("Set: family = gan, seconds = 30", "Demonstration: beta-large")))
    assert demo.steps[0].train_values() == {"family": "vae", **PRESETS["beta-large"]["changes"]}


@pytest.mark.parametrize("change, line, words", [
    (("# A lesson", "A lesson"), 1, "starts with its title"),
    (("Question:", "Quesiton:"), 8, "did you mean \"Question:\""),
    (("Question: What will the grid show?\n", ""), 5, "has no \"Question:\" line"),
    (("Tab: train", "Tab: trian"), 10, "there is no tab 'trian'"),
    (("Set: family = gan, seconds = 30", "Demonstration: mode-colapse"), 11, "no demonstration 'mode-colapse'"),
    (("seconds = 30", "seconds = -3"), 11, "seconds must be a number above 0"),
    (("seconds = 30", "secnds = 30"), 11, "no setting 'secnds'. Did you mean 'seconds'?"),
    (("seconds = 30", "seconds 30"), 11, "name = value pairs"),
    (("family = gan, seconds = 30", "seconds = 30"), 11, "a train step names its model"),
    (("family = gan", "family = gan, beta = 2"), 11, "only applies to"),
    (("Start: yes", "Start: sure"), 12, "Start is yes or no"),
    (("Look for: Digits.", "Look for: Digits.\nButton: Again"), 14, "a second \"Button:\""),
    (("A GAN is two networks in a game.", ""), 5, "has no text"),
    (("## Watch", "### Watch"), 5, "a step starts with \"## \""),
])
def test_a_mistake_in_a_lesson_file_names_its_line(tmp_path, change, line, words):
    old, new = change
    text = lesson_text()
    assert old in text
    path = tmp_path / "my-lesson.md"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(LessonError) as error:
        read_lesson(path)
    assert f"my-lesson.md, line {line}:" in str(error.value), str(error.value)
    assert words in str(error.value)


def test_tab_rules_are_checked_where_they_are_written():
    sample = GOOD_STEP.replace("Tab: train", "Tab: sample").replace("Set: family = gan, seconds = 30",
                                                                        "Set: seed = 42")
    with pytest.raises(LessonError, match="line 11: the compare tab has no model picker"):
        parse_lesson(lesson_text(sample.replace("Tab: sample", "Tab: compare\nModel: gan-conditional")
                                 .replace("Start: yes", "Start: no")))
    with pytest.raises(LessonError, match="seed must be a whole number"):
        parse_lesson(lesson_text(sample.replace("seed = 42", "seed = -1").replace("Start: yes", "")))


def test_a_file_that_is_not_text_or_too_long_is_refused_by_name(tmp_path):
    binary = tmp_path / "photo.md"
    binary.write_bytes(b"\xff\xd8\xff\xe0" * 10)
    with pytest.raises(LessonError, match="photo.md is not UTF-8 text"):
        read_lesson(binary)
    huge = tmp_path / "huge.md"
    huge.write_text("# A\n" + "x" * 70_000)
    with pytest.raises(LessonError, match="huge.md: 70,004 bytes is too long"):
        read_lesson(huge)


def test_every_tab_input_a_lesson_may_set_is_a_widget_of_that_tab():
    gr = pytest.importorskip("gradio")
    from genai.ui import compare_tab, evaluate_tab, explore_tab, interpolate_tab, lesson_tab, sample_tab, train_tab

    with gr.Blocks():
        built = [train_tab.build(), *(tab.build([]) for tab in (sample_tab, interpolate_tab, compare_tab, explore_tab,
                                                                 evaluate_tab))]
    widgets = lesson_tab.tab_widgets(*built)
    for tab, inputs in TAB_INPUTS.items():
        assert set(inputs) <= set(widgets[tab]), tab
        assert all(isinstance(widget, gr.components.Component) for widget in widgets[tab].values())
