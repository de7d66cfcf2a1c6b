"""The genai web app: `python app.py` opens it on http://127.0.0.1:7860.

Hugging Face Spaces imports this file and runs `demo`. Set GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT to listen elsewhere (e.g. GRADIO_SERVER_NAME=0.0.0.0 on a server).
Importing this module builds the page but starts nothing: no server, no training.
"""

import os
import signal
import sys
import time

# On 2 cores the web server and training share the CPU: one training thread avoids
# PyTorch's threads spin-waiting on each other (see genai/device.py). Override with GENAI_CPU_THREADS.
if (os.cpu_count() or 1) <= 2:
    os.environ.setdefault("GENAI_CPU_THREADS", "1")


def cap_malloc_arenas(count=2):
    """glibc gives each busy thread its own memory arena; a server whose worker threads come and go
    then keeps growing, and with 2 arenas its memory levels off (measured: see docs/benchmarks.md,
    "A class on one 2-core server: the load benchmark").
    Same as starting Python with MALLOC_ARENA_MAX=2; a no-op where glibc is not the C library."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, count)  # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        pass

from genai.ui import build_demo, launch_options  # noqa: E402
from genai.ui import settings as app_settings, shutdown, visitors  # noqa: E402
from genai.ui.upload_limits import UploadLimits  # noqa: E402

demo = build_demo()


def server_options():
    """How the server itself is bounded: uploads per request and per visitor (genai/ui/upload_limits.py),
    and Gradio's own store of sessions (least recently used first out)."""
    from starlette.middleware import Middleware

    return {"app_kwargs": {"middleware": [Middleware(UploadLimits)]},
            "state_session_capacity": app_settings.max_sessions()}

if __name__ == "__main__":
    cap_malloc_arenas()
    def stop(signum, frame):
        """A Space (or systemd, or docker stop) ends the server with SIGTERM: shut down as on Ctrl+C,
        so Gradio empties its file cache and the app's temporary folders are removed (atexit). Runs going on
        are stopped first, and each tab is told that the server is restarting (genai/ui/shutdown.py).
        A second SIGTERM during that clean-up is ignored: it would kill the app with its folders left."""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if shutdown.stop_every_run():  # each run's tab says "the server is restarting", in words
            time.sleep(0.5)  # time for those last messages to leave before the server closes
        demo.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    visitors.keep_real_addresses()  # a visitor is the connection's address unless GENAI_TRUSTED_PROXY says otherwise
    demo.launch(**launch_options(), **server_options())
