"""The web app through its API, as gradio_client sees it: `python app.py` runs in a subprocess.

Every Client is a separate visitor (its own session), like a separate browser tab.
The app's checkpoints folder holds three tiny models made by tests/app_server.py:
"tiny-gan" (conditional MLP GAN), "tiny-vae" (MLP VAE with a 2-D latent space) and "tiny-diffusion" (a
conditional diffusion UNet of 4 sampling steps).
"""

import importlib.util
import json
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

import app_server

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

PAD = 2  # genai.sampling.grid's padding between tiles
SCALE = 2  # the app shows grids at 2 screen pixels per MNIST pixel
TILE = 28 + PAD
SHIPPED = ["tiny-gan", "tiny-vae", "tiny-diffusion"]  # the server's models, as its pickers list them


@pytest.fixture(scope="session")
def server(mnist_dir):
    return app_server.start(mnist_dir)


@pytest.fixture
def new_client(server, tmp_path):
    """Make clients (each one a separate visitor, from an address of its own) that download into this test's folder."""

    def make():
        return Client(server.url, verbose=False, analytics_enabled=False, download_files=str(tmp_path),
                      headers=app_server.visitor_headers())

    return make


@pytest.fixture
def client(new_client):
    return new_client()


def pixels(path):
    return np.asarray(Image.open(path).convert("L"))


def sample(client, model="tiny-vae", seed=0, grid_size=3, digit="all", temperature=1.0, steps=20, guidance=2.0):
    return pixels(client.predict(model, seed, grid_size, digit, temperature, steps, guidance, api_name="/sample"))


def train(client, family="vae", arch="mlp", max_steps=40, latent=None, seconds=20):
    """Submit a tiny training run (a budget of seconds, or max_steps if reached first); returns the Job."""
    latent = latent or (20 if family == "vae" else 100)
    lr = 1e-3 if family == "vae" else 2e-4
    return client.submit("mnist", family, arch, False, latent, seconds, 64, lr, 1.0, 0, max_steps, 1.0,
                         api_name="/train")


def picker_names(client):
    """The model names this visitor's pickers offer (the page-load endpoint refreshes them)."""
    status, _, sample_picker, *_ = client.predict("mnist", [], None, None, None, api_name="/refresh")
    return [value for _, value in sample_picker["choices"]], status


def test_pickers_offer_the_generative_checkpoints_only(client):
    names, status = picker_names(client)
    assert names == SHIPPED  # not checkpoints/classifier, not a folder without a model
    assert "images to learn from** (train split)" in status


def test_bad_checkpoint_folders_are_skipped_with_one_line_each_while_the_app_serves_the_rest(client, server):
    names, _ = picker_names(client)
    assert not any(name.startswith("bad-") for name in names)
    log = server.log()
    for bad in ("bad-huge", "bad-json", "bad-pickle"):
        assert f"Skipping the checkpoint folder {bad}:" in log
    assert "num_classes must be a whole number" in log and "looks like a pickle" in log


def test_sampling_is_deterministic_per_seed_and_differs_across_seeds(client):
    first, again, other = sample(client, seed=7), sample(client, seed=7), sample(client, seed=8)
    assert first.shape == ((3 * TILE + PAD) * SCALE,) * 2  # a 3 x 3 grid
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    big_seed = sample(client, seed=2**32 - 1)
    assert big_seed.shape == first.shape


def test_conditional_model_draws_the_chosen_digit(client):
    every_digit = sample(client, "tiny-gan", seed=1, grid_size=2, digit="all")
    assert every_digit.shape == ((2 * TILE + PAD) * SCALE, (10 * TILE + PAD) * SCALE)  # 2 rows of 0..9
    threes, sevens = sample(client, "tiny-gan", seed=1, digit="3"), sample(client, "tiny-gan", seed=1, digit="7")
    assert not np.array_equal(threes, sevens)


def test_interpolation_returns_the_frames_asked_for(client):
    strip, gif, frame_slider, frame = client.predict(
        "tiny-vae", "seeds", 11, 12, 0, 1, None, None, 7, "slerp", "0", api_name="/interpolate"
    )
    strip = pixels(strip)
    assert strip.shape == ((TILE + PAD) * SCALE, (7 * TILE + PAD) * SCALE)
    with Image.open(gif) as animation:
        assert animation.n_frames == 2 * 7 - 2  # forward, then back (without repeating the ends)
    assert (frame_slider["maximum"], frame_slider["value"]) == (6, 3)  # frames 0..6, showing the middle one
    assert pixels(frame).shape == (28 * 8, 28 * 8)
    # The walk starts exactly at the digit of seed A, and ends at the digit of seed B.
    start = sample(client, seed=11, grid_size=1)
    end = sample(client, seed=12, grid_size=1)
    assert np.array_equal(strip[:, : start.shape[1]], start)
    assert np.array_equal(strip[:, -end.shape[1]:], end)
    lerp_strip = pixels(client.predict("tiny-vae", "seeds", 11, 12, 0, 1, None, None, 7, "lerp", "0",
                                       api_name="/interpolate")[0])
    assert lerp_strip.shape == strip.shape


def test_vae_walks_between_test_digits_and_uploads(client, tmp_path):
    strip = client.predict("tiny-vae", "test digits", 0, 0, 3, 4, None, None, 5, "lerp", "0", api_name="/interpolate")[0]
    assert pixels(strip).shape[1] == (5 * TILE + PAD) * SCALE

    # A dark digit drawn on white paper, as a phone photo of a page would be.
    drawing = Image.new("RGB", (120, 160), "white")
    ImageDraw.Draw(drawing).line([(60, 20), (60, 140)], fill="black", width=14)
    drawn = tmp_path / "one.png"
    drawing.save(drawn)
    strip = client.predict("tiny-vae", "uploads", 0, 0, 0, 0, handle_file(str(drawn)), handle_file(str(drawn)), 4,
                           "slerp", "0", api_name="/interpolate")[0]
    assert pixels(strip).shape[1] == (4 * TILE + PAD) * SCALE


def test_gan_cannot_start_from_real_images(client):
    with pytest.raises(AppError, match="no encoder"):
        client.predict("tiny-gan", "test digits", 0, 0, 3, 4, None, None, 5, "lerp", "0", api_name="/interpolate")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c: sample(c, seed=-1), "seed must be a whole number from 0 to 4,294,967,295"),
        (lambda c: sample(c, seed=2**32), "seed must be a whole number from 0 to 4,294,967,295"),
        (lambda c: sample(c, model="no-such-model"), "no model called 'no-such-model'"),
        (lambda c: sample(c, temperature=0), "temperature must be a number from 0.1 to 2"),
        (lambda c: c.predict("tiny-vae", "test digits", 0, 0, 0, 10**6, None, None, 5, "lerp", "0",
                             api_name="/interpolate"), "Test digit B must be a whole number from 0 to [0-9,]+"),
        (lambda c: c.predict("tiny-vae", "uploads", 0, 0, 0, 0, None, None, 5, "lerp", "0",
                             api_name="/interpolate"), "Upload two images"),
        (lambda c: train(c, family="gan", arch="conv").result(), "not a GAN architecture"),
        (lambda c: train(c, seconds=0).result(), r"Train for \(seconds\) must be a number above 0 and at most 30, not 0"),
        (lambda c: train(c, seconds=10**9).result(), "at most 30"),
    ],
)
def test_bad_inputs_get_a_clear_message_and_the_app_keeps_answering(client, call, message):
    with pytest.raises(AppError, match=message):
        call(client)
    assert sample(client).size > 0


