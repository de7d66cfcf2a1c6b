"""The Train tab's demonstrations do what they promise, on a short run of the one training loop."""

import numpy as np
import pytest

from genai.data import load_dataset
from genai.metrics import classifier_probabilities, confident_share
from genai.models import create_model
from genai.presets import PRESETS, preset
from genai.recipes import model_options
from genai.sampling import sample
from genai.train import TrainSettings, train


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=10_000)


def trained(options, dataset, steps=400, family="vae"):
    model = create_model(family, options["arch"], seed=0, **model_options(options, family, options["arch"]))
    settings = TrainSettings(max_steps=steps, batch_size=options["batch_size"], lr=options["lr"], seed=0,
                             preview_images=0)
    last = list(train(model, dataset, settings))[-1]
    return model, last


@pytest.fixture(scope="module")
def gans(digits):
    """The three GAN demonstrations: mode collapse and its cure 500 steps each (the same run but for D's
    rate), the discriminator too strong 200 (it has won long before)."""
    steps = {"mode-collapse": 500, "mode-collapse-cure": 500, "strong-discriminator": 200}
    return {name: trained(preset(name), digits, steps=count, family="gan") for name, count in steps.items()}


def digits_drawn(model, n=500):
    """How many digits make up at least 5% of n samples, by the metrics classifier; and how much the samples vary."""
    images = sample(model, 0, n)
    shares = np.bincount(classifier_probabilities(images).argmax(axis=1), minlength=10) / n
    return int((shares >= 0.05).sum()), float(np.asarray(images, dtype=np.float32).std(axis=0).mean())


def test_mode_collapse_draws_copies_of_one_picture_and_the_cure_draws_many_digits(gans):
    collapsed, collapsed_spread = digits_drawn(gans["mode-collapse"][0])
    cured, cured_spread = digits_drawn(gans["mode-collapse-cure"][0])
    assert collapsed <= 2 and cured >= 7 and collapsed < cured, (collapsed, cured)
    assert collapsed_spread < cured_spread / 2, (collapsed_spread, cured_spread)  # near-copies of each other


def test_a_discriminator_too_strong_wins_the_game_and_its_generator_learns_nothing(gans):
    _, strong = gans["strong-discriminator"]
    _, balanced = gans["mode-collapse-cure"]
    assert strong.losses["D(x)"] > 0.95 and strong.losses["D(G(z))"] < 0.05 and strong.losses["L_D"] < 0.1, strong.losses
    assert balanced.losses["L_D"] > 0.3 and balanced.losses["D(x)"] - balanced.losses["D(G(z))"] < 0.8, balanced.losses
    share = {name: confident_share(classifier_probabilities(sample(gans[name][0], 0, 300)))
             for name in ("strong-discriminator", "mode-collapse-cure")}
    assert share["strong-discriminator"] <= 0.02 < 0.2 <= share["mode-collapse-cure"], share


def test_every_preset_says_what_to_look_for():
    for name, entry in PRESETS.items():
        assert entry["title"] and entry["explanation"].count(". ") >= 1
        assert preset(name)["seconds"] <= 60  # well under a minute on a 2-core CPU


def test_beta_zero_reconstructs_but_cannot_sample_and_beta_one_can(digits):
    zero, _ = trained(preset("beta-zero"), digits, steps=800)
    one, _ = trained({**preset("beta-zero"), "beta": 1.0}, digits, steps=800)
    share = {name: confident_share(classifier_probabilities(sample(model, 0, 300)))
             for name, model in (("zero", zero), ("one", one))}
    assert share["zero"] <= 0.05 and share["one"] >= share["zero"] + 0.2, share


def test_a_large_beta_collapses_the_posterior_into_one_blurry_digit(digits):
    large, last = trained(preset("beta-large"), digits)
    three, last_three = trained({**preset("beta-large"), "beta": 3.0}, digits)
    assert last.losses["KL"] < 1.0 < last_three.losses["KL"]  # the codes carry (almost) nothing
    spread = {name: float(np.asarray(sample(model, 0, 100), dtype=np.float32).std(axis=0).mean())
              for name, model in (("large", large), ("three", three))}
    assert spread["large"] < spread["three"] / 2, spread  # every sample is about the same digit
