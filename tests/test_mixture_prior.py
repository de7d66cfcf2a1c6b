"""The mixture prior a VAE may sample from (genai/models/mixture_prior.py): EM finds a known
mixture, seeds map to codes drawn from it, and a VAE fits it when training ends, saves it, and
samples, walks and scores with it. A VAE may also learn a mixture as its training prior."""

import math

import numpy as np
import pytest
import torch

from genai.checkpoints import load_model, save_model
from genai.data import load_training_set
from genai.models import ModelError, create_model
from genai.models.mixture_prior import GaussianMixturePrior, LearnedMixturePrior
from genai.models.vae import gaussian_log_density, kl_divergence, vae_loss
from genai.sampling import interpolate, latent_noise, sample
from genai.train import TrainSettings, train


def two_clusters(n=4000, seed=0):
    """Codes from 0.3 N((-4, 0), 0.5^2 I) + 0.7 N((3, 2), diag(1, 0.2^2))."""
    generator = torch.Generator().manual_seed(seed)
    first = torch.randn(int(0.3 * n), 2, generator=generator) * 0.5 + torch.tensor([-4.0, 0.0])
    second = torch.randn(n - len(first), 2, generator=generator) * torch.tensor([1.0, 0.2]) + torch.tensor([3.0, 2.0])
    return torch.cat([first, second])


def test_em_finds_the_weights_means_and_spreads_of_a_known_mixture():
    prior = GaussianMixturePrior(2, 2).fit(two_clusters())
    order = torch.argsort(prior.means[:, 0])
    weights, means = prior.weights[order], prior.means[order]
    spreads = torch.diagonal(prior.scale_tril[order] @ prior.scale_tril[order].transpose(1, 2), dim1=1, dim2=2).sqrt()
    torch.testing.assert_close(weights, torch.tensor([0.3, 0.7]), atol=0.01, rtol=0)
    torch.testing.assert_close(means, torch.tensor([[-4.0, 0.0], [3.0, 2.0]]), atol=0.08, rtol=0)
    torch.testing.assert_close(spreads, torch.tensor([[0.5, 0.5], [1.0, 0.2]]), atol=0.05, rtol=0)


def test_the_fit_is_the_same_every_time():
    a, b = GaussianMixturePrior(3, 2).fit(two_clusters()), GaussianMixturePrior(3, 2).fit(two_clusters())
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name


def test_seeded_noise_lands_in_each_component_as_often_as_its_weight():
    prior = GaussianMixturePrior(2, 2).fit(two_clusters())
    z = prior.from_noise(latent_noise(0, 1024, 2))
    left = z[:, 0] < -0.5  # the (-4, 0) cluster
    left_weight = float(prior.weights[torch.argmin(prior.means[:, 0])])
    assert abs(float(left.float().mean()) - left_weight) < 0.05
    # Within a component the codes spread as its Gaussian does: the first noise number is reused
    # for the place within the component, not only for the choice of component.
    assert 0.4 < float(z[left, 0].std()) < 0.6 and 0.4 < float(z[left, 1].std()) < 0.6
    assert torch.equal(prior.from_noise(latent_noise(0, 1024, 2)), z)  # a seed fixes the codes


def test_the_log_density_is_the_mixture_of_the_gaussians_densities():
    prior = GaussianMixturePrior(2, 2).fit(two_clusters())
    z = torch.tensor([[-4.0, 0.0], [3.0, 2.0], [0.0, 0.0]])
    direct = sum(
        w * torch.distributions.MultivariateNormal(m, scale_tril=l).log_prob(z).exp()
        for w, m, l in zip(prior.weights, prior.means, prior.scale_tril))
    torch.testing.assert_close(prior.log_density(z), direct.log(), rtol=1e-4, atol=1e-4)


