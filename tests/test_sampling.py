"""Tests for genai.sampling: seeds mean something, grids keep their first digits, walks through
latent space start and end at the right digits, and pictures are written as asked.

The model is an MLP VAE trained for a few dozen steps on the real MNIST split (under a second),
so its samples are digit-like and differ from seed to seed.
"""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from genai.data import load_dataset
from genai.models import create_model
from genai.sampling import (
    MAX_SEED,
    SamplingError,
    decode,
    decode_path,
    gif_bytes,
    grid,
    interpolate,
    interpolate_latents,
    latent_noise,
    lerp,
    sample,
    save_images,
    slerp,
    strip,
    to_uint8,
)
from genai.train import TrainSettings, train


def trained(mnist_dir, **options):
    model = create_model("vae", "mlp", seed=0, **options)
    dataset = load_dataset("mnist", data_dir=mnist_dir, download=False)
    for _ in train(model, dataset, TrainSettings(epochs=1, max_steps=60, log_every=60, preview_images=0)):
        pass
    return model.eval()


@pytest.fixture(scope="module")
def vae(mnist_dir):
    return trained(mnist_dir)


@pytest.fixture(scope="module")
def conditional_vae(mnist_dir):
    return trained(mnist_dir, conditional=True)


# ---------------------------------------------------------------------------------------------
# Seeded noise
# ---------------------------------------------------------------------------------------------


def test_latent_noise_is_a_function_of_the_seed():
    z = latent_noise(42, 8, 100)
    assert z.shape == (8, 100) and z.dtype == torch.float32 and z.device.type == "cpu"
    assert torch.equal(z, latent_noise(42, 8, 100))
    assert not torch.equal(z, latent_noise(43, 8, 100))
    assert abs(float(z.mean())) < 0.2 and abs(float(z.std()) - 1) < 0.1  # z ~ N(0, I)
    torch.testing.assert_close(latent_noise(42, 8, 100, temperature=0.5), 0.5 * z)


@pytest.mark.parametrize("latent_dim", [2, 20, 100, 16])
def test_a_bigger_grid_starts_with_the_same_noise(latent_dim):
    big = latent_noise(7, 64, latent_dim)
    for n in (1, 2, 3, 4, 9, 16, 63):
        assert torch.equal(latent_noise(7, n, latent_dim), big[:n]), f"grid of {n} differs"


def test_the_same_seed_gives_the_same_digit_whatever_the_grid_size(vae):
    one, nine, sixty_four = sample(vae, 42, 1), sample(vae, 42, 9), sample(vae, 42, 64)
    assert np.array_equal(one[0], sixty_four[0])
    assert np.array_equal(nine, sixty_four[:9])


def test_sample_is_reproducible_and_seeds_differ(vae):
    images = sample(vae, 5, 16)
    assert images.shape == (16, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images, sample(vae, 5, 16))
    other = sample(vae, 6, 16)
    assert all(not np.array_equal(a, b) for a, b in zip(images, other))
    assert len({image.tobytes() for image in images}) == 16  # each image of a grid is its own


def test_sample_is_white_on_black(vae):
    images = sample(vae, 0, 32).astype(np.float32)
    assert images[:, :3, :].mean() < 30 and images[:, :, :3].mean() < 30  # black background
    assert images.max() > 150  # white ink (brighter still after longer training)


def test_temperature_zero_point_one_stays_near_the_mean_digit(vae):
    cold = sample(vae, 1, 8, temperature=0.1).astype(np.float32)
    warm = sample(vae, 1, 8, temperature=1.0).astype(np.float32)
    assert cold.std(axis=0).mean() < warm.std(axis=0).mean()


def test_sample_does_not_leave_the_model_in_eval_mode(vae):
    vae.train()
    sample(vae, 0, 2)
    assert vae.training
    vae.eval()


def test_conditional_sampling_draws_the_asked_digit_label(conditional_vae):
    threes, fives = sample(conditional_vae, 9, 8, labels=3), sample(conditional_vae, 9, 8, labels=5)
    assert not np.array_equal(threes, fives)
    assert np.array_equal(threes, sample(conditional_vae, 9, 8, labels=[3] * 8))
    # No labels: the digits 0, 1, ..., 9, 0, ... in turn.
    in_turn = sample(conditional_vae, 9, 12)
    assert np.array_equal(in_turn[3], sample(conditional_vae, 9, 4, labels=[0, 1, 2, 3])[3])


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 1.5, "42", True, None])
def test_bad_seeds_raise_a_sampling_error(vae, seed):
    with pytest.raises(SamplingError, match="seed must be a whole number from 0 to 4,294,967,295"):
        sample(vae, seed, 4)


