"""Uploads are bounded per request and per visitor before they cost the server memory or disk.

Gradio's own limit (max_file_size, set from GENAI_MAX_UPLOAD_MB in launch_options) counts each
file alone: one request of 60 files of 4.9 MB passed it and put 281 MB on disk, and the
sketchpad's `accept_blobs` (POST /gradio_api/component_server) read 100 such parts into memory.
This ASGI middleware stands in front of those two routes and refuses, with a short plain-text
answer and before Gradio reads a byte:

- a request declaring more than GENAI_MAX_REQUEST_MB (413), or sending more than that (413);
- a request of more than GENAI_MAX_REQUEST_PARTS multipart parts (413);
- a visitor (genai/ui/visitors.py) who uploaded more than GENAI_UPLOAD_MB_PER_MINUTE or
  GENAI_UPLOADS_PER_MINUTE requests to /gradio_api/upload in the last minute (429; the sketchpad's
  canvases are not counted: they come dozens a stroke, and PendingDrawings bounds what they keep).

To count the parts before anything reaches Gradio, an accepted request's body is read here first
(at most GENAI_MAX_REQUEST_MB), then handed on; a refused one is dropped, so nothing of it stays
in memory or on disk.

Every other POST to the app's API (an event's inputs: numbers, choices, model names and ids, never a
file) is bounded by GENAI_MAX_CALL_KB: a 50 MB string sent as a model name cost 230 MB, and came
back whole in the error message.

    demo.launch(app_kwargs={"middleware": [Middleware(UploadLimits)]})   # app.py
"""

import threading
import time
from collections import deque

from starlette.responses import PlainTextResponse

from . import settings, visitors

LIMITED_PATHS = ("/gradio_api/upload", "/gradio_api/component_server")
WINDOW_SECONDS = 60.0


def limited(scope):
    return (scope["type"] == "http" and scope.get("method") == "POST"
            and scope.get("path", "").rstrip("/").endswith(LIMITED_PATHS))


def api_call(scope):
    return scope["type"] == "http" and scope.get("method") == "POST" and "/gradio_api/" in scope.get("path", "")


def header(scope, name):
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def part_count(body, content_type):
    """How many parts a multipart/form-data body holds (1 for any other body)."""
    if not content_type or not content_type.lower().startswith("multipart/"):
        return 1
    boundary = next((item.split("=", 1)[1].strip().strip('"') for item in content_type.split(";")
                     if item.strip().lower().startswith("boundary=")), "")
    if not boundary:
        return 1
    return max(0, body.count(b"--" + boundary.encode("latin-1")) - 1)  # every part opens with it, and the end


class RecentUploads:
    """What each visitor sent to the limited routes in the last minute: (time, bytes) per request."""

    def __init__(self):
        self._sent = {}
        self._lock = threading.Lock()

    def admit(self, visitor, size, now=None):
        """Charge `size` bytes to visitor; a refusal message if it goes over the per-minute limits (None: admitted)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in [key for key, sent in self._sent.items() if not sent or sent[-1][0] < now - WINDOW_SECONDS]:
                del self._sent[key]  # visitors quiet for a minute are forgotten: the table stays small
            sent = self._sent.setdefault(visitor, deque())
            while sent and sent[0][0] < now - WINDOW_SECONDS:
                sent.popleft()
            megabytes, count = settings.upload_mb_per_minute(), settings.uploads_per_minute()
            if len(sent) + 1 > count or sum(n for _, n in sent) + size > megabytes * 2**20:
                return (f"Too many uploads: at most {count} requests and {megabytes} MB a minute from one address. "
                        "Wait a minute, then try again.")
            sent.append((now, size))
            return None


class UploadLimits:
    """ASGI middleware: the limits above on POST /gradio_api/upload and /gradio_api/component_server, and on
    the size of every other API call."""

    def __init__(self, app):
        self.app = app
        self.recent = RecentUploads()

    async def __call__(self, scope, receive, send):
        if not limited(scope):
            if api_call(scope):
                return await self.bounded_call(scope, receive, send)
            return await self.app(scope, receive, send)
        max_mb = settings.max_request_mb()
        too_large = f"This upload is too large: at most {max_mb} MB in one request."
        declared = header(scope, b"content-length")
        declared = int(declared) if declared and declared.strip().isdigit() else None
        if declared is not None and declared > max_mb * 2**20:
            return await refuse(scope, receive, send, 413, too_large)
        # The per-minute budget is for uploads, which stay on disk until the file TTL. The sketchpad's canvases
        # (component_server) are sent as the pen moves, dozens a stroke, and are kept in memory only as
        # PendingDrawings (a few per visitor): a budget would stop a student mid-drawing.
        visitor = visitors.of_scope(scope) if scope.get("path", "").rstrip("/").endswith("/upload") else None
        if visitor is not None and declared is not None:  # charged before reading (uvicorn reads no more)
            busy = self.recent.admit(visitor, declared)
            if busy:
                return await refuse(scope, receive, send, 429, busy)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > max_mb * 2**20:
                return await refuse(scope, receive, send, 413, too_large)
        body = b"".join(chunks)
        chunks.clear()
        if visitor is not None and declared is None:  # sent in chunks, without a length: charged once read
            busy = self.recent.admit(visitor, size)
            if busy:
                return await refuse(scope, receive, send, 429, busy)
        max_parts = settings.max_request_parts()
        if part_count(body, header(scope, b"content-type")) > max_parts:
            return await refuse(scope, receive, send, 413, f"Too many files in one upload: at most {max_parts} parts.")

        async def replay():
            nonlocal body
            if body is None:
                return await receive()  # (Gradio listens for the client leaving)
            message, body = {"type": "http.request", "body": body, "more_body": False}, None
            return message

        await self.app(scope, replay, send)


    async def bounded_call(self, scope, receive, send):
        """An API call whose body is at most GENAI_MAX_CALL_KB: refused from its Content-Length, or cut off
        (as if the client had left) when it is sent in chunks without one."""
        most = settings.max_call_kb() * 1024
        declared = header(scope, b"content-length")
        if declared and declared.strip().isdigit() and int(declared) > most:
            return await refuse(scope, receive, send, 413, f"This request is too large: at most {settings.max_call_kb()} KB "
                                                           "(model names, ids and numbers are short).")
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return {"type": "http.disconnect"} if received > most else message

        await self.app(scope, counted, send)


async def refuse(scope, receive, send, status, message):
    await PlainTextResponse(message, status_code=status, headers={"Connection": "close"})(scope, receive, send)
