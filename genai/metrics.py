"""How good is a generative model? The figures the seeds name, computed for MNIST.

Papers judge generated images with Inception, a network trained on ImageNet. For
28x28 digits we use genai's own small digit classifier (genai/classifier.py)
instead, so every score below is "classifier-" something: the numbers are
comparable between models evaluated here, not with published Inception figures.

For every model (GAN or VAE), on n generated samples:
- classifier-FID: how far the features of generated digits are from those of real
  ones (lower is better), printed beside the real-vs-real floor: the FID of two
  disjoint sets of real digits of the same size, i.e. what a perfect model would get.
- classifier-KID (kernel distance): like FID, on the same features, but unbiased at small sample
  counts; its mean and spread over 100 random subsets.
- classifier Inception Score: are samples confidently one digit, and are all digits
  drawn? From 1 (worst) to 10 (best, for 10 classes).
- recognizable share: the share of samples the classifier is at least 90% sure about.
- class histogram: how many samples look like each digit (mode collapse shows here).
- label agreement (conditional models): how often the digit asked for is the one drawn.

For a VAE, on n test images:
- negative ELBO in nats per image (reconstruction + KL, lower is better) on the test images
  binarized at 0.5, a bound on -log p(x) comparable with published binarized-MNIST figures,
- reconstruction SSIM (structural similarity, 1 = identical) and PSNR (in dB).

For an autoregressive model, the exact negative log-likelihood in nats per binarized test image
(nll_nats): no bound, the sum of its 784 one-pixel predictions.

    results = evaluate(model, load_dataset("mnist", split="test"), n_samples=2000, seed=0)
    print(format_table(results))  # genai/figures_table.py: the figures as a person reads them
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from .classifier import as_float_images, default_classifier
from .figures_table import likelihood_of
from .sampling import check_seed, check_temperature, decode, label_tensor, model_device


class MetricsError(ValueError):
    """A metric that cannot be computed with these inputs, explained for a human."""


# --- Frechet distance -----------------------------------------------------------------------------


def frechet_distance(features_a, features_b):
    """The Frechet distance between two sets of feature vectors, each modelled as a Gaussian.

    With mu, Sigma the mean and covariance of each set (rows are samples):

        FD = ||mu_a - mu_b||^2 + Tr(Sigma_a + Sigma_b - 2 (Sigma_a Sigma_b)^(1/2))

    The first term compares the centres, the second the spreads. For the trace of
    the matrix square root we use that Sigma_a Sigma_b has the same eigenvalues as
    the symmetric matrix M = Sigma_a^(1/2) Sigma_b Sigma_a^(1/2), so

        Tr((Sigma_a Sigma_b)^(1/2)) = sum_i sqrt(lambda_i(M)),

    and symmetric eigendecompositions (numpy.linalg.eigh) are exact and stable,
    unlike a general matrix square root. Computed in float64.
    """
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise MetricsError(f"Frechet distance needs two (N, D) feature arrays of the same D; got {a.shape} and {b.shape}.")
    if len(a) < 2 or len(b) < 2:
        raise MetricsError("Frechet distance needs at least 2 samples in each set (to estimate a covariance).")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    sigma_a, sigma_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = symmetric_sqrt(sigma_a)
    middle = root_a @ sigma_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)  # symmetrize away rounding
    trace_of_root = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    distance = np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a) + np.trace(sigma_b) - 2 * trace_of_root
    return max(float(distance), 0.0)  # rounding can leave -1e-12 for identical sets


def polynomial_kernel(a, b):
    """k(x, y) = (x . y / d + 1)^3 for every pair of rows: the kernel of KID (Binkowski et al. 2018)."""
    return (a @ b.T / a.shape[1] + 1) ** 3


def squared_mmd(a, b):
    """Unbiased estimate of the squared maximum mean discrepancy between two sets of m rows each:

        MMD^2 = sum_{i != j} k(a_i, a_j) / (m (m - 1)) + sum_{i != j} k(b_i, b_j) / (m (m - 1))
                - 2 sum_{i, j} k(a_i, b_j) / m^2

    The diagonals (a point with itself) are left out, which makes it unbiased: it averages 0 for two
    sets from the same distribution, and a single estimate may be slightly negative.
    """
    m = len(a)
    k_aa, k_bb, k_ab = polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b)
    within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    return float(within - 2 * k_ab.sum() / m**2)


def kernel_distance(features_a, features_b, subsets=100, subset_size=1000, seed=0):
    """KID, the kernel distance between two sets of features: (mean, standard deviation) of squared_mmd
    over `subsets` random subsets of subset_size rows of each set.

    Unlike FID it has no bias that depends on the number of samples, so figures from 500 and from
    2,000 samples can be compared; lower is better, 0 is the same distribution. The spread over
    subsets says how much of a difference is noise. A subset as large as its set would be the whole
    set every time (a spread of 0 that says nothing), so with several subsets each takes at most half
    of the smaller set (kid_subset_size says how many rows).
    """
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise MetricsError(f"KID needs two (N, D) feature arrays of the same D; got {a.shape} and {b.shape}.")
    size = kid_subset_size(len(a), len(b), subsets, subset_size)
    if size < 2:
        raise MetricsError("KID needs at least 2 samples in each set.")
    rng = np.random.default_rng(seed)
    values = [squared_mmd(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def kid_subset_size(rows_a, rows_b, subsets=100, subset_size=1000):
    """Rows per KID subset: subset_size, but with several subsets at most half of the smaller set,
    so that the subsets differ and their spread measures something."""
    largest = min(rows_a, rows_b) if subsets == 1 else min(rows_a, rows_b) // 2
    return min(subset_size, largest)


def symmetric_sqrt(matrix):
    """S^(1/2) of a symmetric positive semi-definite S = V diag(lambda) V^T: V diag(sqrt(lambda)) V^T."""
    eigenvalues, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ vectors.T


# --- samples and classifier outputs --------------------------------------------------------------


def generate_images(model, n, seed=0, labels=None, batch_size=500, on_batch=None, temperature=1.0):
    """n samples as uint8 (n, 28, 28), seeded exactly like genai.sampling.

    The noise is drawn as in sampling.seeded_latents (one randn row per image from
    torch.Generator().manual_seed(seed) on the CPU, turned into codes by the model's
    latents_from_noise), so the first 1,024 images are exactly
    sampling.sample(model, seed, 1024, temperature=temperature); unlike sampling, this allows more
    than 1,024 images.
    Conditional models draw the digits 0..9 in turn (all digits equally often) unless labels
    are given. on_batch(done, n): called after each batch of images is drawn.
    """
    seed = check_seed(seed)
    check_temperature(temperature)
    if not isinstance(n, int) or n < 1:
        raise MetricsError(f"The number of samples must be a whole number of at least 1, not {n!r}.")
    generator = torch.Generator().manual_seed(seed)
    noise = torch.stack([torch.randn(model.latent_dim, generator=generator) for _ in range(n)])
    with torch.no_grad():
        z = model.latents_from_noise(noise, float(temperature)).cpu()
    labels = label_tensor(model, labels, n)
    chunks = []
    for i in range(0, n, batch_size):
        chunks.append(decode(model, z[i:i + batch_size], None if labels is None else labels[i:i + batch_size]))
        if on_batch is not None:
            on_batch(min(i + batch_size, n), n)
    return np.concatenate(chunks)


def classifier_features(images, classifier=None):
    """The classifier's penultimate features of images (uint8 (N, 28, 28) or float (N, 1, 28, 28)): (N, 128)."""
    classifier = classifier or default_classifier()
    return classifier.features(as_float_images(images)).numpy()


