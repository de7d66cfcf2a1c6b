"""A mixture of Gaussians fitted to where a VAE put the training digits: a better place to sample.

A VAE learns with the prior N(0, I): its KL term pulls every code towards it. But the codes of
the real digits, the "aggregate posterior" q(z) = average over training images x of q(z|x),
never fill N(0, I) evenly: they gather in clusters (roughly one per digit and style) with
thin regions between them. A code drawn from N(0, I) often lands in such a gap, where the
decoder draws a blend of two digits that nobody can read.

After training, genai can fit a mixture of K Gaussians to codes of the training images, one
z ~ q(z|x) each (so, samples of q(z)), and sample from that instead ("ex-post density
estimation", Ghosh et al. 2020, "From variational to deterministic autoencoders"):

    p(z) = sum_k w_k N(z; m_k, S_k)            w_k >= 0, sum_k w_k = 1

fitted by expectation-maximization (EM), which repeats two steps:

    E: r_nk = w_k N(z_n; m_k, S_k) / sum_j w_j N(z_n; m_j, S_j)   how much code n belongs to k
    M: w_k = mean_n r_nk,  m_k = weighted mean of the codes,  S_k = weighted covariance

The decoder is unchanged; only where the codes come from changes. Since the mixture is a
density over z, the model's ELBO can use it as its prior too (VAE.likelihood).
"""

import math

import torch
from torch import nn

MAX_CODES = 20_000  # codes used for the fit: plenty for a few dozen Gaussians in a small latent space
ITERATIONS = 100
RIDGE = 1e-4  # added to every covariance's diagonal, so no component collapses onto a point


class GaussianMixturePrior(nn.Module):
    """K Gaussians over codes of size dim; before fit() it is N(0, I) itself.

    Its numbers are buffers (saved in model.safetensors with the weights, not learned by
    gradient descent): weights w (K,), means m (K, dim), and each covariance as its Cholesky
    factor L (S = L L^T, K x dim x dim), so a sample is z = m_k + L_k eps.
    """

    def __init__(self, components, dim):
        super().__init__()
        self.register_buffer("weights", torch.full((components,), 1.0 / components))
        self.register_buffer("means", torch.zeros(components, dim))
        self.register_buffer("scale_tril", torch.eye(dim).repeat(components, 1, 1))
        self.register_buffer("fitted", torch.zeros(()))  # 1 once fit() has run

    @property
    def is_fitted(self):
        return bool(self.fitted)

    @torch.no_grad()
    def from_noise(self, noise, temperature=1.0):
        """A seed's standard normal noise (N, dim) -> codes drawn from the mixture (N, dim).

        One draw per image picks both the component and the place within it, so a seed still
        fixes the digit. The first number picks the component: u = Phi(eps_1) is uniform on
        [0, 1], and falls in component k's slice of [0, 1] (slices as wide as the weights w_k).
        Where u lies within its slice is uniform again, and independent of k: turned back into a
        standard normal number it replaces eps_1. Then z = m_k + temperature * L_k eps.
        Before fit(): z = temperature * eps, as for the N(0, I) prior.
        """
        if not self.is_fitted:
            return noise * temperature
        eps = noise.to(self.means.device, torch.float64)
        u = 0.5 * (1 + torch.erf(eps[:, 0] / math.sqrt(2)))  # Phi(eps_1)
        upper = torch.cumsum(self.weights.double(), 0)
        k = torch.searchsorted(upper, u).clamp(max=len(upper) - 1)
        lower = upper[k] - self.weights.double()[k]
        within = ((u - lower) / self.weights.double()[k]).clamp(1e-12, 1 - 1e-12)
        eps = torch.cat([(math.sqrt(2) * torch.erfinv(2 * within - 1)).unsqueeze(1), eps[:, 1:]], dim=1)
        offsets = (self.scale_tril.double()[k] @ eps.unsqueeze(2)).squeeze(2)
        return (self.means.double()[k] + temperature * offsets).to(noise.dtype).to(noise.device)

    @torch.no_grad()
    def log_density(self, z):
        """log p(z) under the mixture (N,): log sum_k w_k N(z; m_k, S_k)."""
        return mixture_log_terms(z.double(), self.weights.double(), self.means.double(),
                                 self.scale_tril.double()).logsumexp(dim=1).to(z.dtype)

    @torch.no_grad()
    def fit(self, codes, seed=0):
        """Fit the mixture to codes (N, dim) by EM: at most MAX_CODES of them, picked with the seed.

        Deterministic for the same codes and seed. Works in float64 on the CPU (a few seconds).
        """
        generator = torch.Generator().manual_seed(seed)
        codes = codes.detach().double().cpu()
        if len(codes) > MAX_CODES:
            codes = codes[torch.randperm(len(codes), generator=generator)[:MAX_CODES]]
        k, dim = self.means.shape
        if len(codes) < 2 * k:
            raise ValueError(f"A mixture of {k} Gaussians needs at least {2 * k} codes to fit, not {len(codes)}.")
        ridge = RIDGE * torch.eye(dim, dtype=torch.float64)
        # Start: K codes picked at random as the means, every covariance the codes' own, equal weights.
        means = codes[torch.randperm(len(codes), generator=generator)[:k]].clone()
        covariances = (torch.cov(codes.T).reshape(dim, dim) + ridge).repeat(k, 1, 1)
        weights = torch.full((k,), 1.0 / k, dtype=torch.float64)
        for _ in range(ITERATIONS):
            # E step: responsibilities r (N, K), each row summing to 1.
            log_terms = mixture_log_terms(codes, weights, means, torch.linalg.cholesky(covariances))
            r = torch.softmax(log_terms, dim=1)
            # M step: weights, means and covariances from the codes, weighted by r.
            counts = r.sum(dim=0) + 1e-10
            weights = counts / counts.sum()
            means = (r.T @ codes) / counts[:, None]
            covariances = torch.stack([
                (r[:, j, None] * (codes - means[j])).T @ (codes - means[j]) / counts[j] + ridge for j in range(k)])
        self.weights.copy_(weights)
        self.means.copy_(means)
        self.scale_tril.copy_(torch.linalg.cholesky(covariances))
        self.fitted.fill_(1)
        return self


