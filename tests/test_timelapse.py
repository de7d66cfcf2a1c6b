"""A run's timelapse stays within its frame budget, spread over the whole run, and replays as a GIF."""

import io

import numpy as np
import pytest
from PIL import Image

from genai.timelapse import Timelapse
from genai.train import TrainEvent


def event(step, preview=True):
    images = np.full((4, 28, 28), step % 256, dtype=np.uint8) if preview else None
    return TrainEvent(step=step, total_steps=None, epoch=0.0, losses={"loss": 1.0 / step}, elapsed_seconds=step / 10,
                      preview=images, preview_columns=2)


def test_a_long_run_keeps_at_most_max_frames_spread_from_the_first_to_the_newest():
    timelapse = Timelapse(max_frames=10)
    for step in range(1, 501):
        timelapse.add(event(step, preview=step % 5 == 0))  # a preview every 5 steps, 100 in all
    steps = [frame.step for frame in timelapse.frames()]
    assert len(steps) <= 10 and steps[0] == 5 and steps[-1] == 500
    assert steps == sorted(steps)
    gaps = np.diff(steps[:-1])
    assert gaps.max() <= 2 * gaps.min()  # evenly thinned, not just the start and the end
    assert timelapse.bytes() < 10 * 2000  # small PNGs, not arrays


def test_the_final_event_replaces_the_frame_of_its_step_and_the_gif_has_every_frame():
    timelapse = Timelapse(max_frames=5)
    for step in (10, 20, 30):
        timelapse.add(event(step))
    final = event(30)
    final.losses = {"loss": 0.5}
    timelapse.add(final)
    assert [f.step for f in timelapse.frames()] == [10, 20, 30] and timelapse.frame(2).losses == {"loss": 0.5}
    assert timelapse.frame(1).caption(100) == "step 20 of 100 (2.0 s): loss 0.050"
    with Image.open(io.BytesIO(timelapse.gif_bytes())) as gif:
        assert gif.n_frames == 3
    with pytest.raises(IndexError, match="frames 0 to 2"):
        timelapse.frame(3)
