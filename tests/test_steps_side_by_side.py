"""The Sample tab draws the same noise in 1, 2, 4 and the chosen number of steps, side by side (issue 43 item 1:
"let the class see 1, 2, 4 and 20 steps side by side"), and the lesson's step presses that button."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio")

from genai.lessons import shipped_lessons  # noqa: E402
from genai.models import create_model  # noqa: E402
from genai.sampling import grid, sample  # noqa: E402
from genai.ui import model_store, sample_tab  # noqa: E402
from genai.ui.errors import AppError  # noqa: E402
from genai.ui.result_cache import ResultCache  # noqa: E402
from genai.ui.session import ModelEntry  # noqa: E402


def entry_of(model, name):
    return ModelEntry(name, model, {"config": model.config.to_dict()}, "pretrained")


@pytest.fixture
def store(monkeypatch, tmp_path):
    models = {
        "tiny-diffusion": create_model("diffusion", "unet", conditional=True, channels=8, sampling_steps=3).eval(),
        "tiny-gan": create_model("gan", "mlp", conditional=False).eval(),
    }
    entries = {name: entry_of(model, name) for name, model in models.items()}
    monkeypatch.setattr(model_store, "find", lambda name, session: entries[name])
    monkeypatch.setattr(sample_tab, "pictures_folder", lambda: tmp_path)
    monkeypatch.setattr(sample_tab, "RESULTS", ResultCache(max_bytes=2**24))  # nothing from other tests
    return models


def pixels(path):
    picture = np.asarray(Image.open(path).convert("L"))
    return picture[::sample_tab.DISPLAY_SCALE, ::sample_tab.DISPLAY_SCALE]


def test_the_same_noise_is_drawn_in_one_two_four_and_the_chosen_steps_each_as_the_sample_tab_draws_it(store):
    model = store["tiny-diffusion"]
    gallery = sample_tab.steps_side_by_side("tiny-diffusion", 7, 1, "all", 1.0, 3, 1.5, None)
    assert [caption.split(" step")[0] for _, caption in gallery] == ["1", "2", "3", "4"]
    for (path, caption), steps in zip(gallery, (1, 2, 3, 4), strict=True):
        passes = model.sampling_passes(sampling_steps=steps, guidance_scale=1.5)
        assert f"10 digits of tiny-diffusion, seed 7, {passes} network pass" in caption  # also its alt text
        # Each picture is the seed's grid at that many steps: one row of the digits 0 to 9.
        expected = grid(sample(model, 7, 10, labels=None, sampling_steps=steps, guidance_scale=1.5),
                        columns=10)
        assert np.array_equal(pixels(path), np.asarray(expected)), steps
    one, four = pixels(gallery[0][0]).astype(int), pixels(gallery[-1][0]).astype(int)
    assert np.abs(one - four).mean() > 1  # the steps change the picture


def test_the_chosen_steps_among_the_fewest_are_drawn_once_and_the_grid_is_at_most_four_rows(store):
    gallery = sample_tab.steps_side_by_side("tiny-diffusion", 7, 12, "all", 1.0, 2, 1.0, None)
    assert [caption.split(" step")[0] for _, caption in gallery] == ["1", "2", "4"]
    rows = pixels(gallery[0][0]).shape[0] // 28
    assert rows <= sample_tab.MAX_DRAWING_SIDE


def test_a_model_without_steps_says_so_and_which_to_try(store):
    with pytest.raises(AppError, match="has no number of steps to change.*Try a diffusion model"):
        sample_tab.steps_side_by_side("tiny-gan", 7, 2, "all", 1.0, 20, 2.0, None)


def test_a_side_by_side_too_long_for_the_server_is_refused_before_anything_is_drawn(store, monkeypatch):
    from genai.ui import batching, request_costs

    monkeypatch.setattr(request_costs, "max_request_seconds", lambda: 1e-9)
    drawn = []
    monkeypatch.setattr(batching, "timed_decode", lambda *args: drawn.append(args))
    with pytest.raises(AppError, match="one request may take at most"):
        sample_tab.steps_side_by_side("tiny-diffusion", 8, 1, "all", 1.0, 3, 1.0, None)
    assert drawn == []


def test_the_lessons_diffusion_step_presses_the_side_by_side_button():
    lesson = shipped_lessons()["four-families"]
    step = next(step for step in lesson.steps if step.tab == "sample" and step.start)
    assert step.model == "diffusion" and "1, 2, 4 and 20 steps" in step.button
