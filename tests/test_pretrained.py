"""The shipped pretrained checkpoints load, sample, and draw digits the classifier recognizes.

A quality floor, not a benchmark: unconditional models must draw at least 60% digits the
classifier is >= 90% sure about; conditional models must draw the digit asked for at least
70% of the time. Each learned from the train split only, and its model card carries the
figures of its own `eval --json` (checkpoints/eval/NAME.json), measured on the test split.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from genai.checkpoints import load_model
from genai.metrics import classifier_probabilities, confident_share
from genai.sampling import sample

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
EXPECTED = ("gan-mlp", "gan-dcgan", "gan-conditional", "vae-mlp", "vae-2d", "vae-conditional", "vae-conv",
            "diffusion", "diffusion-conditional", "autoregressive", "autoregressive-conditional")
REQUIRED = True  # every expected pretrained model must ship, with its model card
N_SAMPLES = 300  # a floor, not the figure: eval --json measures 2,000
MIN_RECOGNIZABLE = 0.6
MIN_LABEL_AGREEMENT = 0.7


def generative_checkpoints():
    """Every folder under checkpoints/ with a config.json, except the metrics classifier."""
    if not CHECKPOINTS.is_dir():
        return []
    return sorted(p.name for p in CHECKPOINTS.iterdir()
                  if p.is_dir() and p.name != "classifier" and (p / "config.json").is_file())


@pytest.mark.parametrize("name", sorted(set(EXPECTED) | set(generative_checkpoints())))
def test_pretrained_checkpoint_draws_recognizable_digits(name):
    folder = CHECKPOINTS / name
    if not (folder / "config.json").is_file():
        if REQUIRED:
            pytest.fail(f"checkpoints/{name} is missing: every expected pretrained model must ship.")
        pytest.skip(f"checkpoints/{name} is not trained yet (GENAI_REQUIRE_PRETRAINED=1 makes this a failure)")
    if REQUIRED:
        assert (folder / "README.md").is_file(), f"checkpoints/{name} has no README.md model card"

    model, metadata = load_model(folder)
    assert metadata["dataset"] == "mnist"
    training = metadata["training"]
    assert training["split"] == "train" and training["verified_files"] is True  # never the test images
    assert training["images"] == training["split_images"]  # the whole train split, not a subset
    images = sample(model, seed=0, n=N_SAMPLES)  # conditional models: digits 0, 1, ..., 9 in turn
    probs = classifier_probabilities(images)
    if model.conditional:
        asked = np.arange(N_SAMPLES) % model.config.num_classes
        agreement = float((probs.argmax(axis=1) == asked).mean())
        assert agreement >= MIN_LABEL_AGREEMENT, f"{name}: only {agreement:.0%} of samples show the digit asked for"
    else:
        share = confident_share(probs)
        assert share >= MIN_RECOGNIZABLE, f"{name}: only {share:.0%} of samples are recognizable digits"


@pytest.mark.parametrize("name", EXPECTED)
def test_the_model_card_carries_the_figures_of_its_own_eval(name):
    results = json.loads((CHECKPOINTS / "eval" / f"{name}.json").read_text())
    card = (CHECKPOINTS / name / "README.md").read_text()
    assert results["trained_on_eval_images"] is False and "test split" in results["dataset"]
    assert results["n_samples"] == 2000
    for figure in (f"{results['fid']:.2f}", f"{100 * results['recognizable_share']:.1f}%",
                   " ".join(str(count) for count in results["class_counts"])):
        assert figure in card, f"checkpoints/{name}/README.md does not show {figure} from its eval"
    assert card.startswith("---\nlicense:") and "Measured against the MNIST test split" in card


def figures_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("figures", CHECKPOINTS / "figures.py")
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    return figures


def test_the_docs_table_is_the_output_of_the_figures_script():
    """The figures of the shipped models in docs/models.md are pasted from `python checkpoints/figures.py`, not typed."""
    page = (CHECKPOINTS.parent / "docs" / "models.md").read_text()
    assert figures_script().table() in page, "docs/models.md: paste the output of python checkpoints/figures.py"


@pytest.mark.parametrize("name", EXPECTED)
def test_the_model_card_is_exactly_what_its_config_and_eval_json_give(name):
    """Cards are written by `python checkpoints/figures.py --cards`, never by hand: Hub metadata included."""
    figures = figures_script()
    card = (CHECKPOINTS / name / "README.md").read_text()
    assert card == figures.card_text(name), f"checkpoints/{name}/README.md: run python checkpoints/figures.py --cards"
    front = card.split("---")[1]
    for line in ("library_name: genai", "- ylecun/mnist", "pipeline_tag: unconditional-image-generation"):
        assert line in front


@pytest.mark.parametrize("name", sorted(set(EXPECTED) | set(generative_checkpoints())))
def test_a_seed_fixes_the_digits_of_every_sampler_of_the_model(name):
    """Issue 43: whichever way a shipped model draws (its own sampling settings, fewer steps as the Sample
    tab's steps side by side asks, or row by row as its grid streams), a seed names the same digits."""
    from genai.sampling import decode, decode_in_parts, label_tensor, seeded_latents

    model, _ = load_model(CHECKPOINTS / name)
    samplers = [{}] + [{"sampling_steps": steps} for steps in (1, 2, 4) if "sampling_steps" in model.sampling_options]
    for options in samplers:
        first = sample(model, 5, 4, **options)
        assert np.array_equal(first, sample(model, 5, 4, **options)), options
        assert not np.array_equal(first, sample(model, 6, 4, **options)), options
    z, labels = seeded_latents(model, 5, 4), label_tensor(model, None, 4)
    *_, whole = decode_in_parts(model, z, labels)  # the streamed grid's last picture: the grid in one piece
    assert np.array_equal(whole, decode(model, z, labels))
