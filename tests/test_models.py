"""Tests for genai.models: every architecture builds, learns and generates; the loss formulas are right.

No dataset needed: a step on a small random batch is enough to check the plumbing, and the
formulas are checked against values worked out by hand or by torch.distributions.
"""

import math

import pytest
import torch

from genai.models import ARCHS, FAMILIES, ModelError, create_model, model_from_config
from genai.models.gan import discriminator_loss, generator_loss
from genai.models.vae import kl_divergence, reconstruction_loss, reparameterize, vae_loss

COMBOS = [(family, arch, conditional) for family in FAMILIES for arch in ARCHS[family] for conditional in (False, True)]
COMBO_IDS = [f"{f}-{a}-{'cond' if c else 'plain'}" for f, a, c in COMBOS]


def random_batch(n=8, seed=0):
    """n binary 'images' (N, 1, 28, 28) in {0, 1} and labels 0, 1, ..., n - 1 (mod 10)."""
    generator = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 1, 28, 28, generator=generator) > 0.8).float()
    return images, torch.arange(n) % 10


def generate(model, z, labels=None):
    model.eval()
    with torch.no_grad():
        return model.generate(z, labels if model.conditional else None)


# ---------------------------------------------------------------------------------------------
# Every (family, arch, conditional) combination
# ---------------------------------------------------------------------------------------------


def test_registry_lists_every_family_and_its_architectures():
    assert set(FAMILIES) == {"gan", "vae", "autoregressive", "diffusion"}
    assert set(ARCHS["autoregressive"]) == {"pixelcnn", "lstm"}
    assert set(ARCHS["gan"]) == {"mlp", "dcgan"}
    assert set(ARCHS["vae"]) == {"mlp", "conv"}
    assert set(ARCHS["diffusion"]) == {"unet"}


@pytest.mark.parametrize("family,arch,conditional", COMBOS, ids=COMBO_IDS)
def test_every_model_builds_trains_one_step_and_generates(family, arch, conditional):
    model = create_model(family, arch, seed=0, conditional=conditional)
    assert (model.family, model.arch, model.conditional) == (family, arch, conditional)
    assert model.latent_dim == model.config.latent_dim
    assert model.title.lower() in model.describe().lower() and "parameters" in model.describe()

    images, labels = random_batch()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizers = model.configure_optimizers(model.default_lr)
    model.train()
    losses = model.training_step(images, labels if conditional else None, optimizers, torch.Generator().manual_seed(0))

    assert tuple(losses) == tuple(model.loss_names)
    assert all(math.isfinite(float(v)) for v in losses.values())
    # One step updates every weight (GAN: D and G; conditional: the label embeddings too) ...
    unchanged = [name for name, p in model.named_parameters() if torch.equal(before[name], p)]
    assert unchanged == []
    # ... and leaves every weight trainable (the GAN freezes D only during its G update).
    assert all(p.requires_grad for p in model.parameters())

    z = torch.randn(5, model.latent_dim)
    out = generate(model, z, torch.tensor([0, 1, 2, 3, 4]))
    assert out.shape == (5, 1, 28, 28)
    assert out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize("family,arch", [(f, a) for f, a, c in COMBOS if c], ids=lambda v: str(v))
def test_conditional_models_draw_depends_on_the_label(family, arch):
    model = create_model(family, arch, seed=0, conditional=True)
    # The same z for every digit; small, so that an untrained autoregressive model's coin flips (u = Phi(z)
    # against p(ink) near 1/2) follow its label's small nudges instead of the noise.
    z = 0.1 * torch.randn(1, model.latent_dim).expand(10, -1)
    out = generate(model, z, torch.arange(10))
    differences = (out[1:] - out[0]).abs().flatten(1).amax(dim=1)
    assert float(differences.min()) > 1e-3, "the label does not change the image"
    with pytest.raises(ValueError, match="conditional"):
        model.generate(z, None)
    with pytest.raises(ValueError, match="between 0 and 9"):
        model.generate(z, torch.full((10,), 10))


