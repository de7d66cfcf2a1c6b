"""The Train tab's code view: each family's real training step and loss functions, each loss call
marked with its formula, read from the source (so it follows any change to the code)."""

import inspect

import pytest

from genai.models import ARCHS, FAMILIES, model_class
from genai.ui.code_view import formula, training_code


@pytest.mark.parametrize("family", FAMILIES)
def test_the_code_view_shows_the_running_training_step_with_every_loss_marked_by_its_formula(family):
    cls = model_class(family, ARCHS[family][0])
    text, where = training_code(cls)
    assert where.startswith("genai/models/") and "training_step" in where
    assert "def training_step(self, images, labels, optimizers, rng):" in text
    for function in cls.loss_functions:  # the loss functions as they are in the module, formula included
        assert inspect.getsource(function).strip() in text
        assert formula(function) in text
    marked = [line for line in text.splitlines() if "  # <- " in line]
    assert marked, "the lines that compute the loss terms are marked"
    for line in marked:
        name = next(f.__name__ for f in cls.loss_functions if f.__name__ + "(" in line)
        assert line.endswith(formula(next(f for f in cls.loss_functions if f.__name__ == name)))


def test_the_code_view_follows_the_source_not_a_copy(monkeypatch):
    """If the module's code changes, the view changes: it is read with inspect each time."""
    cls = model_class("gan", "mlp")
    original = inspect.getsource

    def edited(obj):
        text = original(obj)
        return text.replace("optimizers[\"discriminator\"].step()", "optimizers[\"discriminator\"].step()  # edited by a teacher") if obj is cls.training_step else text

    monkeypatch.setattr(inspect, "getsource", edited)
    assert "# edited by a teacher" in training_code(cls)[0]
