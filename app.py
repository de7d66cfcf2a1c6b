"""The genai web app: `python app.py` opens it on http://127.0.0.1:7860.

Hugging Face Spaces imports this file and runs `demo`. Set GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT to listen elsewhere (e.g. GRADIO_SERVER_NAME=0.0.0.0 on a server).
Importing this module builds the page but starts nothing: no server, no training.
"""

import os
import signal
import sys

# On 2 cores the web server and training share the CPU: one training thread avoids
# PyTorch's threads spin-waiting on each other (see genai/device.py). Override with GENAI_CPU_THREADS.
if (os.cpu_count() or 1) <= 2:
    os.environ.setdefault("GENAI_CPU_THREADS", "1")

from genai.ui import build_demo, launch_options  # noqa: E402

demo = build_demo()

if __name__ == "__main__":
    def stop(signum, frame):
        """A Space (or systemd, or docker stop) ends the server with SIGTERM: shut down as on Ctrl+C,
        so Gradio empties its file cache and the app's temporary folders are removed (atexit)."""
        demo.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    demo.launch(**launch_options())