@pytest.mark.parametrize("family,arch", [(f, a) for f, a, c in COMBOS if not c], ids=lambda v: str(v))
def test_unconditional_models_ignore_labels(family, arch):
    model = create_model(family, arch, seed=0)
    z = torch.randn(4, model.latent_dim)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.generate(z), model.generate(z, torch.tensor([1, 2, 3, 4])))


@pytest.mark.parametrize("family,arch", [("gan", "mlp"), ("gan", "dcgan"), ("vae", "mlp"), ("vae", "conv")])
def test_a_two_dimensional_latent_space_works(family, arch):
    model = create_model(family, arch, seed=0, latent_dim=2)
    images, _ = random_batch()
    losses = model.training_step(images, None, model.configure_optimizers(model.default_lr), torch.Generator())
    assert all(math.isfinite(float(v)) for v in losses.values())
    assert generate(model, torch.randn(3, 2)).shape == (3, 1, 28, 28)
    if family == "vae":
        mu, logvar = model.encode(images)
        assert mu.shape == logvar.shape == (8, 2)


def test_the_same_seed_builds_the_same_weights():
    a, b = create_model("gan", "mlp", seed=5), create_model("gan", "mlp", seed=5)
    c = create_model("gan", "mlp", seed=6)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values()))


def test_a_model_is_rebuilt_from_its_config_dict():
    model = create_model("vae", "conv", conditional=True, latent_dim=7, beta=4.0)
    rebuilt = model_from_config({"family": "vae", "arch": "conv", "config": model.config.to_dict()})
    assert type(rebuilt) is type(model) and rebuilt.config == model.config
    assert [t.shape for t in rebuilt.state_dict().values()] == [t.shape for t in model.state_dict().values()]


@pytest.mark.parametrize(
    "family,arch,options,message",
    [
        ("rnn", "lstm", {}, "Unknown model family"),
        ("autoregressive", "pixelcnn", {"latent_dim": 16}, "latent_dim must be 784"),
        ("autoregressive", "pixelcnn", {"layers": 0}, "layers must be a whole number from 1 to 30"),
        ("autoregressive", "pixelcnn", {"channels": 10**6}, "channels must be"),
        ("autoregressive", "lstm", {"hidden_size": 10**6}, "hidden_size must be a whole number from 1 to 1,024 "),
        ("autoregressive", "lstm", {"latent_dim": 100}, "latent_dim must be 784"),
        ("autoregressive", "lstm", {"channels": 32}, "has no setting channels"),
        ("gan", "dcgan", {"conditional": "yes"}, "conditional must be true or false"),
        ("gan", "mlp", {"pack": 2}, "was made with pack = 2, a setting genai no longer offers"),
        ("gan", "dcgan", {"spectral_norm": True}, "spectral_norm = True, a setting genai no longer offers"),
        ("diffusion", "mlp", {}, "Unknown DIFFUSION architecture .mlp.: choose one of unet"),
        ("diffusion", "unet", {"latent_dim": 100}, "latent_dim must be 784"),
        ("diffusion", "unet", {"channels": 20}, "multiple of 8"),
        ("diffusion", "unet", {"guidance_scale": float("nan")}, "guidance_scale must be"),
        ("gan", "resnet", {}, "Unknown GAN architecture 'resnet'"),
        ("vae", "dcgan", {}, "choose one of mlp, conv"),
        ("gan", "mlp", {"latent_dim": 0}, "latent_dim"),
        ("gan", "mlp", {"latent_dim": 2.5}, "latent_dim"),
        ("vae", "mlp", {"beta": -1.0}, "beta"),
        ("gan", "mlp", {"beta": 2.0}, "has no setting beta"),
        ("vae", "mlp", {"colour": True}, "has no setting colour"),
    ],
)
def test_bad_model_settings_raise_a_clear_model_error(family, arch, options, message):
    with pytest.raises(ModelError, match=message):
        create_model(family, arch, **options)


# ---------------------------------------------------------------------------------------------
# VAE: reparameterization, KL and reconstruction against known values
# ---------------------------------------------------------------------------------------------