def classifier_probabilities(images, classifier=None):
    """p(digit | image) for every image: (N, 10) numpy, rows sum to 1."""
    classifier = classifier or default_classifier()
    return classifier.probabilities(as_float_images(images)).numpy()


def classifier_fid(model_or_images, real_images, n=None, seed=0, classifier=None):
    """classifier-FID between generated and real digits (lower is better).

    model_or_images: a generative model (n samples are drawn with this seed) or images
    (uint8 (N, 28, 28) or float (N, 1, 28, 28)). The features are the classifier's penultimate
    layer. FID depends on the number of samples (fewer samples -> higher FID), so compare
    models at the same n, and read it beside real_fid_floor() for the same n. Images the
    classifier takes for "not a digit" (noise, blank, blobs) all map to about the same features,
    so FID tops out near 1,350 for them: it ranks models that draw digit-like images.
    """
    if isinstance(model_or_images, torch.nn.Module):
        fake = generate_images(model_or_images, n or len(real_images), seed)
    else:
        fake = model_or_images if n is None else model_or_images[:n]
    return frechet_distance(classifier_features(fake, classifier), classifier_features(real_images, classifier))


def real_fid_floor(real_images, n, seed=0, classifier=None):
    """The FID of two disjoint random sets of n real digits: the best a model can score at this n."""
    first, second = disjoint_subsets(len(real_images), n, seed)
    real_images = torch.as_tensor(np.asarray(real_images))
    return frechet_distance(
        classifier_features(real_images[first], classifier), classifier_features(real_images[second], classifier)
    )