def test_before_it_is_fitted_the_prior_is_the_standard_normal():
    prior = GaussianMixturePrior(4, 3)
    noise = latent_noise(5, 8, 3)
    assert torch.equal(prior.from_noise(noise, 0.5), noise * 0.5)
    expected = -0.5 * (noise.pow(2).sum(1) + 3 * math.log(2 * math.pi))
    torch.testing.assert_close(prior.log_density(noise), expected)


def test_too_few_codes_for_the_mixture_are_refused():
    with pytest.raises(ValueError, match="at least 20 codes"):
        GaussianMixturePrior(10, 2).fit(torch.randn(5, 2))


@pytest.mark.parametrize("bad", [-1, 257, 2.5, True])
def test_a_bad_number_of_components_is_refused(bad):
    with pytest.raises(ModelError, match="prior_components"):
        create_model("vae", "mlp", prior_components=bad)


@pytest.fixture(scope="module")
def trained_vae(mnist_dir):
    """An MLP VAE with a 10-Gaussian prior after a short run on 2,000 training digits."""
    dataset = load_training_set("mnist", data_dir=mnist_dir, limit=2000)
    model = create_model("vae", "mlp", seed=0, latent_dim=4, prior_components=10)
    unfitted = sample(model, 7, 8)
    events = list(train(model, dataset, TrainSettings(max_steps=60, batch_size=64, preview_images=8)))
    return model, events, unfitted


def test_a_vae_fits_its_mixture_when_training_ends_and_says_so(trained_vae):
    model, events, _ = trained_vae
    assert model.prior.is_fitted and events[-1].done
    assert "mixture of 10 Gaussians" in events[-1].message and "2,000 training digits" in events[-1].message
    # The last preview is drawn from the fitted mixture: the same noise as every earlier preview.
    assert np.array_equal(events[-1].preview, sample(model, 0, 8))
    assert "prior: a mixture of 10 Gaussians" in model.describe()


def test_samples_come_from_the_mixture_and_walks_end_at_the_samples(trained_vae):
    model, _, unfitted = trained_vae
    with torch.no_grad():
        from_mixture = model.generate(model.prior.from_noise(latent_noise(7, 8, 4)))
        from_standard = model.generate(latent_noise(7, 8, 4))
    drawn = sample(model, 7, 8)
    assert np.array_equal(drawn, (from_mixture.clamp(0, 1) * 255).round().byte().squeeze(1).numpy())
    assert not np.array_equal(drawn, (from_standard.clamp(0, 1) * 255).round().byte().squeeze(1).numpy())
    walk = interpolate(model, 7, 8, steps=5, method="lerp")
    assert np.array_equal(walk[0], sample(model, 7, 1)[0]) and np.array_equal(walk[-1], sample(model, 8, 1)[0])
    # A bigger grid starts with the same digits. The codes are identical; the decoder's matrix
    # products may round differently for a batch of 16 than of 8 (about 1e-7), which can move a
    # pixel lying on a rounding boundary by one gray level, never more.
    bigger = sample(model, 7, 16)[:8].astype(int)
    assert np.abs(bigger - drawn).max() <= 1 and (bigger != drawn).mean() < 0.001


def test_the_fitted_mixture_is_saved_and_loaded_with_the_weights(trained_vae, tmp_path):
    model, _, _ = trained_vae
    loaded, _ = load_model(save_model(model, tmp_path / "vae", dataset="mnist", steps=60))
    assert loaded.prior.is_fitted
    assert np.array_equal(sample(loaded, 3, 8), sample(model, 3, 8))


def test_the_likelihood_uses_the_prior_the_model_samples_from(trained_vae, mnist_dir):
    model, _, _ = trained_vae
    images = (load_training_set("mnist", data_dir=mnist_dir, limit=200).images.unsqueeze(1).float() / 255 > 0.5).float()
    with_mixture = model.likelihood(images)
    assert "mixture of Gaussians" in with_mixture["likelihood"]
    prior, model.prior = model.prior, None
    try:
        with_standard = model.likelihood(images)
    finally:
        model.prior = prior
    assert with_mixture["reconstruction"] == with_standard["reconstruction"]  # the same seeded z
    assert math.isfinite(with_mixture["kl"]) and with_mixture["kl"] != with_standard["kl"]