def test_reparameterization_draws_z_from_mu_plus_sigma_times_eps():
    torch.manual_seed(0)
    n = 200_000
    mu = torch.tensor([1.5, -2.0, 0.0, 0.3]).expand(n, -1)
    sigma = torch.tensor([1.0, 0.5, 3.0, 0.01])
    logvar = (2 * sigma.log()).expand(n, -1)
    z = reparameterize(mu, logvar)
    # mean ~ mu and std ~ exp(logvar / 2) = sigma (a sqrt(2 pi) factor would give 2.5 sigma)
    torch.testing.assert_close(z.mean(0), mu[0], atol=4 * 3.0 / math.sqrt(n), rtol=0)
    torch.testing.assert_close(z.std(0), sigma, rtol=0.01, atol=0)
    # eps is standard normal: (z - mu) / sigma has mean 0, std 1
    eps = (z - mu) / sigma
    assert abs(float(eps.mean())) < 0.01 and abs(float(eps.std()) - 1) < 0.01


def test_reparameterization_lets_gradients_reach_mu_and_logvar():
    mu = torch.zeros(4, 3, requires_grad=True)
    logvar = torch.zeros(4, 3, requires_grad=True)
    reparameterize(mu, logvar).sum().backward()
    torch.testing.assert_close(mu.grad, torch.ones(4, 3))  # dz/dmu = 1
    assert float(logvar.grad.abs().sum()) > 0  # dz/dlogvar = eps * sigma / 2


def test_kl_divergence_matches_the_closed_form():
    # KL(N(mu, 1) || N(0, 1)) = mu^2 / 2 per dimension: mu = 1 in 4 dims -> 2.
    assert float(kl_divergence(torch.ones(1, 4), torch.zeros(1, 4))) == pytest.approx(2.0)
    # sigma^2 = 4, mu = 0: 1/2 (sigma^2 - 1 - log sigma^2) = 1/2 (3 - log 4) per dimension.
    value = kl_divergence(torch.zeros(1, 3), torch.full((1, 3), math.log(4.0)))
    assert float(value) == pytest.approx(3 * 0.5 * (3 - math.log(4.0)))
    # The prior itself: KL = 0.
    assert float(kl_divergence(torch.zeros(2, 5), torch.zeros(2, 5)).abs().max()) == 0.0


def test_kl_divergence_agrees_with_torch_distributions():
    generator = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 5, generator=generator), torch.randn(6, 5, generator=generator)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(6, 5), torch.ones(6, 5))
    expected = torch.distributions.kl_divergence(q, p).sum(dim=1)
    torch.testing.assert_close(kl_divergence(mu, logvar), expected)


def test_reconstruction_loss_is_the_pixel_sum_of_binary_cross_entropy():
    images, _ = random_batch(n=3)
    # Logits 0 mean p = 1/2 for every pixel: -log(1/2) per pixel, 784 log 2 per image.
    loss = reconstruction_loss(torch.zeros(3, 1, 28, 28), images)
    torch.testing.assert_close(loss, torch.full((3,), 784 * math.log(2)))
    # Confident and right: almost no loss. Confident and wrong: a lot.
    right = reconstruction_loss((images * 2 - 1) * 30, images)
    wrong = reconstruction_loss((images * 2 - 1) * -30, images)
    assert float(right.max()) < 1e-6 and float(wrong.min()) > 784 * 29


def test_vae_loss_is_reconstruction_plus_beta_times_kl():
    images, _ = random_batch(n=4)
    logits = torch.randn(4, 1, 28, 28)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    recon = reconstruction_loss(logits, images).mean()
    kl = kl_divergence(mu, logvar).mean()
    for beta in (0.0, 1.0, 4.0):
        total, r, k = vae_loss(logits, images, mu, logvar, beta)
        torch.testing.assert_close(r, recon)
        torch.testing.assert_close(k, kl)
        torch.testing.assert_close(total, recon + beta * kl)