def disjoint_subsets(n_images, n, seed=0):
    """Two disjoint seeded random index sets of size n out of range(n_images)."""
    if 2 * n > n_images:
        raise MetricsError(
            f"Comparing with real digits needs 2 x {n:,} real images but only {n_images:,} are loaded: "
            f"use n of at most {n_images // 2:,}."
        )
    order = torch.randperm(n_images, generator=torch.Generator().manual_seed(check_seed(seed)))
    return order[:n], order[n:2 * n]


def classifier_inception_score(probs, eps=1e-12):
    """Inception Score with the digit classifier (Salimans et al. 2016), in one split.

    With p(y|x) the classifier's probabilities for sample x and p(y) = mean over x of p(y|x):

        IS = exp( mean_x KL( p(y|x) || p(y) ) )
           = exp( mean_x sum_y p(y|x) * (log p(y|x) - log p(y)) )

    High when each sample is confidently one digit (p(y|x) peaked) AND all digits
    appear (p(y) flat). It ranges from 1 (every sample looks the same, or nothing is
    recognizable) to the number of classes, 10 (confident and perfectly balanced).
    """
    probs = np.asarray(probs, dtype=np.float64)
    marginal = probs.mean(axis=0, keepdims=True)
    kl = (probs * (np.log(probs + eps) - np.log(marginal + eps))).sum(axis=1)
    return float(np.exp(kl.mean()))


def confident_share(probs, threshold=0.9):
    """The "recognizable share": the fraction of images whose most likely digit has p >= threshold."""
    probs = np.asarray(probs)
    return float((probs.max(axis=1) >= threshold).mean())


def class_histogram(probs):
    """How many images the classifier assigns to each digit: int array of length 10."""
    probs = np.asarray(probs)
    return np.bincount(probs.argmax(axis=1), minlength=probs.shape[1])


def recognizable_share(model, n=1000, seed=0, threshold=0.9, classifier=None):
    """The share of n seeded samples that the classifier recognizes with p >= threshold.

    Conditional models draw every digit equally often (0, 1, ..., 9, 0, 1, ...).
    """
    return confident_share(classifier_probabilities(generate_images(model, n, seed), classifier), threshold)


def label_agreement(model, n=1000, seed=0, classifier=None):
    """Conditional models: the share of samples whose most likely digit is the digit asked for."""
    if not model.conditional:
        raise MetricsError("Label agreement needs a conditional model: this one is not told which digit to draw.")
    asked = np.arange(n) % model.config.num_classes
    probs = classifier_probabilities(generate_images(model, n, seed, labels=asked), classifier)
    return float((probs.argmax(axis=1) == asked).mean())