def test_extreme_but_valid_seeds_work(vae):
    assert sample(vae, 0, 1).shape == sample(vae, MAX_SEED, 1).shape == (1, 28, 28)
    assert np.array_equal(sample(vae, np.int64(3), 2), sample(vae, 3.0, 2))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"n": 0}, "number of images"),
        ({"n": 5000}, "number of images"),
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1}, "temperature"),
    ],
)
def test_bad_counts_and_temperatures_raise_a_sampling_error(vae, kwargs, message):
    with pytest.raises(SamplingError, match=message):
        sample(vae, 0, **{"n": 4, **kwargs})


@pytest.mark.parametrize("labels", [10, -1, [1, 2]])
def test_bad_labels_raise_a_sampling_error(conditional_vae, labels):
    with pytest.raises(SamplingError, match="digit from 0 to 9"):
        sample(conditional_vae, 0, 4, labels=labels)


# ---------------------------------------------------------------------------------------------
# lerp and slerp
# ---------------------------------------------------------------------------------------------


def test_lerp_endpoints_and_midpoint_is_the_mean():
    a, b = torch.randn(1, 10), torch.randn(1, 10)
    torch.testing.assert_close(lerp(a, b, 0.0), a)
    torch.testing.assert_close(lerp(a, b, 1.0), b)
    torch.testing.assert_close(lerp(a, b, 0.5), (a + b) / 2)


