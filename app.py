"""The genai web app: `python app.py` opens it on http://127.0.0.1:7860.

Hugging Face Spaces imports this file and runs `demo`. Set GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT to listen elsewhere (e.g. GRADIO_SERVER_NAME=0.0.0.0 on a server).
Importing this module builds the page but starts nothing: no server, no training.
"""

from genai.ui import build_demo, launch_options

demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_options())