# --- VAE figures ---------------------------------------------------------------------------------


def negative_elbo(model, images, labels=None, seed=0, batch_size=500):
    """A model's negative ELBO in nats per image, with beta = 1: model.likelihood() (genai/models/vae.py
    has the formula). Returns {"negative_elbo", "reconstruction", "kl", "likelihood"}."""
    figures = model.likelihood(as_float_images(images), labels, seed=check_seed(seed), batch_size=batch_size)
    if figures is None:
        raise MetricsError(f"A {model.title} has no likelihood figure (the ELBO is a VAE's).")
    return figures


@torch.no_grad()
def reconstructions(model, images, labels=None, batch_size=500):
    """The VAE's reconstructions (decoder applied to the mean code mu): float (N, 1, 28, 28) in [0, 1], CPU."""
    device = model_device(model)
    images = as_float_images(images)
    was_training = model.training
    model.eval()
    parts = []
    for i in range(0, len(images), batch_size):
        y = None if labels is None else torch.as_tensor(labels[i:i + batch_size]).to(device)
        parts.append(model.reconstruct(images[i:i + batch_size].to(device), y).cpu())
    model.train(was_training)
    return torch.cat(parts)


def gaussian_window(size=11, sigma=1.5):
    """A size x size Gaussian kernel that sums to 1."""
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(images_a, images_b, data_range=1.0, window_size=11, sigma=1.5, k1=0.01, k2=0.03):
    """Structural similarity of each pair of images (Wang et al. 2004): a tensor (N,), 1 = identical.

    Around every pixel, a Gaussian window (11 x 11, sigma 1.5) gives local means mu, variances
    sigma^2 and the covariance sigma_ab of the two images; then

        SSIM = (2 mu_a mu_b + C1) (2 sigma_ab + C2) / ((mu_a^2 + mu_b^2 + C1) (sigma_a^2 + sigma_b^2 + C2))

    with C1 = (0.01 L)^2, C2 = (0.03 L)^2, L the data range (1 for images in [0, 1]). It compares
    brightness, contrast and structure, and is averaged over the windows that fit inside the image.
    Images: uint8 (N, 28, 28) or float (N, 1, H, W) in [0, 1].
    """
    a = as_float_images(images_a)
    b = as_float_images(images_b).to(a.device)
    if a.shape != b.shape:
        raise MetricsError(f"SSIM compares images of the same shape; got {tuple(a.shape)} and {tuple(b.shape)}.")
    window = gaussian_window(window_size, sigma).to(a.device)[None, None]

    def blur(t):  # local weighted mean; "valid": only windows fully inside the image
        return F.conv2d(t, window)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.flatten(1).mean(dim=1)


def psnr(images_a, images_b, data_range=1.0):
    """Peak signal-to-noise ratio of each pair, in dB: a tensor (N,).

        PSNR = 10 log10( L^2 / MSE ),  MSE = mean over pixels of (a - b)^2

    Higher is better; identical images give +inf (no noise at all).
    """
    a = as_float_images(images_a)
    b = as_float_images(images_b).to(a.device)
    if a.shape != b.shape:
        raise MetricsError(f"PSNR compares images of the same shape; got {tuple(a.shape)} and {tuple(b.shape)}.")
    mse = (a - b).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(data_range**2 / mse)


def binarize(images):
    """Images with every pixel set to 0 or 1 at the threshold 0.5 (uint8: 127 < pixel)."""
    return (as_float_images(images) > 0.5).float()


# --- everything at once --------------------------------------------------------------------------