def test_slerp_keeps_the_norm_of_equal_norm_inputs():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 100, generator=generator), torch.randn(1, 100, generator=generator)
    b = b / b.norm() * a.norm()
    t = torch.linspace(0, 1, 11).unsqueeze(1)
    path = slerp(a, b, t)
    torch.testing.assert_close(path.norm(dim=1), a.norm().expand(11), rtol=1e-5, atol=0)
    torch.testing.assert_close(path[0], a[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(path[-1], b[0], rtol=1e-5, atol=1e-6)
    # A straight line dips inside the sphere: its midpoint is shorter.
    assert float(lerp(a, b, 0.5).norm()) < 0.9 * float(a.norm())
    # The slerp midpoint lies on the bisector, at equal angles from a and b.
    middle = path[5]
    cos_a = torch.nn.functional.cosine_similarity(middle, a[0], dim=0)
    cos_b = torch.nn.functional.cosine_similarity(middle, b[0], dim=0)
    assert float(cos_a) == pytest.approx(float(cos_b), abs=1e-5)


def test_slerp_of_a_known_quarter_circle():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    half = slerp(a, b, torch.tensor([[0.5]]))
    torch.testing.assert_close(half, torch.tensor([[2**-0.5, 2**-0.5]]))


def test_slerp_of_parallel_vectors_falls_back_to_lerp_without_nan():
    a = torch.tensor([[1.0, 2.0, 3.0]])
    t = torch.linspace(0, 1, 5).unsqueeze(1)
    path = slerp(a, 2 * a, t)
    assert torch.isfinite(path).all()
    torch.testing.assert_close(path, lerp(a, 2 * a, t))


def test_interpolate_latents_has_k_codes_with_exact_endpoints():
    z_a, z_b = latent_noise(1, 1, 20), latent_noise(2, 1, 20)
    for method in ("slerp", "lerp"):
        codes = interpolate_latents(z_a, z_b, 9, method)
        assert codes.shape == (9, 20)
        assert torch.equal(codes[0], z_a[0]) and torch.equal(codes[-1], z_b[0])
    torch.testing.assert_close(interpolate_latents(z_a, z_b, 3, "lerp")[1], ((z_a + z_b) / 2)[0])


@pytest.mark.parametrize("steps,method,message", [(1, "slerp", "Steps"), (300, "lerp", "Steps"), (5, "cubic", "lerp or slerp")])
def test_bad_interpolation_settings_raise_a_sampling_error(steps, method, message):
    with pytest.raises(SamplingError, match=message):
        interpolate_latents(torch.zeros(1, 4), torch.ones(1, 4), steps, method)


@pytest.mark.parametrize("method", ["slerp", "lerp"])
def test_interpolation_frames_start_and_end_at_the_seeds_own_digits(vae, method):
    frames = interpolate(vae, 11, 22, steps=7, method=method)
    assert frames.shape == (7, 28, 28) and frames.dtype == np.uint8
    assert np.array_equal(frames[0], sample(vae, 11, 1)[0])
    assert np.array_equal(frames[-1], sample(vae, 22, 1)[0])
    assert not np.array_equal(frames[0], frames[-1])
    assert not np.array_equal(frames[3], frames[0]) and not np.array_equal(frames[3], frames[-1])


def test_conditional_interpolation_keeps_the_digit_label(conditional_vae):
    frames = interpolate(conditional_vae, 11, 22, steps=5, label=7)
    assert np.array_equal(frames[0], sample(conditional_vae, 11, 1, labels=7)[0])
    assert np.array_equal(frames[-1], sample(conditional_vae, 22, 1, labels=7)[0])
    default = interpolate(conditional_vae, 11, 22, steps=5)  # digit 0 unless told
    assert np.array_equal(default[0], sample(conditional_vae, 11, 1, labels=0)[0])


def test_decode_path_matches_decode(vae):
    codes = latent_noise(3, 4, vae.latent_dim)
    assert np.array_equal(decode_path(vae, codes), decode(vae, codes))


# ---------------------------------------------------------------------------------------------
# Pictures: uint8, grids, strips, GIFs, files
# ---------------------------------------------------------------------------------------------


def test_to_uint8_clamps_and_rounds():
    images = torch.tensor([-0.5, 0.0, 0.5, 1.0, 1.5, 0.999]).reshape(6, 1, 1, 1)
    assert to_uint8(images).ravel().tolist() == [0, 0, 128, 255, 255, 255]


def numbered_images(n):
    """n images, image i filled with the value 10 * (i + 1)."""
    return np.stack([np.full((28, 28), 10 * (i + 1), dtype=np.uint8) for i in range(n)])


def test_grid_places_image_i_in_row_i_div_columns_and_column_i_mod_columns():
    picture = np.asarray(grid(numbered_images(7), columns=3, padding=2))
    assert picture.shape == (3 * 30 + 2, 3 * 30 + 2)
    for i in range(7):
        row, column = divmod(i, 3)
        y, x = 2 + 30 * row, 2 + 30 * column
        assert (picture[y:y + 28, x:x + 28] == 10 * (i + 1)).all()
    assert picture[0].max() == 0 and picture[-30:, 30 + 2:].max() == 0  # padding and empty cells stay black


def test_grid_is_close_to_square_by_default_and_scales():
    assert grid(numbered_images(16)).size == (4 * 30 + 2, 4 * 30 + 2)
    assert grid(numbered_images(5)).size == (3 * 30 + 2, 2 * 30 + 2)
    assert grid(numbered_images(4), scale=3).size == (3 * (2 * 30 + 2),) * 2
    assert strip(numbered_images(6)).size == (6 * 30 + 2, 30 + 2)


def test_gif_plays_the_frames_forward_then_back():
    frames = numbered_images(5)
    gif = Image.open(io.BytesIO(gif_bytes(frames, scale=2)))
    decoded = []
    for index in range(gif.n_frames):
        gif.seek(index)
        decoded.append(np.asarray(gif.convert("L"))[::2, ::2])
    assert gif.size == (56, 56)
    assert [int(f[0, 0]) for f in decoded] == [10, 20, 30, 40, 50, 40, 30, 20]
    assert gif.info.get("loop") == 0


def test_gif_frames_keep_every_grey_level_exactly():
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
    frames = np.stack([np.roll(ramp, shift, axis=1) for shift in range(6)])
    gif = Image.open(io.BytesIO(gif_bytes(frames, scale=3, bounce=False)))
    for index, frame in enumerate(frames):
        gif.seek(index)
        np.testing.assert_array_equal(np.asarray(gif.convert("L"))[::3, ::3], frame)


def test_save_images_writes_png_npy_and_gif(tmp_path):
    images = numbered_images(4)
    np.testing.assert_array_equal(np.load(save_images(images, tmp_path / "a.npy")), images)
    png = Image.open(save_images(images, tmp_path / "a.png"))
    assert png.mode == "L" and png.size == (2 * 30 + 2,) * 2
    assert np.array_equal(np.asarray(png), np.asarray(grid(images)))
    assert Image.open(save_images(images, tmp_path / "a.PNG", kind="strip")).size == (4 * 30 + 2, 30 + 2)
    assert Image.open(save_images(images, tmp_path / "a.gif")).n_frames == 6


def test_save_images_refuses_other_extensions_and_writes_nothing(tmp_path):
    with pytest.raises(SamplingError, match=r"must end in \.png, \.gif or \.npy"):
        save_images(numbered_images(2), tmp_path / "digits.jpg")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("family, arch", [("gan", "mlp"), ("gan", "dcgan"), ("vae", "mlp"), ("diffusion", "unet"),
                                          ("autoregressive", "pixelcnn")])
def test_a_conditional_walk_can_morph_the_digit_with_the_style_fixed(family, arch):
    """The same seed at both ends and label 3 -> 8: the ends are exactly the model's 3 and 8, the middle a blend."""
    from genai.models import create_model
    from genai.sampling import interpolate, sample

    model = create_model(family, arch, seed=0, conditional=True, **({"layers": 1} if family == "autoregressive" else {}))
    frames = interpolate(model, 5, 5, steps=4, method="lerp", label=3, label_b=8)
    assert np.array_equal(frames[0], sample(model, 5, 1, labels=3)[0])
    assert np.array_equal(frames[-1], sample(model, 5, 1, labels=8)[0])
    assert not np.array_equal(frames[1], frames[0]) or not np.array_equal(frames[2], frames[-1])
    with pytest.raises(ValueError, match="add up to 1"):
        model.eval()
        model.generate(torch.zeros(1, model.latent_dim), torch.tensor([[0.5] * 10]))