def test_vae_forward_samples_but_reconstruct_uses_the_mean():
    model = create_model("vae", "mlp", seed=0)
    images, _ = random_batch(n=4)
    torch.manual_seed(1)
    logits_a, mu, logvar = model(images)
    logits_b, _, _ = model(images)
    assert not torch.equal(logits_a, logits_b)  # a fresh eps each time
    torch.testing.assert_close(model.reconstruct(images), torch.sigmoid(model.decode_logits(mu)))


# ---------------------------------------------------------------------------------------------
# GAN losses against hand-computed values
# ---------------------------------------------------------------------------------------------


def softplus(x):
    return math.log1p(math.exp(x))


def test_gan_losses_at_logit_zero_are_log_two():
    # D(x) = D(G(z)) = 1/2: L_D = -[log 1/2 + log 1/2] = 2 log 2, L_G = -log 1/2 = log 2.
    zeros = torch.zeros(16)
    assert float(discriminator_loss(zeros, zeros)) == pytest.approx(2 * math.log(2))
    assert float(generator_loss(zeros)) == pytest.approx(math.log(2))


def test_gan_losses_match_hand_computed_values():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    # L_D = mean over reals of -log sigma(l) + mean over fakes of -log(1 - sigma(l))
    expected_d = (softplus(-2) + softplus(0)) / 2 + (softplus(-1) + softplus(1)) / 2
    expected_g = (softplus(1) + softplus(-1)) / 2  # -log sigma(l) for the fakes
    assert float(discriminator_loss(real, fake)) == pytest.approx(expected_d)
    assert float(generator_loss(fake)) == pytest.approx(expected_g)
    # The same through probabilities: D(x) = sigma(l).
    d = lambda l: 1 / (1 + math.exp(-l))  # noqa: E731
    assert expected_d == pytest.approx(-(math.log(d(2)) + math.log(d(0))) / 2 - (math.log(1 - d(-1)) + math.log(1 - d(1))) / 2)


def test_gan_losses_stay_finite_for_extreme_logits():
    big = torch.tensor([200.0])
    assert float(discriminator_loss(big, -big)) == pytest.approx(0.0, abs=1e-6)  # a perfect D
    assert float(generator_loss(-big)) == pytest.approx(200.0)  # a fooled-by-nobody G
    assert math.isfinite(float(discriminator_loss(-big, big)))


def test_the_ema_generator_is_a_moving_average_of_the_generator_and_draws_the_samples():
    model = create_model("gan", "mlp", seed=0, ema_decay=0.9)
    assert all(not p.requires_grad for p in model.generator_ema.parameters())
    old = [p.clone() for p in model.generator_ema.parameters()]
    optimizers = model.configure_optimizers(model.default_lr)
    model.training_step(torch.rand(8, 1, 28, 28), None, optimizers, torch.Generator().manual_seed(0))
    decay = min(0.9, 1 / 10)  # the warm-up: the first update mostly copies G
    for averaged, before, current in zip(model.generator_ema.parameters(), old, model.generator.parameters()):
        assert torch.allclose(averaged, decay * before + (1 - decay) * current, atol=1e-6)
    z = torch.randn(4, model.latent_dim)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.generate(z), (model.generator_ema(z) + 1) / 2)
        assert not torch.equal(model.generate(z), (model.generator(z) + 1) / 2)


def test_a_gan_without_ema_has_no_averaged_copy():
    model = create_model("gan", "dcgan", seed=0)
    assert model.generator_ema is None and not any("ema" in name for name in model.state_dict())


@pytest.mark.parametrize("options, message", [({"ema_decay": 1.0}, "ema_decay"), ({"ema_decay": -0.1}, "ema_decay"),
                                              ({"channels": 0}, "channels"), ({"channels": 10**6}, "channels")])
def test_bad_gan_settings_are_refused(options, message):
    with pytest.raises(ModelError, match=message):
        create_model("gan", "dcgan", **options)


