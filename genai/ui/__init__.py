"""The Gradio web app. genai.ui is the only part of genai that imports gradio.

    from genai.ui import build_demo, launch_options
    build_demo().launch(**launch_options())
"""

from .blocks import build_demo, launch_options

__all__ = ["build_demo", "launch_options"]
