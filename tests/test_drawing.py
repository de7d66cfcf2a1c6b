"""The drawing pad's value reaches the app undecoded and is read like an upload (genai/ui/drawing.py).

The browser sends its canvas as PNG bytes ahead of the event (the pad's accept_blobs, then an id);
an API client sends a file. Either way the size is read from the PNG header before any pixel.
"""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile

gr = pytest.importorskip("gradio")
from gradio.components.image_editor import EditorData, EditorDataBlobs  # noqa: E402
from gradio.data_classes import FileData  # noqa: E402

from genai.ui import drawing  # noqa: E402
from genai.ui.errors import AppError  # noqa: E402
from genai.ui.pictures import digit_from_picture  # noqa: E402


@pytest.fixture
def pad():
    """The Explore tab's Sketchpad, built as the app builds it."""
    with gr.Blocks():
        return drawing.build().pad


def a_one(size=280):
    """The PNG a student's vertical stroke makes: black ink on a transparent canvas."""
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(size // 2, 40), (size // 2, size - 40)], fill=(0, 0, 0, 255), width=18)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def png_declaring(width, height):
    """A tiny PNG whose header declares width x height pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def from_browser(pad, png):
    """What the pad's preprocess hands the handler when the browser sent png through accept_blobs."""
    pad.blob_storage["canvas-1"] = EditorDataBlobs(background=None, layers=[], composite=png)
    return pad.preprocess(EditorData(id="canvas-1"))


def test_the_browsers_canvas_is_handed_on_as_sent_and_becomes_a_digit(pad):
    value = from_browser(pad, a_one())
    assert value == {"composite": a_one()}  # the PNG bytes, not decoded
    assert "canvas-1" not in pad.blob_storage  # taken once, not kept
    digit = digit_from_picture(drawing.drawn_picture(value), "The drawing")
    rows, cols = np.nonzero(digit > 128)
    assert digit.shape == (28, 28) and rows.max() - rows.min() + 1 == 20 and abs(cols.mean() - 13.5) < 1.5


def test_an_api_clients_file_is_handed_on_as_its_path(pad, tmp_path):
    (tmp_path / "one.png").write_bytes(a_one())
    value = pad.preprocess(EditorData(composite=FileData(path=str(tmp_path / "one.png"))))
    assert value == {"composite": str(tmp_path / "one.png")}
    assert drawing.drawn_picture(value).size == (280, 280)


@pytest.mark.parametrize("send", ["browser", "api"])
def test_a_drawing_declaring_too_many_pixels_is_refused_from_its_header(pad, tmp_path, monkeypatch, send):
    bomb = png_declaring(13000, 13000)
    if send == "browser":
        value = from_browser(pad, bomb)
    else:
        (tmp_path / "bomb.png").write_bytes(bomb)
        value = pad.preprocess(EditorData(composite=FileData(path=str(tmp_path / "bomb.png"))))

    def no_decoding(self):
        raise AssertionError("the picture was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(AppError, match="The drawing is 13000x13000 pixels; pictures up to 4096x4096") as refused:
        drawing.drawn_picture(value)
    assert str(tmp_path) not in str(refused.value)  # no server path in the message


def test_nothing_drawn_and_not_a_picture_get_a_message(pad):
    with pytest.raises(AppError, match="Nothing is drawn yet"):
        drawing.drawn_picture(pad.preprocess(EditorData()))
    with pytest.raises(AppError, match="The drawing is not an image"):
        drawing.drawn_picture(from_browser(pad, b"not a picture"))


def test_an_empty_pad_is_answered_in_place_without_an_error_on_the_pictures(pad):
    """On the page, "Read my drawing" on an empty pad says what to do where the answer goes; an error would
    also mark both pictures with a red "Error" badge."""
    seen, answer, pictures = drawing.read_drawing_in_place("tiny-vae", pad.preprocess(EditorData()), None)
    assert seen is None and pictures is None and "Nothing is drawn yet" in answer


def test_canvases_sent_ahead_and_never_used_are_bounded_in_count_and_bytes(pad):
    """A client may send canvases through accept_blobs and never press the button: the oldest are forgotten."""
    from gradio.components.image_editor import AcceptBlobs

    def send(canvas_id, png):
        pad.accept_blobs(AcceptBlobs(data={"type": "composite", "index": None, "file": b"", "id": canvas_id},
                                     files=[("blob", png)]))

    store = pad.blob_storage
    for i in range(store.max_count + 50):
        send(f"canvas-{i}", a_one())
    assert len(store) == store.max_count and f"canvas-{store.max_count + 49}" in store and "canvas-0" not in store
    store.clear()
    big = b"\0" * (store.max_bytes // 3 + 1)  # three of them are over the bound
    for i in range(5):
        send(f"big-{i}", big)
    assert list(store) == ["big-3", "big-4"]  # within max_bytes; the newest kept
    send("huge", b"\0" * (store.max_bytes + 1))
    assert "huge" not in store  # larger than the whole bound by itself: not kept
    send("canvas-new", a_one())  # an ordinary drawing still goes through
    value = pad.preprocess(EditorData(id="canvas-new"))
    assert drawing.drawn_picture(value).size == (280, 280)