def test_recipe_settings_are_filtered_to_what_an_architecture_has():
    from genai.recipes import RECIPES, model_options

    gan = RECIPES["gan"]
    assert model_options(gan) == {k: gan[k] for k in ("conditional", "latent_dim", "ema_decay", "channels")}
    assert "channels" not in model_options(gan, "gan", "mlp")  # an MLP has no channels
    assert model_options(gan, "gan", "dcgan")["channels"] == gan["channels"]
    for family, recipe in RECIPES.items():  # every recipe builds
        assert create_model(family, recipe["arch"], **model_options(recipe, family, recipe["arch"]))


def test_every_config_field_of_every_model_has_a_checked_range():
    import dataclasses

    from genai.models import MODELS
    from genai.settings import model_settings

    for cls in MODELS.values():
        assert {field.name for field in dataclasses.fields(cls.Config)} <= set(model_settings()), cls.title


# ---------------------------------------------------------------------------------------------
# One interface: everything that differs between families is asked of the model, never branched on
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family,arch", [(f, a) for f in FAMILIES for a in ARCHS[f]])
def test_every_model_answers_the_interface(family, arch):
    from genai.metrics import binarize
    from genai.sampling import SamplingError, encode, reconstruct

    model = create_model(family, arch, seed=0)
    assert set(model.plotted_losses) <= set(model.loss_names) and model.plotted_losses
    assert "$" in model.explanation  # the formulas the Train tab shows
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    figures = model.likelihood(binarize(images), None, seed=0)
    if figures is not None:  # a likelihood family says which figure it gives, on which images
        assert "binarized" in figures["likelihood"]
        assert (figures.get("negative_elbo") or figures.get("nll_nats")) > 0
    if model.can_encode:
        assert encode(model, images).shape == (5, model.latent_dim)
        assert reconstruct(model, images).shape == (5, 28, 28)
        assert "negative_elbo" in figures
    else:
        with pytest.raises(SamplingError, match="has no encoder"):
            encode(model, images)


def test_the_app_and_the_metrics_never_branch_on_a_family():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "genai"
    names = "|".join(FAMILIES)
    branch = re.compile(rf"""(==|!=)\s*["']({names})["']|["']({names})["']\s*(==|!=)|family["')\]]*\s*(==|!=)""")
    for path in [*(root / "ui").glob("*.py"), root / "metrics.py", root / "sampling.py"]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not branch.search(line), f"{path.name}:{number} branches on a family: {line.strip()}"


def test_a_diffusion_model_with_ema_samples_with_the_moving_average_of_its_unet():
    model = create_model("diffusion", "unet", seed=0, ema_decay=0.9)
    optimizers = model.configure_optimizers(1e-2)
    for _ in range(3):
        model.training_step(torch.rand(4, 1, 28, 28), None, optimizers, torch.Generator().manual_seed(0))
    assert not torch.equal(model.unet_ema.stem.weight, model.unet.stem.weight)
    assert model.parameter_count() == sum(p.numel() for p in model.unet.parameters())  # the copy is not counted
    z = torch.randn(2, 784)
    with_ema = generate(model, z)
    model.unet_ema.load_state_dict(model.unet.state_dict())
    assert not torch.equal(with_ema, generate(model, z))  # the samples came from the averaged copy


def test_a_config_written_before_a_setting_was_retired_still_loads_when_it_held_the_value_that_meant_off():
    """pack (PacGAN) and spectral_norm were removed; older config.json files hold pack 1 and spectral_norm false."""
    old = create_model("gan", "dcgan", seed=0, channels=8, pack=1, spectral_norm=False)
    assert not hasattr(old.config, "pack") and not hasattr(old.config, "spectral_norm")
    assert [t.shape for t in old.state_dict().values()] == [
        t.shape for t in create_model("gan", "dcgan", seed=0, channels=8).state_dict().values()]


def test_a_loss_term_that_is_off_is_not_added_as_a_zero():
    """Each addition would be one more kernel and backward step on every training step."""
    from genai.models.gan import total

    loss = torch.tensor(1.5, requires_grad=True)
    assert total(loss, None, None) is loss
    assert float(total(loss, torch.tensor(2.0), None)) == 3.5
