"""A grid drawn pixel by pixel is shown while it fills in (issue 43 item 2): the rows drawn so far, the
rest grey, then the whole grid, which is exactly what the same seed draws in one piece."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio")

from genai.models import create_model  # noqa: E402
from genai.sampling import decode, decode_in_parts, grid, label_tensor, sample, seeded_latents  # noqa: E402
from genai.ui import model_store, sample_tab  # noqa: E402
from genai.ui.session import ModelEntry  # noqa: E402

GREY = 128  # an undrawn pixel: 0.5


@pytest.mark.parametrize("arch,config", [("pixelcnn", {"channels": 8, "layers": 2}), ("lstm", {"hidden_size": 8})])
def test_a_pixel_by_pixel_model_yields_each_row_then_exactly_its_one_piece_images(arch, config):
    model = create_model("autoregressive", arch, conditional=True, **config).eval()
    z, labels = seeded_latents(model, 5, 6), label_tensor(model, None, 6)
    parts = list(decode_in_parts(model, z, labels))
    assert len(parts) == 28
    for row, part in enumerate(parts[:-1]):
        assert (part[:, row + 1:] == GREY).all()  # not drawn yet
        assert set(np.unique(part[:, :row + 1])) <= {0, 255}  # drawn: ink or paper
    assert np.array_equal(parts[-1], decode(model, z, labels))


def test_a_model_that_draws_in_one_pass_yields_once():
    model = create_model("gan", "mlp", conditional=False).eval()
    z = seeded_latents(model, 5, 6)
    parts = list(decode_in_parts(model, z))
    assert len(parts) == 1 and np.array_equal(parts[0], decode(model, z))


@pytest.fixture
def pixelcnn(monkeypatch):
    model = create_model("autoregressive", "pixelcnn", conditional=False, channels=8, layers=2).eval()
    entry = ModelEntry("tiny-pixelcnn", model, {"config": model.config.to_dict()}, "pretrained")
    monkeypatch.setattr(model_store, "find", lambda name, session: entry)
    monkeypatch.setattr(sample_tab, "pictures_folder", lambda: pytest_tmp)
    return entry


pytest_tmp = None


@pytest.fixture(autouse=True)
def _pictures(tmp_path):
    global pytest_tmp
    pytest_tmp = tmp_path


def pixels(path):
    """The grid's digits at MNIST's size (the picture is enlarged DISPLAY_SCALE times)."""
    picture = np.asarray(Image.open(path).convert("L"))
    return picture[::sample_tab.DISPLAY_SCALE, ::sample_tab.DISPLAY_SCALE]


def test_the_sample_tab_shows_the_grid_as_it_fills_in_then_answers_it_from_memory(pixelcnn, monkeypatch):
    monkeypatch.setattr(sample_tab, "FIRST_PART_SECONDS", 0.0)  # every row shown (a fast machine draws a row
    monkeypatch.setattr(sample_tab, "PART_SECONDS", 0.0)  # in less than these times)
    shown = list(sample_tab.sample_grid("tiny-pixelcnn", 9, 3, "all", 1.0, None, None, None))
    assert len(shown) == 28 + 1  # each row, then the whole grid
    first, last = pixels(shown[0]), pixels(shown[-1])
    assert (first == GREY).mean() > 0.7 and not (last == GREY).any()  # (the grid's gaps between digits are black)
    assert np.array_equal(last, np.asarray(grid(sample(pixelcnn.model, 9, 9), columns=3)))  # the seed in one piece
    again = list(sample_tab.sample_grid("tiny-pixelcnn", 9, 3, "all", 1.0, None, None, None))
    assert len(again) == 1 and np.array_equal(pixels(again[0]), last)  # drawn before: one piece, from memory


def test_a_class_asking_for_the_same_grid_at_once_draws_it_once(pixelcnn, monkeypatch):
    """Streaming must not undo the shared memory of grids: while one request draws a grid, the others asking
    for the very same grid wait for it and get it whole, drawn once."""
    import threading

    drawn, real = [], sample_tab.decode_in_parts
    monkeypatch.setattr(sample_tab, "decode_in_parts", lambda *args: drawn.append(1) or real(*args))
    answers = [None] * 4

    def ask(i):
        answers[i] = list(sample_tab.sample_grid("tiny-pixelcnn", 11, 2, "all", 1.0, None, None, None))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(drawn) == 1
    assert len({pixels(answer[-1]).tobytes() for answer in answers}) == 1
