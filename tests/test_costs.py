"""A run's memory is estimated before it starts (genai/costs.py), from what benchmarks/train_memory.py
measured, and a run over the server's budget is refused at once with the largest batch that fits."""

import json
import re
import time
from pathlib import Path

import pytest

from benchmarks.train_memory import split_name
from genai.costs import OverBudgetError, check_fits, run_cost
from genai.models import MODELS
from genai.recipes import model_options, recipe

REPO = Path(__file__).resolve().parents[1]
MEASURED = sorted((REPO / "benchmarks" / "results").glob("train-memory-cpu-*.json"))


def test_the_estimate_lies_above_every_run_measured():
    points = json.loads(MEASURED[-1].read_text())["points"]
    assert {split_name(point["model"])[:2] for point in points} == set(MODELS)  # every architecture was measured
    for point in points:
        family, arch, sizes = split_name(point["model"])
        assert run_cost(family, arch, sizes).peak_mb(point["batch_size"]) >= point["growth_mb"], point


def test_runs_trained_through_the_app_added_less_than_their_estimate():
    points = json.loads(sorted((REPO / "benchmarks" / "results").glob("train-memory-app-cpu-*.json"))[-1].read_text())
    for point in points["points"]:
        family, arch, sizes = split_name(point["model"])
        assert run_cost(family, arch, sizes).peak_mb(point["batch_size"]) >= point["growth_mb"], point


def test_the_memory_benchmark_measures_a_run_in_a_fresh_process(mnist_dir):
    from benchmarks.train_memory import fit_line, measure

    points = [measure("vae-mlp", batch, 1, mnist_dir) for batch in (4, 8)]
    assert all(p["growth_mb"] > 0 and p["rss_before_mb"] > 0 and p["parameters"] > 0 for p in points)
    assert set(fit_line(points)) == {"fixed_mb", "per_image_mb", "largest_miss_mb", "points"}


def largest_in(message):
    return int(re.search(r"The largest batch that fits is ([0-9,]+): lower the batch size", message)[1].replace(",", ""))


@pytest.mark.parametrize("family, arch", [("autoregressive", "lstm"), ("autoregressive", "pixelcnn")])
def test_the_known_worst_runs_are_refused_with_the_largest_batch_that_fits(family, arch):
    """The LSTM and the PixelCNN at batch 1,024 took 7.4 and 6.8 GB; one run may take 3,072 MB by default."""
    with pytest.raises(OverBudgetError, match=r"A batch of 1,024 images needs about [0-9,]+ MB to train this") as error:
        check_fits(family, arch, {}, 1024, 3072)
    assert "this server gives a run at most 3,072 MB" in str(error.value)
    largest = largest_in(str(error.value))
    assert 64 < largest < 1024
    assert check_fits(family, arch, {}, largest, 3072) <= 3072
    with pytest.raises(OverBudgetError):
        check_fits(family, arch, {}, largest + 1, 3072)


@pytest.mark.parametrize("family, arch", sorted(MODELS))
def test_every_models_recipe_trains_within_the_default_budget(family, arch):
    options = model_options({**recipe(family), "conditional": True}, family, arch)
    assert check_fits(family, arch, options, recipe(family)["batch_size"], 3072) < 3072


def test_a_bigger_model_is_estimated_to_cost_more():
    for family, arch, bigger in [("autoregressive", "pixelcnn", {"channels": 64}), ("autoregressive", "pixelcnn", {"layers": 12}),
                                 ("autoregressive", "lstm", {"hidden_size": 256}), ("gan", "dcgan", {"extra_layers": 2}),
                                 ("gan", "dcgan", {"r1_gamma": 10.0}), ("diffusion", "unet", {"channels": 64})]:
        assert run_cost(family, arch, bigger).peak_mb(64) > run_cost(family, arch, {}).peak_mb(64), (arch, bigger)


def test_a_model_too_big_at_any_batch_is_refused_as_such():
    with pytest.raises(OverBudgetError, match="needs about [0-9,]+ MB to train even at a batch of 2.*choose a smaller"):
        check_fits("autoregressive", "pixelcnn", {"channels": 256, "layers": 30}, 64, 1000)


def test_the_budget_is_a_server_setting_shared_by_the_runs_at_once(monkeypatch):
    from genai.ui import settings

    monkeypatch.delenv("GENAI_TRAIN_MEMORY_MB", raising=False)
    monkeypatch.setenv("GENAI_TRAIN_CONCURRENCY", "2")
    assert settings.train_memory_mb() == 3072
    monkeypatch.setenv("GENAI_TRAIN_CONCURRENCY", "3")
    assert settings.train_memory_mb() == 2048
    monkeypatch.setenv("GENAI_TRAIN_MEMORY_MB", "500")
    assert settings.train_memory_mb() == 500


def test_the_train_tab_refuses_a_run_over_the_budget_within_a_second(monkeypatch):
    pytest.importorskip("gradio")
    from genai.ui import train_tab
    from genai.ui.session import Session

    monkeypatch.setenv("GENAI_TRAIN_CONCURRENCY", "2")
    monkeypatch.delenv("GENAI_TRAIN_MEMORY_MB", raising=False)
    monkeypatch.setattr(train_tab, "_slots", None)
    session = Session()
    form = {"dataset": "mnist", "family": "autoregressive", "arch": "lstm", "conditional": True, "latent_dim": 784,
            "seconds": 60, "batch_size": 1024, "lr": 1e-3, "beta": 1.0, "seed": 0, "max_steps": 10, "d_lr_ratio": 1.0}
    started = time.perf_counter()
    with pytest.raises(OverBudgetError) as error:
        next(train_tab.train_model(form, session, outputs={}))
    assert time.perf_counter() - started < 1.0
    assert largest_in(str(error.value)) < 1024
    assert not session.controls().busy.locked() and train_tab.training_slots().free == 2  # it kept nothing
