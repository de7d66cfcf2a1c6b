"""Pressing Start takes the previous run's files off the Train tab: a class must not download or replay
the last model while the new one trains (the browser test checks it on the page too)."""

import pytest

pytest.importorskip("gradio")

from genai.ui.session import Session  # noqa: E402
from genai.ui.train_tab import mark_waiting  # noqa: E402


def test_start_clears_the_last_runs_download_and_replay():
    *_, download_button, replay_picture, replay_caption, replay_gif = mark_waiting(Session())
    assert download_button["interactive"] is False and download_button["value"] == "Download model (.zip)"
    assert replay_picture is None and replay_caption == ""
    assert replay_gif["visible"] is False and replay_gif["value"] is None