def test_a_file_that_is_not_an_image_is_refused_clearly(client, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("this is not a picture of a digit\n")
    with pytest.raises(AppError, match="notes.txt is not an image"):
        client.predict("tiny-vae", "uploads", 0, 0, 0, 0, handle_file(str(notes)), handle_file(str(notes)), 5,
                       "lerp", "0", api_name="/interpolate")
    assert sample(client).size > 0


def png_declaring(width, height):
    """A 60-byte PNG whose header declares width x height pixels (a decompression bomb's first step)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def test_a_picture_declaring_too_many_pixels_is_refused_before_decoding(client, server, tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(13000, 13000))  # a real picture, ~170 KB: 169 million pixels, 2.3 GB as floats
    before = peak_memory_mb(server.process.pid, reset=True)
    start = time.monotonic()
    with pytest.raises(AppError, match="bomb.png is 13000x13000 pixels; pictures up to 4096x4096 are accepted"):
        client.predict("tiny-vae", "uploads", 0, 0, 0, 0, handle_file(str(bomb)), handle_file(str(bomb)), 5,
                       "lerp", "0", api_name="/interpolate")
    assert time.monotonic() - start < 5
    assert peak_memory_mb(server.process.pid) - before < 100  # refused from its header, never decoded
    assert sample(client).size > 0


def test_uploads_above_the_size_limit_are_refused(client, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(png_declaring(28, 28) + b"\0" * (6 * 2**20))  # 6 MB; the app accepts up to 5 MB
    with pytest.raises(Exception, match="(?i)exceeds the maximum|too large|file size"):
        client.predict("tiny-vae", "uploads", 0, 0, 0, 0, handle_file(str(big)), handle_file(str(big)), 5,
                       "lerp", "0", api_name="/interpolate")
    assert sample(client).size > 0


def test_dataset_messages_never_show_the_servers_paths(client, mnist_dir):
    for name in ("mnist", "fashion-mnist"):
        status = client.predict(name, api_name="/dataset_status")
        assert str(mnist_dir) not in status and str(Path(mnist_dir).parent) not in status, status


def test_training_streams_progress_and_then_its_model_samples(client, tmp_path):
    job = train(client, family="vae", max_steps=60)
    updates = list(job)
    final = job.result()
    progress, losses, preview, status, name = final[:5]
    assert name == "my-vae-mlp-1"
    assert "step 60 of 60" in progress and "Finished 60 steps" in status

    streamed = [update for update in updates if isinstance(update[0], str) and "step " in update[0]]
    assert len(streamed) >= 2  # progress arrived while training ran, not only at the end
    curves = {row[2] for row in losses["data"]}
    assert curves == {"reconstruction", "KL", "total"}
    assert pixels(preview).shape == (8 * TILE + PAD, 8 * TILE + PAD)  # the 64 fixed-noise samples

    # The new model is at once in this visitor's pickers, and samples like any other.
    assert "my-vae-mlp-1" in picker_names(client)[0]
    assert not np.array_equal(sample(client, "my-vae-mlp-1", seed=3), sample(client, "tiny-vae", seed=3))

    # The download is a checkpoint folder that genai can load.
    from genai.checkpoints import load_model

    download = client.predict(name, api_name="/download")["value"]  # the .zip is handed out only when asked for
    with zipfile.ZipFile(download) as bundle:
        assert sorted(bundle.namelist()) == ["my-vae-mlp-1/config.json", "my-vae-mlp-1/model.safetensors"]
        bundle.extractall(tmp_path)
    model, metadata = load_model(tmp_path / "my-vae-mlp-1")
    assert metadata["steps"] == 60 and model.family == "vae"
    # It records what it learned from, so the Evaluate tab can tell whether its figures are honest.
    assert metadata["training"]["split"] == "train" and metadata["training"]["images"] > 0
    assert metadata["training"]["app"] == "genai web app" and metadata["training"]["steps"] == 60


def test_two_visitors_training_at_once_never_see_each_others_models(new_client):
    alice, bob = new_client(), new_client()
    alice_job, bob_job = train(alice, family="gan", max_steps=40), train(bob, family="vae", max_steps=40)
    alice_final, bob_final = alice_job.result(), bob_job.result()

    assert alice_final[4] == "my-gan-mlp-1" and bob_final[4] == "my-vae-mlp-1"
    assert {row[2] for row in alice_final[1]["data"]} == {"L_D", "L_G"}
    assert {row[2] for row in bob_final[1]["data"]} == {"reconstruction", "KL", "total"}
    assert picker_names(alice)[0] == [*SHIPPED, "my-gan-mlp-1"]
    assert picker_names(bob)[0] == [*SHIPPED, "my-vae-mlp-1"]
    assert sample(alice, "my-gan-mlp-1").size and sample(bob, "my-vae-mlp-1").size
    with pytest.raises(AppError, match="no model called 'my-vae-mlp-1'"):
        sample(alice, "my-vae-mlp-1")
    with pytest.raises(AppError, match="no model called 'my-gan-mlp-1'"):
        sample(bob, "my-gan-mlp-1")
    with pytest.raises(AppError, match="Train a model first"):
        bob.predict("my-gan-mlp-1", api_name="/download")  # nobody downloads another visitor's model


def test_one_training_per_visitor_and_stop_keeps_the_model(client):
    long_run = train(client, family="gan", max_steps=100_000, seconds=25)
    next(iter(long_run))  # it has started
    second = train(client, family="vae", max_steps=10)
    with pytest.raises(AppError, match="already training a model in this tab"):  # an API client sees it too
        second.result()
    assert not long_run.done()

    assert "Stopping" in client.predict(api_name="/stop")
    final = long_run.result()
    assert "Stopped" in final[3] and final[4] == "my-gan-mlp-1"
    assert picker_names(client)[0][-1] == "my-gan-mlp-1"
    assert "Nothing is training" in client.predict(api_name="/stop")


def test_explore_maps_a_2d_vae_and_explains_what_a_gan_lacks(client):
    recon, latent_map, scatter, note = client.predict("tiny-vae", 0, "0", api_name="/explore")
    assert pixels(recon).shape == ((2 * TILE + PAD) * 3, (10 * TILE + PAD) * 3)  # 10 originals over 10 rebuilt
    assert pixels(latent_map).shape == ((20 * TILE + PAD) * SCALE,) * 2
    assert scatter["columns"] == ["z1", "z2", "label"] and len(scatter["data"]) == 2000
    assert {row[2] for row in scatter["data"]} == {str(digit) for digit in range(10)}
    assert "2-D latent space" in note

    recon, latent_map, scatter, note = client.predict("tiny-gan", 0, "0", api_name="/explore")
    assert recon is None and latent_map is None and "MLP GAN" in note and "no encoder" in note


def test_importing_the_app_starts_nothing():
    import app

    assert type(app.demo).__name__ == "Blocks"
    assert not app.demo.is_running


KID_ROW = re.compile(r"^\| classifier-KID[^|]*\| \**-?[0-9][0-9.e+-]* ± [0-9][0-9.e+-]*\**", re.MULTILINE)  # value ± spread


@pytest.mark.skipif(importlib.util.find_spec("genai.metrics") is None, reason="genai/metrics.py is not in this tree")
def test_evaluate_shows_the_figures_of_a_model(client):
    from genai.classifier import SHIPPED_DIR

    if not (SHIPPED_DIR / "model.safetensors").is_file():
        with pytest.raises(AppError, match="classifier"):
            client.predict("tiny-gan", 500, 0, api_name="/evaluate")
        return
    figures, histogram = client.predict("tiny-gan", 500, 0, api_name="/evaluate")
    assert "classifier-FID" in figures and "label agreement" in figures  # tiny-gan is conditional
    assert KID_ROW.search(figures), figures  # KID beside FID, with its spread over the subsets
    assert [row[0] for row in histogram["data"]] == [str(digit) for digit in range(10)]
    assert sum(row[1] for row in histogram["data"]) == 500
    figures, _ = client.predict("tiny-vae", 500, 0, api_name="/evaluate")
    assert "negative ELBO" in figures and "reconstruction SSIM" in figures
    assert KID_ROW.search(figures), figures


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, 0, "ten", None, True, 601, "x" * 10**6])
def test_the_training_time_is_checked_for_nan_infinity_and_range(value):
    """Gradio's number box does not reject NaN (a raw HTTP client can send it): the app does, and its message
    quotes at most a short piece of what was sent."""
    from genai.recipes import recipe
    from genai.ui.errors import AppError as FormError
    from genai.ui.train_form import checked_form

    form = {name: value for name, value in recipe("vae").items() if name != "seconds"}
    with pytest.raises(FormError, match=r"Train for \(seconds\) (must be a number above 0 and at most 600|is empty)") as error:
        checked_form({**form, "seconds": value}, cap=600)
    assert len(str(error.value)) < 200
    assert checked_form({**form, "seconds": "12.5"}, cap=600)["seconds"] == 12.5


def test_every_bad_field_of_the_train_form_is_named_at_once_by_its_label():
    from genai.recipes import recipe
    from genai.ui.errors import AppError as FormError
    from genai.ui.train_form import checked_form

    with pytest.raises(FormError) as error:
        checked_form({**recipe("vae"), "batch_size": 1, "lr": None, "seed": -1}, cap=600)
    assert str(error.value) == ("Batch size must be a whole number from 2 to 4,096, not 1. Learning rate is empty: give "
                                "a number above 0 and at most 1. Seed must be a whole number from 0 to 4,294,967,295, not -1.")


def test_stop_cancels_a_run_that_still_waits_for_a_training_slot():
    from genai.ui.session import Session
    from genai.ui.train_tab import mark_waiting, stop_training, train_model

    session = Session()
    mark_waiting(session)  # Start pressed; every training slot of the server is taken
    assert "Cancelled" in stop_training(session)
    widgets = ["progress", "losses", "preview", "status", "model_name", "download", "start", "stop",
               "dataset_status", "session"]
    outputs = {name: name for name in widgets} | {"pickers": [], "vae_pickers": []}
    form = {"dataset": "mnist", "family": "vae", "arch": "mlp", "conditional": False, "latent_dim": 20, "seconds": 10,
            "batch_size": 64, "lr": 1e-3, "beta": 1.0, "seed": 0, "max_steps": 10, "d_lr_ratio": 1.0}
    updates = list(train_model(form, session, outputs=outputs))
    assert updates[-1]["status"] == "Cancelled before it started." and not session.models
    assert "Nothing is training" in stop_training(session)  # and the next Start is not cancelled
    assert not session.controls().cancel_waiting


def test_uploads_become_mnist_style_digits(tmp_path):
    from genai.ui.errors import AppError as UploadError
    from genai.ui.pictures import digit_from_upload

    def saved(picture, name):
        picture.save(tmp_path / name)
        return tmp_path / name

    paper = Image.new("RGB", (300, 200), "white")  # a dark stroke on light paper, far from the centre
    ImageDraw.Draw(paper).line([(40, 30), (40, 170)], fill=(20, 20, 20), width=12)
    digit = digit_from_upload(saved(paper, "paper.jpg"))
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    rows, cols = np.nonzero(digit > 128)
    assert digit.max() == 255 and digit[0].max() == 0 and digit[:, 0].max() == 0  # white ink, black background
    assert rows.max() - rows.min() + 1 == 20  # scaled into MNIST's 20-pixel box ...
    assert abs(rows.mean() - 13.5) < 1.5 and abs(cols.mean() - 13.5) < 1.5  # ... and centred

    transparent = Image.new("RGBA", (300, 200), (0, 0, 0, 0))  # a drawing app's export: ink on nothing
    ImageDraw.Draw(transparent).line([(40, 30), (40, 170)], fill=(20, 20, 20, 255), width=12)
    assert np.array_equal(digit_from_upload(saved(transparent, "drawing.png")), digit_from_upload(saved(paper, "p.png")))

    mnist_like = Image.new("L", (28, 28), 0)  # already white on black: not inverted
    ImageDraw.Draw(mnist_like).line([(14, 4), (14, 23)], fill=255, width=3)
    assert digit_from_upload(saved(mnist_like, "mnist.png"))[14, 14] == 255

    with pytest.raises(UploadError, match="looks empty"):
        digit_from_upload(saved(Image.new("RGB", (50, 50), "white"), "blank.png"))


# ---------------------------------------------------------------------------------------------
# The Hub tab (its Hub is tests/fake_hub.py): load a shared model, push one trained here
# ---------------------------------------------------------------------------------------------


def test_a_model_loaded_from_the_hub_samples_like_its_files_and_only_for_this_visitor(new_client, server):
    folder = Path(server.folder) / "checkpoints" / "tiny-vae"
    server.hub.plant("teacher/tiny-vae", {name: (folder / name).read_bytes() for name in ("config.json", "model.safetensors")})
    alice, bob = new_client(), new_client()
    status, *_ = alice.predict("teacher/tiny-vae", api_name="/load_from_hub")
    assert "Loaded **teacher/tiny-vae**" in status
    assert "teacher/tiny-vae" in picker_names(alice)[0] and "teacher/tiny-vae" not in picker_names(bob)[0]
    assert np.array_equal(sample(alice, "teacher/tiny-vae", seed=9), sample(alice, "tiny-vae", seed=9))


def test_a_hub_id_works_wherever_a_model_name_does(client, server):
    folder = Path(server.folder) / "checkpoints" / "tiny-gan"
    server.hub.plant("teacher/typed-in", {name: (folder / name).read_bytes() for name in ("config.json", "model.safetensors")})
    assert np.array_equal(sample(client, "teacher/typed-in", seed=4), sample(client, "tiny-gan", seed=4))
    assert "teacher/typed-in" in picker_names(client)[0]  # it joined this visitor's pickers


def test_a_hub_model_whose_weights_do_not_fit_is_named_without_server_paths(client, server):
    import json

    folder = Path(server.folder) / "checkpoints" / "tiny-vae"
    config = json.loads((folder / "config.json").read_text())
    config["config"]["latent_dim"] = 3  # the weights have a 2-D latent space
    server.hub.plant("teacher/mismatch", {"config.json": json.dumps(config).encode(),
                                          "model.safetensors": (folder / "model.safetensors").read_bytes()})
    with pytest.raises(AppError, match="teacher/mismatch cannot be loaded: The weights in model.safetensors do not match") as error:
        client.predict("teacher/mismatch", api_name="/load_from_hub")
    assert "hub-cache" not in str(error.value) and str(server.folder) not in str(error.value)


@pytest.mark.parametrize("model_id, message", [
    ("teacher/nothing", "There is no model teacher/nothing on the Hugging Face Hub"),
    ("not an id", "is not a Hub model id: give it as user/name"),
    ("", "is not a Hub model id"),
])
def test_bad_hub_ids_get_one_clear_message(client, model_id, message):
    with pytest.raises(AppError, match=message):
        client.predict(model_id, api_name="/load_from_hub")


def test_the_hub_tab_refuses_an_uncached_id_within_2_seconds_when_the_hub_cannot_be_reached(client, server):
    """Offline, the Hub tab took 24 s (the client's retries) to say an id was not in the cache."""
    client.predict("tiny-gan", api_name="/model_info")  # the client and the server are warm
    server.hub.go_offline()
    try:
        start = time.monotonic()
        with pytest.raises(AppError, match="teacher/never-fetched is not in the local Hub cache and the Hub cannot "
                                           "be reached"):
            client.predict("teacher/never-fetched", api_name="/load_from_hub")
        assert time.monotonic() - start < 2
    finally:
        server.hub.go_online()


def test_a_model_trained_here_is_pushed_with_the_visitors_token_only(client, server):
    name = train(client, family="vae", max_steps=5).result()[4]
    with pytest.raises(AppError, match="Paste a Hugging Face access token"):
        client.predict(name, "teacher/pushed", "", False, api_name="/push_to_hub")
    with pytest.raises(AppError, match="refused the token") as refused:
        client.predict(name, "teacher/pushed", "hf_not_the_token", False, api_name="/push_to_hub")
    assert "hf_not_the_token" not in str(refused.value)
    with pytest.raises(AppError, match="Choose one of the models you trained"):
        client.predict("tiny-vae", "teacher/pushed", "hf_teacher_token", False, api_name="/push_to_hub")
    status = client.predict(name, "teacher/pushed", "hf_teacher_token", False, api_name="/push_to_hub")
    assert f"Pushed **{name}** to **teacher/pushed**" in status
    files = server.hub.repo_files("teacher/pushed")
    assert {"config.json", "model.safetensors", "README.md", "samples.png"} <= set(files)
    assert "hf_teacher_token" not in server.log()


# ---------------------------------------------------------------------------------------------
# Every number from outside, sent as a raw HTTP client can (NaN and Infinity included), gets one
# readable message from the app, never a traceback, a silent rounding or Gradio's generic error
# ---------------------------------------------------------------------------------------------

SAMPLE_ARGS = ["tiny-vae", 1, 2, "all", 1.0, 20, 2.0]
INTERPOLATE_ARGS = ["tiny-vae", "seeds", 1, 2, 0, 1, None, None, 4, "lerp", "0", "same"]
TRAIN_ARGS = ["mnist", "vae", "mlp", False, 8, 5, 64, 0.001, 1.0, 0, 1, 1.0]
TRAIN_GAN_ARGS = ["mnist", "gan", "mlp", False, 8, 5, 64, 0.001, 1.0, 0, 1, 1.0]
COMPARE_ARGS = [["tiny-gan", "tiny-vae"], 7, 2, "all", 1.0]
KNOB_ARGS = [1e-3, 1.0, 1.0]
NUMERIC_INPUTS = [  # (endpoint, its arguments, index of a numeric input, what the message names)
    ("sample", SAMPLE_ARGS, 1, "seed"), ("sample", SAMPLE_ARGS, 2, "grid size"), ("sample", SAMPLE_ARGS, 4, "temperature"),
    ("sample", SAMPLE_ARGS, 5, "Sampling steps"), ("sample", SAMPLE_ARGS, 6, "Guidance scale"),
    ("interpolate", INTERPOLATE_ARGS, 2, "Seed A"), ("interpolate", INTERPOLATE_ARGS, 3, "Seed B"),
    ("interpolate", INTERPOLATE_ARGS, 8, "Steps"),
    ("explore", ["tiny-vae", 0, "0"], 1, "seed"),
    ("evaluate", ["tiny-vae", 500, 0], 2, "seed"), ("evaluate", ["tiny-vae", 500, 0], 1, "is not in the list of choices: [500, 1000, 2000]"),
    ("train", TRAIN_ARGS, 4, "latent size"), ("train", TRAIN_ARGS, 5, "Train for (seconds)"),
    ("train", TRAIN_ARGS, 6, "Batch size"), ("train", TRAIN_ARGS, 7, "learning rate"), ("train", TRAIN_ARGS, 8, "β"),
    ("train", TRAIN_ARGS, 9, "seed"), ("train", TRAIN_ARGS, 10, "Max steps"),
    ("train", TRAIN_GAN_ARGS, 11, "D learns at this many times the learning rate"), ("step", [1], 0, "number of steps"),
    ("compare", COMPARE_ARGS, 1, "seed"), ("compare", COMPARE_ARGS, 2, "grid size"),
    ("compare", COMPARE_ARGS, 4, "temperature"),
    ("drawing", SAMPLE_ARGS, 1, "seed"), ("drawing", SAMPLE_ARGS, 2, "grid size"), ("drawing", SAMPLE_ARGS, 4, "temperature"),
    ("drawing", SAMPLE_ARGS, 5, "Sampling steps"), ("drawing", SAMPLE_ARGS, 6, "Guidance scale"),
    ("set_knobs", KNOB_ARGS, 0, "learning rate"), ("set_knobs", KNOB_ARGS, 1, "β"),
    ("set_knobs", KNOB_ARGS, 2, "D learns at this many times the learning rate"),
    ("timelapse", ["", 0], 1, "frame"), ("frame", [0], 0, "frame"),
]
KNOB_RUNS = {0: "vae", 1: "vae", 2: "gan"}  # /set_knobs turns a run going on: β a VAE's, D's ratio a GAN's
BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e308", '"ten"', '"3; rm -rf /"']


def raw_call(url, api_name, arguments_json):
    """POST /gradio_api/call/<api_name> with a hand-written JSON body, then read the event stream.

    Returns (event name, data) of the stream's last event: "complete" (data: the JSON outputs) or
    "error" (data: the error's message).
    """
    import json
    import urllib.request

    request = urllib.request.Request(f"{url}gradio_api/call/{api_name}", data=f'{{"data": {arguments_json}}}'.encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        event_id = json.loads(response.read())["event_id"]
    event, data = None, None
    with urllib.request.urlopen(f"{url}gradio_api/call/{api_name}/{event_id}", timeout=120) as stream:
        for line in stream.read().decode().splitlines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = line.split(":", 1)[1].strip()
    if event == "error" and data and data.startswith("{"):
        data = json.loads(data).get("error") or data
    return event, data


class RawSession:
    """Raw HTTP calls made in one session, as a browser tab makes them (a run started by one call is
    there for the next). Gradio sends every event of a session down one stream: it is opened by
    the first call and read, one result at a time, by each call after it."""

    def __init__(self, url):
        import uuid

        self.url, self.hash, self.stream = url, uuid.uuid4().hex[:12], None
        self.visitor = app_server.visitor_headers()  # a visitor of its own: its run is not another test's

    def post(self, api_name, arguments_json):
        import urllib.request

        body = f'{{"data": {arguments_json}, "session_hash": "{self.hash}"}}'.encode()
        request = urllib.request.Request(f"{self.url}gradio_api/call/{api_name}", data=body,
                                         headers={"Content-Type": "application/json", **self.visitor})
        with urllib.request.urlopen(request, timeout=60) as response:
            event_id = json.loads(response.read())["event_id"]
        if self.stream is None:
            self.stream = urllib.request.urlopen(urllib.request.Request(
                f"{self.url}gradio_api/call/{api_name}/{event_id}", headers=self.visitor), timeout=120)

    def result(self):
        """(event, data) of the next event that ends a call: "complete" or "error" (data: its message)."""
        event = None
        while line := self.stream.readline().decode():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = line.split(":", 1)[1].strip()
                if event == "error" and data.startswith("{"):
                    data = json.loads(data).get("error") or data
                return event, data
        raise AssertionError("the session's event stream ended")

    def call(self, api_name, arguments_json):
        self.post(api_name, arguments_json)
        return self.result()

    def close(self):
        if self.stream is not None:
            self.stream.close()


def running_raw_session(url, family):
    """A RawSession whose run (of this family, up to 30 s) has started: the live knobs turn it."""
    session = RawSession(url)
    args = TRAIN_GAN_ARGS if family == "gan" else TRAIN_ARGS
    session.post("train", json.dumps(args[:5] + [30, 64, args[7], 1.0, 0, 100_000, 1.0]))
    deadline = time.monotonic() + 60
    while True:  # until the run has started (it first loads the data)
        event, data = session.call("set_knobs", json.dumps(KNOB_ARGS))
        if event == "complete":
            return session
        assert "Nothing is training" in data and time.monotonic() < deadline, data
        time.sleep(0.2)


def arguments_with(arguments, index, raw_value):
    import json

    parts = [json.dumps(value) for value in arguments]
    parts[index] = raw_value
    return "[" + ", ".join(parts) + "]"


@pytest.mark.parametrize("endpoint, arguments, index, names", NUMERIC_INPUTS,
                         ids=[f"{e}-{n}" for e, _, _, n in NUMERIC_INPUTS])
def test_every_numeric_input_refuses_nan_infinity_huge_and_text_with_one_message(server, endpoint, arguments, index, names):
    session = None
    if endpoint == "set_knobs":  # the knobs turn a run going on: the calls are made in that run's session
        session = running_raw_session(server.url, KNOB_RUNS[index])

    def call(arguments_json):
        return session.call(endpoint, arguments_json) if session else raw_call(server.url, endpoint, arguments_json)

    try:
        for bad in BAD_NUMBERS:
            event, data = call(arguments_with(arguments, index, bad))
            assert event == "error", (endpoint, bad, data)
            assert names.lower() in data.lower() and ("must be" in data or "choices" in data), (endpoint, bad, data)
    finally:
        if session is not None:
            session.call("stop", "[]")
            session.close()
    event, _ = raw_call(server.url, "sample", arguments_with(SAMPLE_ARGS, 1, "3"))
    assert event == "complete"  # and the app keeps answering


@pytest.mark.parametrize("endpoint, arguments, index, names", [
    ("sample", SAMPLE_ARGS, 1, "seed"), ("train", TRAIN_ARGS, 10, "Max steps"), ("train", TRAIN_ARGS, 6, "Batch size"),
    ("interpolate", INTERPOLATE_ARGS, 8, "Steps"),
])
def test_a_fraction_where_a_whole_number_is_needed_is_refused_not_rounded(server, endpoint, arguments, index, names):
    event, data = raw_call(server.url, endpoint, arguments_with(arguments, index, "2.5"))
    assert event == "error" and "must be a whole number" in data and "2.5" in data, data


@pytest.mark.parametrize("call, where", [
    (lambda c: sample(c, seed=-7), "/sample"),  # refused by the app's own check
    (lambda c: c.predict("tiny-vae", 7, 0, api_name="/evaluate"), "/evaluate"),  # by Gradio's: not one of the choices
    (lambda c: sample(c, digit="eleven"), "/sample or /drawing or /steps_side_by_side"),  # the digit box feeds all
    (lambda c: c.predict("tiny-vae", "teacher/x", "hf_teacher_token", False, api_name="/push_to_hub"), "/push_to_hub"),
], ids=["app-check", "gradio-check", "shared-input", "with-a-token"])
def test_a_refused_input_leaves_one_log_line_not_a_traceback(server, client, call, where):
    before = server.log()
    with pytest.raises(AppError) as refused:
        call(client)
    added = server.log()[len(before):]
    assert added.splitlines() == [f"Refused {where}: {refused.value}"]  # one line: the endpoint and the message
    assert "hf_teacher_token" not in added


def test_stop_through_the_api_cancels_a_run_that_waits_for_a_training_slot(new_client):
    """Both training slots busy: a third visitor's run waits, visibly, and /stop cancels it."""
    busy = [new_client() for _ in range(2)]
    runs = [train(c, family="gan", max_steps=100_000, seconds=30) for c in busy]
    for run in runs:
        next(iter(run))  # both have started
    waiting_client = new_client()
    waiting = train(waiting_client, family="vae", max_steps=10)
    statuses = []
    for update in waiting:
        statuses.append(update[3])
        if "training slots of this server are busy" in str(update[3]):
            break
    assert "Cancelled" not in statuses[-1] and "busy" in statuses[-1]
    assert "Stopping" in waiting_client.predict(api_name="/stop")
    final = waiting.result()
    assert final[3] == "Cancelled before it started." and not isinstance(final[4], str)  # no model name
    for c in busy:
        c.predict(api_name="/stop")
    assert all("Stopped" in run.result()[3] for run in runs)
    assert picker_names(waiting_client)[0] == SHIPPED  # no model came of the cancelled run


def test_a_run_over_the_memory_budget_is_refused_at_once_with_the_largest_batch_that_fits(client):
    """The LSTM at batch 1,024 took 7.4 GB: refused before it waits for a slot or loads anything."""
    started = time.monotonic()
    job = client.submit("mnist", "autoregressive", "lstm", True, 784, 20, 1024, 1e-3, 1.0, 0, 3, 1.0, api_name="/train")
    with pytest.raises(AppError, match=r"A batch of 1,024 images needs about [0-9,]+ MB to train this row-by-row "
                                       r"LSTM.*The largest batch that fits is [0-9,]+: lower the batch size"):
        job.result(timeout=60)
    assert time.monotonic() - started < 5  # (the check itself takes well under a millisecond; the rest is HTTP)
    assert picker_names(client)[0] == SHIPPED  # nothing was trained or kept


@pytest.mark.parametrize("family,arch,curve", [("diffusion", "unet", "loss"), ("autoregressive", "pixelcnn", "NLL"),
                                               ("autoregressive", "lstm", "NLL")])
def test_the_newer_families_train_in_the_app_and_sample_like_the_others(client, family, arch, curve):
    final = client.submit("mnist", family, arch, True, 784, 20, 32, 1e-3, 1.0, 0, 3, 1.0, api_name="/train").result()
    name = final[4]
    assert name == f"my-{family}-{arch}-cond-1" and "Finished 3 steps" in final[3]
    assert {row[2] for row in final[1]["data"]} == {curve}
    grid = sample(client, name, seed=5, grid_size=1)
    assert grid.shape == ((TILE + PAD) * SCALE, (10 * TILE + PAD) * SCALE)  # one row of the digits 0-9
    assert np.array_equal(grid, sample(client, name, seed=5, grid_size=1))
    _, _, _, note = client.predict(name, 0, "0", api_name="/explore")
    assert "no encoder" in note

    # How it draws: an animation of the grid and the first digit's frames, ending at the grid's digits.
    gif_path, frames_path = client.predict(name, 5, 1, "all", 1.0, 20, 2.0, api_name="/drawing")
    with Image.open(gif_path) as gif:
        assert gif.format == "GIF" and gif.n_frames > 10
        gif.seek(gif.n_frames - 1)
        last = np.asarray(gif.convert("L"))[::3, ::3]  # the animation is drawn at 3x
    assert np.array_equal(last, grid[::SCALE, ::SCALE])
    assert pixels(frames_path).shape[1] > 10 * TILE * SCALE  # more than ten frames side by side


def test_a_diffusion_models_steps_and_guidance_change_its_digits_and_absurd_values_are_refused(client):
    name = "tiny-diffusion"  # 4 sampling steps
    default = sample(client, name, seed=3, grid_size=1, steps=4)
    assert not np.array_equal(default, sample(client, name, seed=3, grid_size=1, steps=2))
    assert not np.array_equal(default, sample(client, name, seed=3, grid_size=1, steps=4, guidance=0.5))
    info = client.predict(name, api_name="/model_info")
    assert info[2]["interactive"] is True and info[2]["value"] == 4 and info[3]["value"] == 2.0
    # The same noise in 1, 2, 4 and the chosen steps side by side: the last is the Sample tab's grid.
    gallery = client.predict(name, 3, 1, "all", 1.0, 6, 2.0, api_name="/steps_side_by_side")
    assert [item["caption"].split(":")[0] for item in gallery] == ["1 step", "2 steps", "4 steps", "6 steps"]
    assert np.array_equal(pixels(gallery[-1]["image"]), sample(client, name, seed=3, grid_size=1, steps=6))
    with pytest.raises(Exception, match="has no number of steps to change"):
        client.predict("tiny-gan", 3, 1, "all", 1.0, 6, 2.0, api_name="/steps_side_by_side")
    # (gradio_client checks a slider's range before sending; the server's own message is tested with raw calls)
    for steps, guidance, message in ((100_000, 2.0, "Sampling steps must be|greater than maximum value 200"),
                                     (20, 1e9, "Guidance scale must be|greater than maximum value 20"),
                                     (0, 2.0, "Sampling steps must be|less than minimum value 1")):
        with pytest.raises(Exception, match=message):
            sample(client, name, seed=3, grid_size=1, steps=steps, guidance=guidance)
    # A GAN or a VAE has no such settings: the sliders are off, and the same values leave its digits alone.
    assert client.predict("tiny-vae", api_name="/model_info")[2]["interactive"] is False
    assert np.array_equal(sample(client, "tiny-vae", steps=3), sample(client, "tiny-vae", steps=150))
    with pytest.raises(Exception, match="draws its digits in one pass"):
        client.predict("tiny-vae", 5, 1, "all", 1.0, 20, 2.0, api_name="/drawing")


def test_compare_draws_the_same_seed_through_every_chosen_model_as_the_sample_tab_does(client):
    """One grid per model, each exactly the Sample tab's grid for that seed, with a row of figures and a time."""
    refreshed = client.predict("mnist", [], None, None, None, api_name="/refresh")[1]
    assert set(refreshed["value"]) == set(SHIPPED)  # one model of each family the server has
    gallery, table = client.predict(["tiny-gan", "tiny-vae"], 7, 2, "3", 1.0, api_name="/compare")
    assert [item["caption"].split(":")[0] for item in gallery] == ["tiny-gan", "tiny-vae"]
    # The conditional GAN draws four 3s, the VAE (not conditional) a 2 x 2 grid of its own choice.
    assert np.array_equal(pixels(gallery[0]["image"]), sample(client, "tiny-gan", seed=7, grid_size=2, digit="3"))
    assert np.array_equal(pixels(gallery[1]["image"]), sample(client, "tiny-vae", seed=7, grid_size=2))
    assert "not conditional" in gallery[1]["caption"] and " s" in gallery[0]["caption"]
    rows = [line for line in table.splitlines() if line.startswith("| tiny-")]
    assert len(rows) == 2 and all("not measured yet" in row for row in rows)
    assert "MNIST test split" in table


@pytest.mark.parametrize("models, message", [
    ([], "Choose at least one model"),
    (["tiny-gan"] * 3 + ["tiny-vae"] * 4, "at most 6 models"),
    (["no-such-model"], "There is no model called 'no-such-model'"),
])
def test_compare_refuses_bad_model_lists_with_a_message(client, models, message):
    with pytest.raises(Exception, match=message):
        client.predict(models, 7, 2, "all", 1.0, api_name="/compare")


def test_a_run_keeps_a_timelapse_to_replay_frame_by_frame_and_as_a_gif(client):
    with pytest.raises(Exception, match="Nothing to replay yet"):
        client.predict("", 0, api_name="/timelapse")
    final = train(client, "vae", "mlp", max_steps=100_000, seconds=7).result()  # a preview every 2 s
    name = final[4]
    replay_slider, replay_picture, replay_caption = final[-8:-5]  # (after them: D's histogram, the knobs, the link)
    assert replay_slider["maximum"] >= 2  # the replay slider now spans the frames, showing the newest
    assert replay_caption.startswith("Frame ") and pixels(replay_picture).shape[0] > 28
    first, caption = client.predict(name, 0, api_name="/timelapse")
    assert caption.startswith("Frame 1 of ") and "step " in caption and "reconstruction" in caption
    count = int(caption.split(" of ")[1].split(":")[0])
    last, last_caption = client.predict(name, count - 1, api_name="/timelapse")  # the newest frame
    assert last_caption.startswith(f"Frame {count} of {count}")
    assert not np.array_equal(pixels(first), pixels(last))  # the digits changed as it learned
    gif = client.predict(name, api_name="/timelapse_gif")["value"]
    with Image.open(gif) as animation:
        assert animation.n_frames == count
    with pytest.raises(Exception, match="has no timelapse"):
        client.predict("tiny-vae", 0, api_name="/timelapse")


def frame_count(caption):
    """"Frame 2 of 5: step 400 ..." -> 5."""
    return int(caption.split(" of ")[1].split(":")[0])


def caption_step(caption):
    """"Frame 2 of 5: step 1,400 (2.0 s): ..." -> 1400."""
    return int(caption.split(": step ")[1].split()[0].replace(",", ""))


def test_the_run_going_on_is_replayed_while_it_trains(client):
    """/timelapse with model_name "": the frames of this client's run so far, the newest included, as it trains."""
    job = train(client, "vae", "mlp", max_steps=100_000, seconds=30)
    deadline = time.monotonic() + 60
    while True:  # until its first preview is kept (it first waits for a slot and loads the data)
        try:
            first, caption = client.predict("", 0, api_name="/timelapse")
            break
        except Exception as error:
            assert "Nothing to replay yet" in str(error) and time.monotonic() < deadline and not job.done(), error
            time.sleep(0.2)
    assert caption.startswith("Frame 1 of ") and "step " in caption
    while frame_count(caption) < 3:  # a preview every 2 s
        assert time.monotonic() < deadline and not job.done()
        time.sleep(0.5)
        first, caption = client.predict("", 0, api_name="/timelapse")
    count = frame_count(caption)
    newest, newest_caption = client.predict("", count - 1, api_name="/timelapse")  # the newest frame so far
    assert not job.done()  # all of it read while the run goes on
    assert newest_caption.startswith(f"Frame {count} of ") and caption_step(newest_caption) > caption_step(caption)
    assert not np.array_equal(pixels(first), pixels(newest))
    assert "Stopping" in client.predict(api_name="/stop")
    name = job.result()[4]
    _, kept = client.predict(name, 0, api_name="/timelapse")  # the model it made keeps the same run
    assert frame_count(kept) >= count and caption_step(kept) == caption_step(caption)  # its first frame stays


def drawn(tmp_path, strokes, size=280, width=18, name="drawing.png"):
    """A Sketchpad-like drawing: black strokes on a transparent pad, as the browser sends it (a PNG)."""
    pad = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    for stroke in strokes:
        ImageDraw.Draw(pad).line(stroke, fill=(0, 0, 0, 255), width=width)
    pad.save(tmp_path / name)
    return {"background": None, "layers": [], "composite": handle_file(str(tmp_path / name))}


def test_a_drawn_digit_is_read_by_the_classifier_and_placed_among_training_digits_by_a_vae(client, tmp_path):
    one = drawn(tmp_path, [[(140, 40), (140, 240)]])  # a vertical bar: a 1
    seen, answer, pictures = client.predict("tiny-vae", one, api_name="/encode_drawing")
    assert "The digit classifier reads a **" in answer and "% sure" in answer
    digit = pixels(seen)[::5, ::5]  # 28x28, white on black, centred like MNIST
    rows, cols = np.nonzero(digit > 128)
    assert digit.shape == (28, 28) and rows.max() - rows.min() + 1 == 20 and abs(cols.mean() - 13.5) < 1.5
    assert "reconstruction" in answer and "training digits whose codes are nearest" in answer
    strip = pixels(pictures)
    assert strip.shape[1] > 9 * 28 * 3  # the drawing, its reconstruction and 8 neighbours
    # A model without an encoder still gets the classifier's answer, and is told what it cannot do.
    _, gan_answer, gan_pictures = client.predict("tiny-gan", one, api_name="/encode_drawing")
    assert "reads a **" in gan_answer and "has no encoder" in gan_answer and gan_pictures is None


def peak_memory_mb(pid, reset=False):
    """A process's peak resident memory (VmHWM) in MB; reset=True starts a new peak from now (Linux)."""
    if reset:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def png_bomb(width, height):
    """A valid black greyscale PNG of width x height pixels: a few hundred KB that decode to width x height bytes."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(9), b"\0" * (width + 1)  # each row: filter type 0, then its pixels
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_a_drawing_declaring_too_many_pixels_is_refused_before_decoding(client, server, tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(13000, 13000))  # ~170 KB; 169 MB of pixels decoded, 676 MB as RGBA
    drawing = {"background": None, "layers": [], "composite": handle_file(str(bomb))}
    client.predict("tiny-vae", drawn(tmp_path, [[(140, 40), (140, 240)]]), api_name="/encode_drawing")  # warm
    before = peak_memory_mb(server.process.pid, reset=True)
    start = time.monotonic()
    with pytest.raises(AppError, match="The drawing is 13000x13000 pixels; pictures up to 4096x4096 are accepted"):
        client.predict("tiny-vae", drawing, api_name="/encode_drawing")
    assert time.monotonic() - start < 5
    assert peak_memory_mb(server.process.pid) - before < 100  # never decoded: no 676 MB picture
    assert sample(client).size > 0


@pytest.mark.parametrize("strokes, width, message", [
    ([], 18, "looks empty"),
    ([[(140, 140), (143, 143)]], 4, "the digit is tiny"),
    ([[(x, 20), (x, 260)] for x in range(10, 280, 20)], 18, "mostly ink|separate marks"),
    ([[(x, y), (x + 6, y + 6)] for x in range(20, 260, 45) for y in range(20, 260, 45)], 12, "separate marks"),
])
def test_empty_tiny_and_scribbled_drawings_get_a_clear_message(client, tmp_path, strokes, width, message):
    with pytest.raises(Exception, match=message):
        client.predict("tiny-vae", drawn(tmp_path, strokes, width=width), api_name="/encode_drawing")


def test_a_drawing_made_as_an_image_array_is_read_whatever_its_colours(client, tmp_path, mnist_dir):
    """A drawing made in code, as an image array. gradio_client sends files, not arrays (JSON cannot carry an
    ndarray), so the array goes as the PNG it encodes to, in the Sketchpad's composite: the real MNIST test
    digit 0 (a 7), as MNIST stores it, as black ink on white paper, and as ink on a transparent pad."""
    from genai.data import load_dataset

    test = load_dataset("mnist", data_dir=mnist_dir, split="test", limit=1)
    seven = test.images[0].numpy()  # uint8 (28, 28), white on black
    assert int(test.labels[0]) == 7
    with pytest.raises(TypeError, match="not JSON serializable"):
        client.predict("tiny-vae", {"background": None, "layers": [], "composite": seven}, api_name="/encode_drawing")
    big = np.kron(seven, np.ones((10, 10), np.uint8))  # 280 x 280, the pad's size
    arrays = {
        "mnist.png": seven,
        "paper.png": np.repeat((255 - big)[:, :, None], 3, axis=2),  # RGB: dark ink on white
        "pad.png": np.dstack([np.zeros((280, 280, 3), np.uint8), big]),  # RGBA: black ink, alpha where drawn
    }
    for name, array in arrays.items():
        Image.fromarray(array).save(tmp_path / name)
        drawing = {"background": None, "layers": [], "composite": handle_file(str(tmp_path / name))}
        seen, answer, pictures = client.predict("tiny-vae", drawing, api_name="/encode_drawing")
        assert "The digit classifier reads a **7**" in answer, (name, answer)
        digit = pixels(seen)[::5, ::5]  # as the models see it: 28 x 28, white on black, centred like MNIST
        rows, cols = np.nonzero(digit > 128)
        assert digit.shape == (28, 28) and rows.max() - rows.min() + 1 == 20 and abs(cols.mean() - 13.5) < 1.5, name
        assert pixels(pictures).shape[1] > 9 * 28 * 3  # tiny-vae's reconstruction and the nearest training digits


def test_knobs_turned_while_a_vae_trains_are_applied_marked_and_recorded(client):
    with pytest.raises(Exception, match="Nothing is training in this tab"):
        client.predict(1e-3, 2.0, 1.0, api_name="/set_knobs")
    with pytest.raises(Exception, match="Learning rate must be a number above 0"):  # a bad number says so, run or not
        client.predict(0, 2.0, 1.0, api_name="/set_knobs")
    job = train(client, "vae", "mlp", max_steps=100_000, seconds=8)
    while not job.status().code.name == "ITERATING" and not job.done():
        time.sleep(0.1)
    time.sleep(2)  # it is training now
    with pytest.raises(Exception, match="Learning rate must be a number above 0"):
        client.predict(0, 2.0, 1.0, api_name="/set_knobs")
    assert "Turning lr to 0.0005, beta to 0.25" in client.predict(5e-4, 0.25, 3.0, api_name="/set_knobs")
    final = job.result()
    name = final[4]
    curves = {row[2] for row in final[1]["data"]}
    marker = next(curve for curve in curves if curve.startswith("turned at step "))
    assert marker.endswith("lr 0.0005, beta 0.25")  # a vertical line on the loss plot, named by what changed
    step = int(marker.split("step ")[1].split(":")[0].replace(",", ""))
    assert step > 0
    archive = client.predict(name, api_name="/download")["value"]
    with zipfile.ZipFile(archive) as bundle:
        config = json.loads(bundle.read(f"{name}/config.json"))
    assert config["config"]["beta"] == 0.25  # the model's setting at the end of the run ...
    assert config["training"]["live_changes"] == [{"step": step, "lr": 0.0005, "beta": 0.25}]  # ... and its story


def loss_rows(losses):
    """The rows of a /train losses output (None while the plot is cleared)."""
    return (losses or {}).get("data") or []


def logged_kl(job):
    """(step, KL) of every row logged so far in the loss plot of a /train job that is streaming."""
    for update in reversed(job.outputs()):
        if loss_rows(update[1]):
            return [(row[0], row[1]) for row in loss_rows(update[1]) if row[2] == "KL"]
    return []


def test_beta_raised_while_a_vae_trains_makes_the_kl_it_logs_drop(client):
    """The effect a class should see: from beta 1 to 20 the KL term is pushed down (towards posterior collapse).

    Counted in steps, not seconds, so a busy machine only makes it slower: the turn happens once the
    KL has grown for 160 steps (at beta 1 it rises from 0 as the encoder learns to use its code).
    """
    job = train(client, "vae", "mlp", max_steps=100_000, seconds=30)
    deadline = time.monotonic() + 90
    while not logged_kl(job) or logged_kl(job)[-1][0] < 160:
        assert time.monotonic() < deadline and not job.done(), logged_kl(job)
        time.sleep(0.2)
    assert "beta to 20" in client.predict(1e-3, 20.0, 1.0, api_name="/set_knobs")
    while True:  # until 120 steps have been logged after the turn, which the loss plot marks
        final = job.outputs()[-1]
        markers = [row[0] for row in loss_rows(final[1]) if row[2].startswith("turned at step")]
        if markers and logged_kl(job)[-1][0] >= markers[0] + 120:
            break
        assert time.monotonic() < deadline and not job.done(), logged_kl(job)
        time.sleep(0.2)
    client.predict(api_name="/stop")
    turned_at = markers[0]
    kl = logged_kl(job)
    before = [value for step, value in kl if step <= turned_at][-3:]  # the last 60 steps at beta 1
    after = [value for step, value in kl if step > turned_at + 60]  # at beta 20, once it has had 60 steps
    assert len(before) == 3 and after
    assert np.mean(after) < 0.5 * np.mean(before), kl  # (measured: about 5 nats before, 0.2 after)
    job.result()


def test_step_mode_pauses_a_gan_run_and_shows_one_step_through_the_api(client):
    for endpoint, inputs in (("/pause", ()), ("/step", (1,)), ("/resume", ())):
        with pytest.raises(Exception, match="Nothing is training in this tab"):
            client.predict(*inputs, api_name=endpoint)
    job = train(client, "gan", "mlp", max_steps=100_000, seconds=6)
    deadline = time.monotonic() + 60
    while True:  # until the run has started (it first loads the data)
        try:
            paused = client.predict(api_name="/pause")
            break
        except Exception as error:
            assert "Nothing is training" in str(error) and time.monotonic() < deadline and not job.done()
            time.sleep(0.2)
    assert "Paused before the next step" in paused
    for bad in (0, 101, 2.5, "ten"):
        with pytest.raises(Exception, match="number of steps must be a whole number from 1 to 100"):
            client.predict(bad, api_name="/step")
    picture, table = client.predict(1, api_name="/step")
    first = int(table.split("**Step ")[1].split("**")[0].replace(",", ""))
    assert "| L_D |" in table and "| L_G |" in table and "D(x) over the 64 images" in table
    shown = pixels(picture)
    assert shown.shape[0] > 2 * 84 and shown.std() > 0  # two rows of digits: real and generated, with their scores
    _, table = client.predict(10, api_name="/step")
    assert f"**Step {first + 10:,}**" in table  # exactly ten more steps
    time.sleep(1.5)  # paused: the run does not go on, and the pause is not training time
    _, table = client.predict(1, api_name="/step")
    assert f"**Step {first + 11:,}**" in table
    assert "d_lr_ratio to 3" in client.predict(2e-4, 1.0, 3.0, api_name="/set_knobs")  # D learns 3x faster from now
    _, table = client.predict(1, api_name="/step")
    assert "Resumed" in client.predict(api_name="/resume")
    final = job.result()
    assert "time limit of 6 s" in final[3] and final[4]  # it went on to its time limit and kept its model
    archive = client.predict(final[4], api_name="/download")["value"]
    with zipfile.ZipFile(archive) as bundle:
        config = json.loads(bundle.read(f"{final[4]}/config.json"))
    assert config["config"]["d_lr_ratio"] == 3.0
    assert config["training"]["live_changes"] == [{"step": first + 11, "d_lr_ratio": 3.0}]  # (lr was not changed)


def test_step_spam_from_one_paused_visitor_leaves_every_other_handler_quick(new_client):
    """One visitor pauses its run and sends /step (100 steps) 42 times: one is taken, the rest are refused at
    once, and none holds a worker thread, so another visitor's /sample and /model_info answer as usual."""
    spammer, other = new_client(), new_client()
    job = train(spammer, "gan", "mlp", max_steps=1_000_000, seconds=30)
    deadline = time.monotonic() + 60
    while True:  # until the run has started (it first loads the data)
        try:
            spammer.predict(api_name="/pause")
            break
        except Exception as error:
            assert "Nothing is training" in str(error) and time.monotonic() < deadline and not job.done()
            time.sleep(0.2)
    sample(other, seed=500)  # the model is loaded
    steps = [spammer.submit(100, api_name="/step") for _ in range(42)]
    time.sleep(2.0)  # every /step has reached the server
    started = time.monotonic()
    sample(other, seed=501)  # not in the cache: drawn afresh
    other.predict("tiny-gan", api_name="/model_info")
    took = time.monotonic() - started
    outcomes = []
    for step in steps:
        try:
            outcomes.append(step.result(timeout=90))
        except Exception as error:  # noqa: BLE001 - a refusal, as the assertions say
            outcomes.append(str(error))
    refused = [o for o in outcomes if isinstance(o, str) and "still being taken" in o]
    assert len(refused) >= 40 and len(outcomes) - len(refused) <= 2, outcomes[:3]  # one at a time per visitor
    assert took < 10, took  # (a /sample of a small model: well under a second on a quiet machine)
    spammer.predict(api_name="/stop")
    try:
        spammer.predict(api_name="/resume")
    except Exception as error:  # noqa: BLE001 - on a slow machine the 30 s run may have used its time already
        assert "Nothing is training" in str(error)
    assert job.result(timeout=60)[3]  # the run ends, with a status line


def test_a_conditional_walk_morphs_one_digit_into_another_through_the_api(client):
    """tiny-gan is conditional: the same seed twice, digit 3 at A and 8 at B: only the digit changes."""
    def walk(digit_b):
        return pixels(client.predict("tiny-gan", "seeds", 5, 5, 0, 0, None, None, 5, "lerp", "3", digit_b,
                                     api_name="/interpolate")[0])

    still, morph = walk("same"), walk("8")

    def frame(strip, i):  # frame i of a strip: 28x28 tiles after a padding, 2 pixels apart, at 2x
        x = SCALE * (PAD + i * TILE)
        return strip[SCALE * PAD:SCALE * (PAD + 28), x:x + SCALE * 28]

    assert np.array_equal(frame(still, 0), frame(morph, 0))  # both start at the seed's 3
    assert np.array_equal(frame(still, 4), frame(still, 0))  # the same seed and digit: nothing moves ...
    assert not np.array_equal(frame(morph, 4), frame(morph, 0))  # ... but here the digit morphs into an 8
    assert np.array_equal(frame(morph, 4), frame(sample(client, "tiny-gan", seed=5, grid_size=1, digit="8"), 0))


DIGITS = 6  # /train's output (after the dataset status) with the digits of the live grid, as the classifier reads them


def grid_tiles(picture, columns):
    """The 28x28 digits of a preview grid (genai.sampling.grid: PAD pixels around and between tiles)."""
    rows = (picture.shape[0] - PAD) // TILE
    return np.stack([picture[PAD + r * TILE:PAD + r * TILE + 28, PAD + c * TILE:PAD + c * TILE + 28]
                     for r in range(rows) for c in range(columns)])


def assert_digits_of_the_grid(digits, preview_png):
    """The digit-share chart is shown, and is what the shipped classifier reads in the grid it came with
    (an install without checkpoints/classifier shows no chart)."""
    from genai.classifier import SHIPPED_DIR
    from genai.ui.live_digits import ORDER, digit_shares

    if not (SHIPPED_DIR / "model.safetensors").is_file():
        assert digits is None or digits.get("visible") is not True
        return
    assert digits["visible"] is True
    rows = digits["value"]["data"]
    assert [row[0] for row in rows] == ORDER  # 0 .. 9, then "?" (less than 90% sure)
    assert sum(row[1] for row in rows) == pytest.approx(1.0)
    tiles = grid_tiles(pixels(preview_png), columns=8)
    assert len(tiles) == 64
    assert [row[1] for row in rows] == pytest.approx(list(digit_shares(tiles)["share"]), abs=1e-9)


def test_a_gan_run_shows_what_its_discriminator_says_beside_the_digits_its_live_grid_shows(client):
    job = train(client, "gan", "mlp", max_steps=100_000, seconds=5)
    streamed = [update for update in job if isinstance(update[DIGITS], dict) and update[DIGITS].get("visible")]
    gan = job.result()
    assert_digits_of_the_grid(gan[DIGITS], gan[2])
    assert len(streamed) >= 2 or not gan[DIGITS].get("visible")  # live: with each preview as it trained, and at the end
    histogram = gan[-5]  # (after it: the three live knobs and the link to the run)
    assert histogram["visible"] is True
    rows = histogram["value"]["data"]
    names = {row[2] for row in rows}
    assert names == {"D(x): real digits", "D(G(z)): generated"}
    for name in names:  # each is a histogram of the batch: shares that add up to 1
        assert sum(row[1] for row in rows if row[2] == name) == pytest.approx(1.0)
    vae = train(client, "vae", "mlp", max_steps=30).result()
    assert vae[-5] is None or vae[-5].get("visible") is not True  # a VAE has no discriminator to show ...
    assert_digits_of_the_grid(vae[DIGITS], vae[2])  # ... but its digits are read the same way


def test_a_walk_asked_for_again_reuses_its_gif_instead_of_encoding_it_again(monkeypatch, tmp_path):
    """Encoding the GIF was most of what a walk answered from memory cost (measured with py-spy)."""
    from genai.ui import interpolate_tab

    encoded = []
    real_gif_bytes = interpolate_tab.gif_bytes
    monkeypatch.setattr(interpolate_tab, "gif_bytes", lambda frames: encoded.append(1) or real_gif_bytes(frames))
    monkeypatch.setattr(interpolate_tab, "pictures_folder", lambda: tmp_path)
    frames = np.random.default_rng(0).integers(0, 256, (16, 28, 28), dtype=np.uint8)
    first, again = interpolate_tab.walk_gif(frames), interpolate_tab.walk_gif(frames.copy())
    other = interpolate_tab.walk_gif(frames[::-1].copy())
    assert first == again != other and len(encoded) == 2  # one encoding per distinct walk
    from PIL import Image
    assert Image.open(first).n_frames >= 16  # a real animation (there and back)


def test_the_load_benchmarks_calls_fit_the_apps_endpoints(server):
    """benchmarks/load_test.py sends raw HTTP calls: their inputs must match the endpoints as they are now."""
    import random

    from benchmarks import load_test

    plan = load_test.plan_calls([("tiny-gan", 3)] * 20, ["tiny-gan"], random.Random(0), interpolate_share=0.5, grid=2,
                                walk_steps=4)
    client = load_test.RawHttpClient(server.url)
    for endpoint in ("/sample", "/interpolate"):
        arguments = next(args for name, args in plan if name == endpoint)
        outputs = client.submit(*arguments, api_name=endpoint).result(60)
        assert outputs and outputs[0]["url"], endpoint
