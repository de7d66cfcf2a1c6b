"""Uploads are bounded per request (bytes and parts) and per visitor per minute, on POST /gradio_api/upload and
the sketchpad's /gradio_api/component_server, with a short answer and nothing kept (genai/ui/upload_limits.py).
Raw HTTP against `python app.py` (tests/app_server.py), each test from addresses of its own."""

import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

import app_server

httpx = pytest.importorskip("httpx")

from genai.ui import settings  # noqa: E402
from genai.ui.upload_limits import RecentUploads, part_count  # noqa: E402

MB = 2**20


@pytest.fixture(scope="module")
def server(mnist_dir):
    return app_server.start(mnist_dir)


def kept_files(server):
    """Every file in the app's folders (Gradio's upload cache and the app's own)."""
    return {path for path in Path(server.folder).rglob("*") if path.is_file()}


def upload(server, address, files, path="gradio_api/upload", data=None):
    return httpx.post(server.url + path, files=files, data=data, headers={"X-Forwarded-For": address}, timeout=60)


def test_one_request_with_many_parts_is_refused_and_keeps_nothing(server):
    before = kept_files(server)
    parts = [("files", (f"digit-{n}.png", b"\x89PNG" + b"\0" * 10_000, "image/png")) for n in range(60)]
    answer = upload(server, "10.50.0.1", parts)
    assert answer.status_code == 413
    assert answer.text == f"Too many files in one upload: at most {settings.max_request_parts()} parts."
    assert not kept_files(server) - before
    fine = upload(server, "10.50.0.1", [("files", ("digit.png", b"\x89PNG" + b"\0" * 10_000, "image/png"))])
    assert fine.status_code == 200 and len(fine.json()) == 1  # one file in one request goes through


def test_the_sketchpads_blob_route_is_bounded_too(server):
    fields = {"session_hash": "x", "component_id": "1", "fn_name": "accept_blobs", "data": "{}"}
    parts = [("files", (f"blob-{n}", b"\0" * 10_000, "application/octet-stream")) for n in range(100)]
    answer = upload(server, "10.50.0.2", parts, path="gradio_api/component_server", data=fields)
    assert answer.status_code == 413 and "Too many files" in answer.text


def test_a_request_declaring_more_than_the_limit_is_refused_before_its_body_is_read(server):
    """Only the headers are sent: the answer comes at once, so nothing of the body was waited for."""
    address = urlparse(server.url)
    declared = (settings.max_request_mb() + 1) * MB
    request = (f"POST /gradio_api/upload HTTP/1.1\r\nHost: {address.hostname}\r\nX-Forwarded-For: 10.50.0.3\r\n"
               f"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {declared}\r\n\r\n").encode()
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(4096):  # the server closes the connection after its answer
            answer += chunk
    answer = answer.decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert f"This upload is too large: at most {settings.max_request_mb()} MB in one request." in answer


def test_a_visitor_sending_too_much_in_a_minute_waits_and_others_do_not(server):
    """30 MB a minute from one address: the seventh upload of 4.5 MB is refused; another address is not."""
    before = kept_files(server)
    def big(n):  # each one different (Gradio keeps one copy of files that are the same)
        return [("files", ("big.png", b"\x89PNG" + bytes([n]) * (9 * MB // 2), "image/png"))]

    answers = [upload(server, "10.50.0.4", big(n)).status_code for n in range(7)]
    assert answers == [200] * 6 + [429]
    refused = upload(server, "10.50.0.4", big(7))
    assert refused.status_code == 429 and refused.text.startswith("Too many uploads: at most")
    assert len(kept_files(server) - before) == 6  # the refused ones left nothing
    assert upload(server, "10.50.0.5", big(8)).status_code == 200


def test_parts_are_counted_from_the_boundary():
    body = b"--xyz\r\nA\r\n--xyz\r\nB\r\n--xyz--\r\n"
    assert part_count(body, 'multipart/form-data; boundary="xyz"') == 2
    assert part_count(b'{"data": []}', "application/json") == 1


def test_the_minute_window_forgets_what_is_older_than_a_minute(monkeypatch):
    monkeypatch.setenv("GENAI_UPLOADS_PER_MINUTE", "2")
    recent = RecentUploads()
    assert recent.admit("a", 10, now=0) is None and recent.admit("a", 10, now=1) is None
    assert recent.admit("a", 10, now=2) is not None  # a refusal is not charged
    assert recent.admit("b", 10, now=2) is None
    assert recent.admit("a", 10, now=61) is None


def test_an_api_call_carrying_a_huge_text_is_refused_before_it_is_read(server):
    """A 50 MB model name cost 230 MB and came back whole in the message; now any call is at most GENAI_MAX_CALL_KB."""
    huge = {"data": ["x" * MB, 0, 3, "all", 1.0, 20, 2.0]}
    answer = httpx.post(server.url + "gradio_api/call/sample", json=huge, headers={"X-Forwarded-For": "10.50.0.6"},
                        timeout=60)
    assert answer.status_code == 413
    assert answer.text == (f"This request is too large: at most {settings.max_call_kb()} KB "
                           "(model names, ids and numbers are short).")
    usual = {"data": ["tiny-vae", 0, 3, "all", 1.0, 20, 2.0]}
    assert httpx.post(server.url + "gradio_api/call/sample", json=usual, timeout=60).status_code == 200


def test_messages_quote_a_long_text_in_a_short_escaped_excerpt(server):
    """A model name or number of 50,000 characters (within the call limit) is quoted in 40 at most, escaped."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(server.url, verbose=False, analytics_enabled=False, headers=app_server.visitor_headers())
    long_text = "<b>" + "x" * 50_000 + "\nforged line"
    for arguments in ([long_text, 0, 3, "all", 1.0, 20, 2.0], ["tiny-vae", long_text, 3, "all", 1.0, 20, 2.0]):
        with pytest.raises(AppError) as refused:
            client.predict(*arguments, api_name="/sample")
        message = str(refused.value)
        assert len(message) < 1000 and "(cut)" in message and "\n" not in message, message[:300]


def test_a_student_drawing_many_strokes_is_never_stopped_by_the_upload_budget(monkeypatch):
    """The sketchpad sends its canvases as the pen moves (dozens a stroke): they are bounded per request and
    kept only as a few pending drawings, so the per-minute upload budget does not count them."""
    import asyncio

    from genai.ui.upload_limits import UploadLimits

    monkeypatch.setenv("GENAI_UPLOADS_PER_MINUTE", "3")
    reached = []

    async def app(scope, receive, send):
        reached.append(scope["path"])
        await receive()

    async def post(middleware, path):
        body = b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.png\"\r\n\r\npng\r\n--b--\r\n"
        scope = {"type": "http", "method": "POST", "path": path, "client": ("10.9.0.1", 1),
                 "headers": [(b"content-length", str(len(body)).encode()),
                             (b"content-type", b"multipart/form-data; boundary=b")]}
        sent = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            sent.append(message)

        await middleware(scope, receive, send)
        return next((m["status"] for m in sent if m["type"] == "http.response.start"), None)

    middleware = UploadLimits(app)
    strokes = [asyncio.run(post(middleware, "/gradio_api/component_server")) for _ in range(10)]
    uploads = [asyncio.run(post(middleware, "/gradio_api/upload")) for _ in range(4)]
    assert strokes == [None] * 10 and reached.count("/gradio_api/component_server") == 10
    assert uploads == [None, None, None, 429]  # the fourth upload in a minute is refused
