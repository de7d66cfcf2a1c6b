"""Tests of the metrics (genai/metrics.py), the digit classifier behind them (genai/classifier.py)
and the `eval` command."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genai.__main__ import main
from genai.checkpoints import CheckpointError, load_model, save_model
from genai.classifier import (
    SHIPPED_DIR,
    accuracy,
    default_classifier,
    junk_images,
    load_classifier,
    random_shift,
    save_classifier,
    train_classifier,
)
from genai.data import load_dataset
from genai.metrics import (
    class_histogram,
    classifier_fid,
    classifier_inception_score,
    classifier_probabilities,
    confident_share,
    frechet_distance,
    generate_images,
    kernel_distance,
    kid_subset_size,
    label_agreement,
    negative_elbo,
    psnr,
    real_fid_floor,
    recognizable_share,
    squared_mmd,
    ssim,
)
from genai.models import create_model
from genai.models.vae import kl_divergence, reconstruction_loss
from genai.sampling import sample
from genai.train import TrainSettings, train

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mnist_test(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, split="test", download=False)


def noise_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


# --- Frechet distance --------------------------------------------------------------------------


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(400, 32)) @ np.random.default_rng(1).normal(size=(32, 32))
    assert frechet_distance(features, features) == pytest.approx(0, abs=1e-6)


def test_frechet_distance_matches_the_formula_for_a_scaled_copy():
    # b = 2a: mu_b = 2 mu_a, Sigma_b = 4 Sigma_a, (Sigma_a Sigma_b)^(1/2) = 2 Sigma_a, so
    # FD = ||mu_a||^2 + Tr(Sigma_a) + 4 Tr(Sigma_a) - 4 Tr(Sigma_a) = ||mu_a||^2 + Tr(Sigma_a).
    a = np.random.default_rng(2).normal(loc=0.5, size=(300, 8)) @ np.random.default_rng(3).normal(size=(8, 8))
    expected = np.sum(a.mean(axis=0) ** 2) + np.trace(np.cov(a, rowvar=False))
    assert frechet_distance(a, 2 * a) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a + 3.0) == pytest.approx(9.0 * a.shape[1], rel=1e-6)  # shifted means only


def reference_squared_mmd(x, y):
    """KID's unbiased MMD^2 with the cubic polynomial kernel, written out pair by pair as in Binkowski et al.
    2018, eq. (4), with k(a, b) = (a . b / d + 1)^3."""
    d, m = x.shape[1], len(x)

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_the_papers_formula_on_fixed_features():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 5)), rng.normal(loc=0.5, size=(12, 5))
    assert squared_mmd(x, y) == pytest.approx(reference_squared_mmd(x, y), rel=1e-10)
    # With one subset as large as the sets, KID is exactly that estimate (and its spread 0).
    assert kernel_distance(x, y, subsets=1, subset_size=12) == (pytest.approx(reference_squared_mmd(x, y)), 0.0)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_the_difference():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(600, 8)), rng.normal(size=(600, 8))
    same, spread = kernel_distance(a, b, subsets=20, subset_size=300)
    assert abs(same) < 3 * spread + 1e-3  # unbiased: 0 within its noise (it may be slightly negative)
    near, _ = kernel_distance(a, b + 0.3, subsets=20, subset_size=300)
    far, _ = kernel_distance(a, b + 1.0, subsets=20, subset_size=300)
    assert same < near < far
    with pytest.raises(ValueError, match="same D"):
        kernel_distance(a, b[:, :4])


def test_kids_spread_is_measured_when_the_sets_are_no_larger_than_a_subset():
    """1,000 samples and subsets of 1,000 made every subset the whole set: "7.52 ± 4.7e-15"."""
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(1000, 8)), rng.normal(loc=0.2, size=(1000, 8))
    value, spread = kernel_distance(a, b)
    assert spread > 0.05 * abs(value) and kid_subset_size(1000, 1000) == 500  # subsets of half the set differ


def test_kid_is_shown_to_the_precision_of_its_spread_and_a_negative_one_is_explained():
    from genai.figures_table import format_table, plus_minus
    from genai.ui.evaluate_tab import figures_markdown

    assert [plus_minus(7.5213, 0.3149), plus_minus(0.07981, 0.01234), plus_minus(752.4, 47.2)] == [
        "7.52 ± 0.31", "0.080 ± 0.012", "752 ± 47"]
    assert plus_minus(0.0798, 0.0) == "0.0798"  # no spread: no "± 0"
    results = {"model": "a model", "dataset": "the MNIST test split", "n_samples": 1000, "seed": 0, "fid": 9.0,
               "fid_real_floor": 4.0, "kid": 7.5213, "kid_std": 4.7e-15, "kid_real_floor": -0.14,
               "kid_subset_size": 500, "inception_score": 9.0, "inception_score_real": 9.8,
               "recognizable_share": 0.9, "recognizable_share_real": 0.98, "class_counts": [100] * 10}
    for text in (format_table(results), figures_markdown(results)):
        assert "e-15" not in text and "7.52 ±" not in text  # no precision the estimate does not have
        assert "unbiased estimate" in text and "below 0" in text  # why real digits show -0.14
    assert "7.52 ± 0.31" in figures_markdown({**results, "kid_std": 0.3149})


def test_frechet_distance_rejects_mismatched_features():
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(np.zeros((10, 4)), np.zeros((10, 5)))


# --- classifier-based scores -----------------------------------------------------------------


def test_inception_score_of_known_predictions():
    confident_balanced = np.eye(10)[np.arange(1000) % 10]
    assert classifier_inception_score(confident_balanced) == pytest.approx(10, rel=1e-6)
    one_class = np.eye(10)[np.zeros(1000, dtype=int)]
    assert classifier_inception_score(one_class) == pytest.approx(1, rel=1e-6)
    unsure = np.full((1000, 10), 0.1)
    assert classifier_inception_score(unsure) == pytest.approx(1, rel=1e-6)


def test_confident_share_and_histogram():
    probs = np.array([[0.95, 0.05], [0.6, 0.4], [0.1, 0.9], [0.02, 0.98]])
    assert confident_share(probs, threshold=0.9) == 0.75
    assert class_histogram(probs).tolist() == [2, 2]


def test_real_digits_score_far_better_than_noise(mnist_test):
    real = mnist_test.images.numpy()
    real_a, real_b = real[:500], real[500:1000]
    noise = noise_images(500)
    assert classifier_fid(real_b, real_a) < 0.1 * classifier_fid(noise, real_a)
    real_probs, noise_probs = classifier_probabilities(real_a), classifier_probabilities(noise)
    assert confident_share(real_probs) > 0.9 > 0.2 > confident_share(noise_probs)
    assert classifier_inception_score(real_probs) > 8 > 3 > classifier_inception_score(noise_probs)
    assert min(class_histogram(real_probs)) > 20  # every digit is present among 500 real ones


def test_real_fid_floor_is_small_and_uses_disjoint_sets(mnist_test):
    floor = real_fid_floor(mnist_test.images, 500, seed=0)
    assert 0 < floor < classifier_fid(noise_images(500), mnist_test.images[:500])
    with pytest.raises(ValueError, match="at most 5,000"):
        real_fid_floor(mnist_test.images, 6000)


# --- SSIM and PSNR -------------------------------------------------------------------------------


def test_ssim_is_one_for_identical_images_and_drops_with_noise(mnist_test):
    images = mnist_test.images[:50].float().div(255).unsqueeze(1)
    generator = torch.Generator().manual_seed(0)
    slightly = (images + 0.05 * torch.randn(images.shape, generator=generator)).clamp(0, 1)
    heavily = (images + 0.3 * torch.randn(images.shape, generator=generator)).clamp(0, 1)
    same, light, heavy = ssim(images, images), ssim(images, slightly), ssim(images, heavily)
    assert torch.allclose(same, torch.ones(50), atol=1e-5)
    assert (light < 0.99).all() and (heavy < light).all()
    assert torch.allclose(ssim(slightly, images), light, atol=1e-6)  # symmetric


def test_ssim_accepts_uint8_and_float_alike(mnist_test):
    as_uint8 = mnist_test.images[:10]
    as_float = as_uint8.float().div(255).unsqueeze(1)
    assert torch.allclose(ssim(as_uint8, as_uint8.flip(0)), ssim(as_float, as_float.flip(0)), atol=1e-6)


def test_psnr_known_value_and_identical_images():
    black = torch.zeros(3, 1, 28, 28)
    assert psnr(black, black + 0.1).tolist() == pytest.approx([20.0] * 3, rel=1e-5)  # MSE 0.01 -> 20 dB
    assert torch.isinf(psnr(black, black)).all()


# --- VAE: the ELBO -------------------------------------------------------------------------------


def test_negative_elbo_is_reconstruction_plus_kl_with_beta_one(mnist_test):
    images = mnist_test.images[:64]
    model = create_model("vae", "mlp", seed=0, beta=4.0)
    result = negative_elbo(model, images, seed=3)
    assert result["negative_elbo"] == pytest.approx(result["reconstruction"] + result["kl"], rel=1e-6)
    assert result == negative_elbo(model, images, seed=3)  # seeded: the same number every time

    # Recompute by hand with the same noise: the training beta (4) plays no part.
    x = images.float().div(255).unsqueeze(1)
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits = model.decode_logits(mu + torch.exp(0.5 * logvar) * eps)
        by_hand = (reconstruction_loss(logits, x) + kl_divergence(mu, logvar)).mean()
    assert result["negative_elbo"] == pytest.approx(float(by_hand), rel=1e-5)


def test_binarize_sets_every_pixel_to_zero_or_one_at_one_half(mnist_test):
    from genai.metrics import binarize

    images = mnist_test.images[:8]
    binary = binarize(images)
    assert binary.shape == (8, 1, 28, 28) and set(binary.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(binary[:, 0].bool(), images > 127)


# --- sampling for metrics ------------------------------------------------------------------------


def test_generated_images_are_seeded_like_sampling():
    model = create_model("gan", "mlp", seed=0)
    many = generate_images(model, 1100, seed=7)  # more than sampling's 1,024 at once
    assert many.shape == (1100, 28, 28) and many.dtype == np.uint8
    assert np.array_equal(many[:16], sample(model, 7, 16))
    cooler = generate_images(model, 16, seed=7, temperature=0.5)  # the Sample tab's temperature, too
    assert np.array_equal(cooler, sample(model, 7, 16, temperature=0.5)) and not np.array_equal(cooler, many[:16])


def test_conditional_share_and_label_agreement_run_on_an_untrained_model():
    model = create_model("gan", "mlp", seed=0, conditional=True)
    assert 0 <= recognizable_share(model, n=100, seed=0) <= 1
    assert 0 <= label_agreement(model, n=100, seed=0) <= 1
    with pytest.raises(ValueError, match="conditional"):
        label_agreement(create_model("gan", "mlp", seed=0), n=10)


# --- the digit classifier ------------------------------------------------------------------------


def test_shipped_classifier_learned_from_the_train_split_and_is_accurate_on_the_test_split(mnist_test):
    classifier = default_classifier()
    metadata = classifier.metadata
    assert metadata["training"]["dataset"] == "mnist" and metadata["training"]["split"] == "train"
    assert metadata["training"]["verified_files"] is True
    measured = accuracy(classifier, mnist_test.images, mnist_test.labels)
    assert measured >= 0.99
    assert measured == pytest.approx(metadata["accuracy"]["test"], abs=1e-4)  # what config.json claims
    assert metadata["accuracy"]["test_images"] == len(mnist_test)
    assert (SHIPPED_DIR / "model.safetensors").stat().st_size < 2_000_000


def test_classifier_is_not_a_generative_checkpoint():
    with pytest.raises(CheckpointError, match="classifier"):
        load_model(SHIPPED_DIR)


def test_random_shift_moves_each_digit_by_at_most_two_pixels(mnist_test):
    images = mnist_test.images[:200].float().div(255).unsqueeze(1)
    frame = torch.ones(28, 28, dtype=torch.bool)
    frame[2:-2, 2:-2] = False
    images = images[(images[:, 0, frame] == 0).all(dim=1)][:32]  # digits with a black 2-pixel frame
    shifted = random_shift(images, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    offsets = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    found = []
    for original, moved in zip(images, shifted):  # each output is its input, rolled by some offset
        matches = [o for o in offsets if torch.equal(torch.roll(original, o, dims=(1, 2)), moved)]
        assert matches
        found.append(matches[0])
    assert len(set(found)) > 5  # and the offsets vary from image to image


def test_classifier_is_unsure_about_junk():
    junk = junk_images(300, rng=torch.Generator().manual_seed(0))
    assert junk.shape == (300, 1, 28, 28) and 0 <= junk.min() and junk.max() <= 1
    assert confident_share(default_classifier().probabilities(junk)) < 0.05


def test_classifier_trains_with_the_one_loop_and_round_trips(mnist_dir, mnist_test, tmp_path):
    train_set = load_dataset("mnist", data_dir=mnist_dir, split="train", limit=2560)
    model, facts = train_classifier(train_set, mnist_test, epochs=1, seed=0, command="test")
    assert facts["test_accuracy"] > 0.5  # 40 steps already help
    assert facts["test_images"] == len(mnist_test)
    record = facts["training"]
    assert record["split"] == "train" and record["images"] == 2560 and record["steps"] == 40
    assert record["command"] == "test" and record["ended"] == "finished"

    folder = save_classifier(model, tmp_path / "clf", facts)
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.safetensors", "README.md"}
    loaded = load_classifier(folder)
    stored = json.loads((folder / "config.json").read_text())
    assert stored["accuracy"]["test"] == round(facts["test_accuracy"], 4) and stored["training"]["split"] == "train"
    assert "Test accuracy" in (folder / "README.md").read_text()
    images = mnist_test.images[:20].float().div(255).unsqueeze(1)
    assert torch.allclose(loaded.probabilities(images), model.probabilities(images))
    with pytest.raises(CheckpointError, match="not empty"):
        save_classifier(model, folder, facts)


def test_classifier_refuses_to_learn_from_the_test_split(mnist_test):
    with pytest.raises(CheckpointError, match="train split"):
        train_classifier(mnist_test, mnist_test, epochs=1)


def test_classifier_training_is_reproducible_and_leaves_the_global_generator_alone(mnist_dir, mnist_test):
    train_set = load_dataset("mnist", data_dir=mnist_dir, split="train", limit=640)
    first, _ = train_classifier(train_set, mnist_test, epochs=1, seed=4)
    second, _ = train_classifier(train_set, mnist_test, epochs=1, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    state = torch.get_rng_state()
    list(train(second, train_set, TrainSettings(max_steps=5, preview_images=0)))  # shifts, junk and dropout
    assert torch.equal(torch.get_rng_state(), state)  # all drawn from the run's own generator


# --- the eval command ----------------------------------------------------------------------------


@pytest.mark.parametrize("family, arch, conditional", [("vae", "mlp", False), ("gan", "dcgan", True),
                                                       ("autoregressive", "pixelcnn", False)])
def test_eval_command_prints_a_table_and_writes_json(tmp_path, mnist_dir, capsys, family, arch, conditional):
    checkpoint = tmp_path / "tiny"
    save_model(create_model(family, arch, seed=0, conditional=conditional), checkpoint, dataset="mnist",
               training={"split": None})
    out = tmp_path / "figures" / "eval.json"
    code = main(["eval", "--checkpoint", str(checkpoint), "--n", "200", "--data-dir", str(mnist_dir),
                 "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "classifier-FID" in printed and "learned from the MNIST test split" in printed
    assert "test split" in printed.splitlines()[0]  # what the figures were measured against
    results = json.loads(out.read_text())
    assert results["n_samples"] == 200 and len(results["class_counts"]) == 10
    assert results["fid"] > results["fid_real_floor"]  # an untrained model is worse than real digits
    assert results["kid"] > results["kid_real_floor"] and results["kid_std"] > 0
    assert "classifier-KID" in printed
    assert ("negative_elbo" in results) == (family == "vae")
    assert ("nll_nats" in results) == (family == "autoregressive")  # exact, and well above 0 when untrained
    if family == "autoregressive":
        assert 300 < results["nll_nats"] < 784 and "exact NLL" in printed
    assert ("label_agreement" in results) == conditional
    assert results["trained_on_eval_images"] is True


def test_eval_card_writes_a_model_card_from_the_figures(tmp_path, mnist_dir, capsys):
    from genai.data import load_dataset as load
    from genai.train import training_record

    train_set = load("mnist", data_dir=mnist_dir, limit=640)
    model = create_model("vae", "mlp", seed=0)
    settings = TrainSettings(max_steps=10, preview_images=0)
    last = list(train(model, train_set, settings))[-1]
    record = training_record(train_set, settings, "cpu", last, 1e-3, command="python -m genai train ...")
    checkpoint = save_model(model, tmp_path / "my-vae", dataset="mnist", steps=10, training=record)
    out = tmp_path / "eval.json"
    code = main(["eval", "--checkpoint", str(checkpoint), "--n", "200", "--data-dir", str(mnist_dir),
                 "--json", str(out), "--card"])
    assert code == 0
    results = json.loads(out.read_text())
    card = (checkpoint / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-sa-3.0\nlibrary_name: genai\n")
    assert "pipeline_tag: unconditional-image-generation" in card and "- mnist" in card
    assert "Learned from: mnist train split, 640 images" in card
    assert "Measured against the MNIST test split, which the model did not learn from" in card
    assert f"{results['fid']:.2f}" in card and f"{results['negative_elbo']:.1f}" in card  # the figures of eval
    assert "binarized" in results["likelihood"] and results["trained_on_eval_images"] is False
    assert "learned from the MNIST test split" not in card


def test_eval_of_a_missing_checkpoint_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "genai", "eval", "--checkpoint", str(tmp_path / "nothing-here")],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "No checkpoint folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_eval_refuses_the_classifier_and_a_too_large_n(capsys, mnist_dir, tmp_path):
    assert main(["eval", "--checkpoint", str(SHIPPED_DIR)]) == 2
    assert "metrics classifier" in capsys.readouterr().err
    checkpoint = save_model(create_model("gan", "mlp", seed=0), tmp_path / "gan", dataset="mnist")
    assert main(["eval", "--checkpoint", str(checkpoint), "--n", "1000000", "--data-dir", str(mnist_dir)]) == 2
    assert "use n of at most" in capsys.readouterr().err


@pytest.mark.parametrize("training, overlap, words", [
    ({"split": "train"}, False, None),
    ({"split": "test"}, True, "learned from the MNIST test split"),
    ({"split": None}, True, "learned from the MNIST test split"),  # older checkpoints: "every split found"
    ({}, None, "does not record which images it learned from"),
])
def test_the_overlap_of_training_and_reference_images_is_said_plainly(mnist_test, training, overlap, words):
    from genai.figures_table import overlap_note
    from genai.metrics import trained_on

    assert trained_on({"dataset": "mnist", "training": training}, mnist_test) is overlap
    note = overlap_note({"trained_on_eval_images": overlap})
    assert (words in note) if words else note == ""


def test_figures_are_measured_against_the_test_split_only(mnist_dir):
    from genai.metrics import MetricsError, evaluate

    train_split = load_dataset("mnist", data_dir=mnist_dir, split="train", limit=1000)
    with pytest.raises(MetricsError, match="test split"):
        evaluate(create_model("gan", "mlp", seed=0), train_split, n_samples=100)


def test_an_evaluation_says_how_far_it_is_as_it_goes(mnist_test):
    """evaluate(progress=...) is told each stage, fractions rising from 0, drawing batch by batch."""
    from genai.metrics import evaluate

    told = []
    model = create_model("vae", "mlp", seed=0, latent_dim=8)
    results = evaluate(model, mnist_test, n_samples=1200, progress=lambda fraction, what: told.append((fraction, what)))
    fractions = [fraction for fraction, _ in told]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and 0.9 <= fractions[-1] < 1.0
    assert [what for _, what in told if what.startswith("Drawing samples:")] == [
        "Drawing samples: 500 of 1,200", "Drawing samples: 1,000 of 1,200", "Drawing samples: 1,200 of 1,200"]
    assert any("Reconstructing" in what for _, what in told) and results["n_samples"] == 1200