def evaluate(model, dataset, n_samples=2000, seed=0, classifier=None, metadata=None, progress=None):
    """Every figure that applies to the model, as a dict (see the module docstring).

    dataset: the MNIST test split (a genai.data.Dataset): every figure is measured against it.
    Two disjoint seeded sets of n_samples test images are drawn from it: the first is the
    reference for FID (and the VAE's test images), the second gives the real-vs-real floor.
    metadata: the checkpoint's config.json, if known, to say whether the model learned from
    these very images (results["trained_on_eval_images"], and figures_table.overlap_note()).
    progress(fraction, what): told how far it is (drawing the samples is most of the time for slow models).
    """
    progress = progress or (lambda fraction, what: None)
    if dataset.name != "mnist":
        raise MetricsError(f"The metrics classifier knows MNIST digits only, not {dataset.name}.")
    if dataset.split != "test":
        raise MetricsError(f"Figures are measured against the MNIST test split, not the {dataset.split} split.")
    classifier = classifier or default_classifier(model_device(model))
    first, second = disjoint_subsets(len(dataset), n_samples, seed)
    real, real_labels = dataset.images[first].cpu(), dataset.labels[first].cpu()
    progress(0.0, f"Drawing {n_samples:,} samples")
    fake = generate_images(model, n_samples, seed, on_batch=lambda done, n: progress(
        0.7 * done / n, f"Drawing samples: {done:,} of {n:,}"))
    progress(0.7, "Asking the classifier about them")
    fake_features, real_features = classifier_features(fake, classifier), classifier_features(real, classifier)
    second_features = classifier_features(dataset.images[second].cpu(), classifier)  # the real-vs-real floor
    fake_probs, real_probs = classifier_probabilities(fake, classifier), classifier_probabilities(real, classifier)
    results = {
        "model": model.describe(),
        "family": model.family,
        "arch": model.arch,
        "conditional": model.conditional,
        "dataset": f"the MNIST {dataset.split} split ({len(dataset):,} images)",  # what every figure is measured against
        "n_samples": n_samples,
        "seed": seed,
        "fid": frechet_distance(fake_features, real_features),
        "fid_real_floor": frechet_distance(second_features, real_features),
        **dict(zip(("kid", "kid_std"), kernel_distance(fake_features, real_features, seed=seed))),
        "kid_real_floor": kernel_distance(second_features, real_features, seed=seed)[0],
        "kid_subset_size": kid_subset_size(n_samples, n_samples),
        "inception_score": classifier_inception_score(fake_probs),
        "inception_score_real": classifier_inception_score(real_probs),
        "recognizable_share": confident_share(fake_probs),
        "recognizable_share_real": confident_share(real_probs),
        "class_counts": class_histogram(fake_probs).tolist(),
    }
    if model.conditional:
        asked = np.arange(n_samples) % model.config.num_classes  # what generate_images asked for
        results["label_agreement"] = float((fake_probs.argmax(axis=1) == asked).mean())
    labels = real_labels if model.conditional else None
    progress(0.8, "Measuring the likelihood of test digits (models that have one)")
    figures = model.likelihood(binarize(real), labels, seed=seed) or {}  # the family's own figure, if any
    if figures and model.conditional:
        figures["likelihood"] = f"{likelihood_of(results)}: " + figures["likelihood"]
    results.update(figures)
    if model.can_encode:
        progress(0.95, "Reconstructing test digits")
        rebuilt = reconstructions(model, real, labels)
        results["ssim"] = float(ssim(rebuilt, real).mean())
        results["psnr"] = float(psnr(rebuilt, real).mean())
    if metadata is not None:
        results["trained_on_eval_images"] = trained_on(metadata, dataset)
    return results


def trained_on(metadata, dataset):
    """Did the checkpoint learn from the images we measure against? True, False, or None (not recorded).

    A recorded split of None (older checkpoints: "every split found") counts as overlapping.
    """
    training = metadata.get("training") or {}
    if "split" not in training:
        return None
    return metadata.get("dataset") in (None, dataset.name) and training["split"] in (None, dataset.split)


def json_ready(results):
    """results with non-finite floats (e.g. PSNR of identical images, +inf) as None: valid JSON."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in results.items()}
