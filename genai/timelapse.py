"""A training run's timelapse: the fixed-noise preview grid as the run went, to replay afterwards.

The training loop decodes the same noise every few seconds (the live preview), so frame after
frame shows the same digits emerging, as in the DCGAN tutorial's animation. A Timelapse keeps those
frames with the step and the losses at each, in bounded memory: each frame is stored as a PNG
(a grid of 100 digits is about 15 KB), and when max_frames are held, every other one is dropped
and from then on only every other preview is kept (the first and the newest always stay), so the
frames stay evenly spread over the whole run however long it lasts.

    timelapse = Timelapse()
    for event in train(model, dataset, settings):
        timelapse.add(event)
    timelapse.frame(0).picture, timelapse.gif_bytes()
"""

import io
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .sampling import gif_bytes, grid


@dataclass
class Frame:
    step: int
    seconds: float
    losses: dict
    png: bytes  # the preview grid

    @property
    def picture(self):
        return Image.open(io.BytesIO(self.png))

    def caption(self, total_steps=None):
        losses = ", ".join(f"{name} {value:.3f}" for name, value in self.losses.items())
        return f"step {self.step:,}" + (f" of {total_steps:,}" if total_steps else "") + \
            f" ({self.seconds:.1f} s)" + (f": {losses}" if losses else "")


class Timelapse:
    """The preview frames of one run (thread-safe: the run adds while a visitor replays)."""

    def __init__(self, max_frames=48):
        if max_frames < 3:
            raise ValueError("A timelapse keeps at least 3 frames.")
        self.max_frames = max_frames
        self._kept = []  # (number of the preview in the run, Frame), oldest first
        self._added = 0  # previews seen so far
        self._stride = 1  # keep previews number 0, stride, 2 * stride, ... (and always the newest)
        self._lock = threading.Lock()

    def add(self, event):
        """Keep the event's preview (TrainEvent with .preview, uint8 (N, 28, 28)), if it has one."""
        if event.preview is None:
            return
        picture = grid(event.preview, columns=event.preview_columns)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG", optimize=False)
        frame = Frame(event.step, event.elapsed_seconds, dict(event.losses or {}), buffer.getvalue())
        with self._lock:
            if self._kept and self._kept[-1][1].step == frame.step:
                self._kept[-1] = (self._kept[-1][0], frame)  # the final event repeats the last step: its preview
                return
            if self._kept and self._kept[-1][0] % self._stride:
                self._kept.pop()  # the previous newest was only kept for being the newest
            self._kept.append((self._added, frame))
            self._added += 1
            while len(self._kept) > self.max_frames:  # full: keep every other one of the stride
                self._stride *= 2
                newest = self._kept[-1]
                self._kept = [kept for kept in self._kept[:-1] if kept[0] % self._stride == 0] + [newest]

    def __len__(self):
        with self._lock:
            return len(self._kept)

    def frames(self):
        with self._lock:
            return [frame for _, frame in self._kept]

    def frame(self, index):
        """Frame `index` (0 = the first); IndexError if there is no such frame."""
        frames = self.frames()
        if not 0 <= index < len(frames):
            raise IndexError(f"This timelapse has frames 0 to {len(frames) - 1}, not {index}.")
        return frames[index]

    def bytes(self):
        with self._lock:
            return sum(len(frame.png) for _, frame in self._kept)

    def gif_bytes(self, scale=2):
        """The whole timelapse as an animated GIF (the last frame held for 2 s)."""
        frames = self.frames()
        if not frames:
            raise ValueError("This timelapse has no frames yet.")
        pictures = [np.asarray(frame.picture.convert("L")) for frame in frames]
        return gif_bytes(pictures, scale=scale, duration_ms=250, bounce=False, hold_last_ms=2000)
