"""The autoregressive family: each pixel's prediction sees only the pixels before it, the likelihood
is exact, and the fast pixel-by-pixel sampler computes exactly what the one-pass network computes."""

import math

import pytest
import torch

from genai.models import create_model
from genai.models.autoregressive import pixel_nll


ARCHS = {"pixelcnn": {"layers": 3}, "lstm": {"hidden_size": 16}}  # small versions of both networks


def small_model(conditional=False, seed=0, arch="pixelcnn", **options):
    model = create_model("autoregressive", arch, seed=seed, conditional=conditional, **options)
    return model.eval()


def sampled_and_predicted(model, conditional):
    """Six digits drawn pixel by pixel, the network's p(ink) for each of their pixels in one pass over
    the finished images, and the uniform numbers u = Phi(z) the sampler compared with p."""
    z = torch.randn(6, 784, generator=torch.Generator().manual_seed(3))
    labels = torch.arange(6) if conditional else None
    images = model.generate(z, labels)
    with torch.no_grad():
        p = torch.sigmoid(model.network(images, labels))
    return images, p, torch.special.ndtr(z.reshape(6, 1, 28, 28))


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("position", [(0, 0), (0, 27), (1, 0), (13, 14), (27, 27)])
def test_every_arch_predicts_a_pixel_from_the_pixels_before_it_only(arch, position):
    """The gradient of pixel i's logit is zero for pixel i itself and every pixel after it (row by row),
    and not zero for the pixel above and the one to the left."""
    model = small_model(arch=arch, conditional=True, **ARCHS[arch])
    x = (torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(1)) > 0.5).float().requires_grad_()
    r, c = position
    model.network(x, torch.tensor([4]))[0, 0, r, c].backward()
    reach = x.grad[0, 0].abs().flatten() > 0
    index = r * 28 + c
    assert not reach[index:].any(), "a prediction sees its own pixel or a later one"
    assert (r == 0 or reach[index - 28]) and (c == 0 or reach[index - 1])


@pytest.mark.parametrize("conditional", [False, True])
def test_the_lstm_sampler_computes_what_the_one_pass_network_computes(conditional):
    """Every sampled pixel is (u < p) with p from the LSTMs run over the finished image in one pass.

    Stepping an LSTM one input at a time adds its numbers in another order than one pass over the
    sequence, so p may differ in the last digits: pixels whose u lies that close to p are not judged."""
    images, p, u = sampled_and_predicted(small_model(conditional, arch="lstm", **ARCHS["lstm"]), conditional)
    clear = (u - p).abs() > 1e-5
    assert clear.float().mean() > 0.99
    assert torch.equal((u < p).float()[clear], images[clear])
    assert set(images.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("position", [(0, 0), (0, 5), (3, 0), (13, 14), (27, 27)])
@pytest.mark.parametrize("dilation_cycle", [1, 3])
def test_a_pixels_prediction_depends_only_on_the_pixels_before_it(position, dilation_cycle):
    """The gradient of pixel i's logit is zero for pixel i itself and every pixel after it (row by row)."""
    model = small_model(layers=3, dilation_cycle=dilation_cycle)
    x = (torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(1)) > 0.5).float().requires_grad_()
    r, c = position
    model.network(x)[0, 0, r, c].backward()
    reach = x.grad[0, 0].abs().flatten() > 0
    index = r * 28 + c
    assert not reach[index:].any(), "a prediction sees its own pixel or a later one"
    if r > 0:  # it does use the pixel above, and the one to its left
        assert reach[index - 28] and (c == 0 or reach[index - 1])


@pytest.mark.parametrize("conditional, dilation_cycle", [(False, 3), (True, 3), (False, 1), (True, 4)])
def test_the_pixel_by_pixel_sampler_computes_what_the_one_pass_network_computes(conditional, dilation_cycle):
    """Every sampled pixel is exactly (u < p) with p from the full network on the finished image."""
    images, p, u = sampled_and_predicted(small_model(conditional, dilation_cycle=dilation_cycle), conditional)
    assert torch.equal((u < p).float(), images)
    assert set(images.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("arch", list(ARCHS))
def test_the_likelihood_is_exact_784_coin_flips_for_a_network_that_knows_nothing(arch):
    """With every logit 0 each pixel is a fair coin: -log p(x) = 784 log 2 = 543.4 nats, whatever x is."""
    logits = torch.zeros(3, 1, 28, 28)
    pixels = (torch.rand(3, 1, 28, 28) > 0.5).float()
    assert torch.allclose(pixel_nll(logits, pixels), torch.full((3,), 784 * math.log(2)))
    model = small_model(arch=arch, **ARCHS[arch])
    for parameter in model.network.head[-1].parameters():
        torch.nn.init.zeros_(parameter)
    figures = model.likelihood(pixels, None)
    assert figures["nll_nats"] == pytest.approx(784 * math.log(2), rel=1e-6)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_the_likelihood_is_a_probability_over_all_images(arch):
    """On a 2x2 corner with the rest fixed, the 16 images' probabilities (from 4 chained predictions) sum to 1."""
    model = small_model(arch=arch, **ARCHS[arch])
    background = torch.zeros(16, 1, 28, 28)
    bits = torch.tensor([[(k >> b) & 1 for b in range(4)] for k in range(16)], dtype=torch.float32)
    images = background.clone()
    images[:, 0, 27, 26], images[:, 0, 27, 27] = bits[:, 0], bits[:, 1]
    images[:, 0, 26, 26], images[:, 0, 26, 27] = bits[:, 2], bits[:, 3]
    with torch.no_grad():
        logits = model.network(images)
    corner = [(26, 26), (26, 27), (27, 26), (27, 27)]
    log_p = sum(-torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0, r, c], images[:, 0, r, c],
                                                                      reduction="none") for r, c in corner)
    assert float(log_p.exp().sum()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_temperature_zero_draws_every_pixels_likelier_value(arch):
    """Noise scaled to 0 makes u = 1/2: pixel = (p > 1/2), the greedy digit, the same for every seed."""
    model = small_model(arch=arch, **ARCHS[arch])
    a = model.generate(torch.zeros(2, 784))
    with torch.no_grad():
        p = torch.sigmoid(model.network(a))
    assert torch.equal((p > 0.5).float(), a)
    assert torch.equal(a[0], a[1])


@pytest.mark.parametrize("arch", list(ARCHS))
def test_a_training_step_lowers_the_likelihood_of_the_batch(arch):
    model = create_model("autoregressive", arch, seed=0, **ARCHS[arch])
    images = (torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.7).float()
    optimizers = model.configure_optimizers(1e-2)
    first = model.likelihood(images)["nll_nats"]
    for _ in range(5):
        model.train()
        model.training_step(images, None, optimizers, torch.Generator())
    assert model.likelihood(images)["nll_nats"] < first - 20


def test_dilation_lets_the_bottom_of_a_digit_see_its_top():
    """With 6 layers, the rows above reach 10 rows up undilated, 3 + 2 * (1 + 2 + 4) + 1 = 18 with dilations 1, 2, 4."""
    assert small_model(dilation_cycle=1).pixelcnn.rows_reach == 10
    model = small_model(dilation_cycle=3)
    assert model.pixelcnn.rows_reach == 18
    x = torch.zeros(1, 1, 28, 28, requires_grad=True)
    model.network(x)[0, 0, 24, 14].backward()
    assert x.grad[0, 0, 24 - 16].abs().sum() > 0  # row 24 uses what was drawn 16 rows above it