def test_the_learned_prior_is_the_density_of_its_mixture_and_learns_by_gradient():
    torch.manual_seed(0)
    prior = LearnedMixturePrior(3, 2)
    with torch.no_grad():
        prior.log_variances.copy_(torch.tensor([[0.0, -1.0], [0.5, 0.2], [-0.3, 0.0]]))
        prior.weight_logits.copy_(torch.tensor([0.0, 1.0, -1.0]))
    z = torch.tensor([[-1.0, 0.5], [2.0, 2.0], [0.0, 0.0]])
    weights = torch.softmax(prior.weight_logits, 0)
    direct = sum(w * torch.distributions.Normal(m, (0.5 * s).exp()).log_prob(z).sum(1).exp()
                 for w, m, s in zip(weights, prior.means, prior.log_variances))
    torch.testing.assert_close(prior(z), direct.log())
    # Maximizing log p(z) of two clusters of codes moves the means onto them.
    codes = two_clusters(n=1000)
    optimizer = torch.optim.Adam(prior.parameters(), lr=0.05)
    before = float(prior(codes).mean())
    for _ in range(300):
        optimizer.zero_grad()
        (-prior(codes).mean()).backward()
        optimizer.step()
    assert float(prior(codes).mean()) > before + 1.0


def test_a_learned_prior_needs_components_and_only_a_vae_has_one():
    with pytest.raises(ModelError, match="learned_prior needs prior_components"):
        create_model("vae", "mlp", learned_prior=True)
    with pytest.raises(ModelError, match="learned_prior"):
        create_model("gan", "mlp", learned_prior=True)
    with pytest.raises(ModelError, match="learned_prior must be true or false"):
        create_model("vae", "mlp", prior_components=4, learned_prior="yes")


def test_a_vae_with_a_learned_prior_trains_its_kl_against_it_and_saves_it(mnist_dir, tmp_path):
    dataset = load_training_set("mnist", data_dir=mnist_dir, limit=1000)
    model = create_model("vae", "mlp", seed=0, latent_dim=2, prior_components=5, learned_prior=True)
    start = {name: p.detach().clone() for name, p in model.training_prior.named_parameters()}
    # The KL of the loss is log q(z|x) - log p(z) for the learned p, with the z the decoder saw.
    x = dataset.images[:8].unsqueeze(1).float() / 255
    rng = torch.Generator().manual_seed(3)
    _, mu, logvar, z = model.encode_decode_code(x, None, rng)
    expected_z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(z, expected_z)
    kl_each = model.training_kl(z, mu, logvar)
    torch.testing.assert_close(kl_each, gaussian_log_density(z, mu, logvar) - model.training_prior(z))
    assert not torch.allclose(kl_each, kl_divergence(mu, logvar))
    assert torch.isclose(vae_loss(torch.zeros(8, 1, 28, 28), x, mu, logvar, 1.0, kl_each)[2], kl_each.mean())
    list(train(model, dataset, TrainSettings(max_steps=30, batch_size=64, preview_images=0)))
    for name, p in model.training_prior.named_parameters():
        assert not torch.equal(p, start[name]), name  # learned with the networks
    assert model.prior.is_fitted  # and the sampling mixture fitted after training, as without it
    assert model.describe().endswith("prior: a mixture of 5 Gaussians (learned in training, refitted after)")
    loaded, metadata = load_model(save_model(model, tmp_path / "vae", dataset="mnist", steps=30))
    assert metadata["config"]["learned_prior"] is True
    for name, p in model.training_prior.named_parameters():
        assert torch.equal(dict(loaded.training_prior.named_parameters())[name], p), name
    assert np.array_equal(sample(loaded, 3, 8), sample(model, 3, 8))