def mixture_log_terms(z, weights, means, scale_tril):
    """log w_k + log N(z_n; m_k, L_k L_k^T) for every code n and component k: (N, K)."""
    dim = z.shape[1]
    columns = []
    for weight, mean, tril in zip(weights, means, scale_tril):
        # (z - m)^T S^-1 (z - m) = |L^-1 (z - m)|^2, and log |S| = 2 sum log diag(L)
        solved = torch.linalg.solve_triangular(tril, (z - mean).T, upper=False)  # (dim, N)
        log_det = 2 * torch.log(torch.diagonal(tril)).sum()
        columns.append(torch.log(weight) - 0.5 * (solved.pow(2).sum(0) + log_det + dim * math.log(2 * math.pi)))
    return torch.stack(columns, dim=1)


class LearnedMixturePrior(nn.Module):
    """A mixture of K Gaussians learned *with* the VAE, as the prior of its KL term during training.

    With N(0, I) as the prior, the KL term pulls every code towards one round cloud, so digits
    that look alike (a 4 and a 9) are pressed together and a gap between clusters costs extra.
    With a learned mixture (Tomczak & Welling 2018; Dilokthanakul et al. 2016) each cluster can
    have its own Gaussian, and the encoder may keep them apart for free:

        p(z) = sum_k softmax(a)_k N(z; m_k, diag(exp(s_k)))     a, m, s learned by gradient descent
        KL(q(z|x) || p(z)) ~ log q(z|x) - log p(z)             with the same z = mu + sigma * eps

    (no closed form for a mixture, so one sample of z estimates it; its mean over eps is the KL).
    Only training uses it: when the run ends, GaussianMixturePrior is fitted to the codes as usual
    and the model samples from that fit.
    """

    def __init__(self, components, dim):
        super().__init__()
        # Means spread like draws of N(0, I), so the components start apart; unit variances, equal weights.
        self.means = nn.Parameter(torch.empty(components, dim))
        nn.init.normal_(self.means)  # from the global generator, seeded like every layer (models.build_seeded)
        self.log_variances = nn.Parameter(torch.zeros(components, dim))
        self.weight_logits = nn.Parameter(torch.zeros(components))

    def forward(self, z):
        """log p(z) per code (N,), differentiable in z and in the mixture's parameters."""
        diff = z.unsqueeze(1) - self.means  # (N, K, dim)
        log_normal = -0.5 * (math.log(2 * math.pi) + self.log_variances + diff.pow(2) / self.log_variances.exp()).sum(2)
        return (torch.log_softmax(self.weight_logits, dim=0) + log_normal).logsumexp(dim=1)
