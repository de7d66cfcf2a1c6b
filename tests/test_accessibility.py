"""Every picture the app shows has a text alternative (read aloud by a screen reader, shown when an image
cannot load), so a student who cannot see the grid still learns what it shows."""

import gradio as gr

from genai.ui import build_demo


def test_every_picture_of_the_app_has_a_text_alternative(mnist_dir, monkeypatch):
    monkeypatch.setenv("GENAI_DATA_DIR", str(mnist_dir))
    demo = build_demo()
    pictures = [block for block in demo.blocks.values() if isinstance(block, gr.Image)]
    assert len(pictures) >= 12  # Train, step mode, replay, Sample, Interpolate, Explore, the sketchpad's, the Class tab
    missing = [block.label for block in pictures if not getattr(block, "alt_text", None)]
    assert not missing, f"pictures without alt text: {missing}"
