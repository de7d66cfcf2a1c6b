"""What drawing digits from a model will cost, in seconds of compute on this server, known before it runs.

    seconds = (per_call + images * per_image) * passes(settings) / passes(the model's own settings)

- per_call and per_image: the model's speed at its own sampling settings, timed here on two small
  draws the first time a model of its kind (family, architecture and config: every model of one
  kind computes the same) is asked for; a GAN's cost is mostly per call, a PixelCNN's per image.
  Then every grid drawn corrects it: a moving average of measured / predicted seconds, so the
  prediction follows what this server really gives (a busy server, a slower Space).
- passes: how many passes of the network one image takes (model.sampling_passes): 1 for a GAN or a
  VAE, 784 pixel steps for a PixelCNN, and for a diffusion model its steps, twice for each guided
  step. Only the ratio to the model's own settings is used: 200 guided steps cost 10 times 20 (the
  per-call part too: a diffusion model's is mostly per step).

Two things use the prediction: the compute slots serve the waiting request that is cheapest for how
long it has waited (genai/ui/compute.py: a GAN's grid at once, a long diffusion grid still in its
turn), and a request predicted to take more than GENAI_MAX_REQUEST_SECONDS is refused before it runs,
with the settings that fit (check_fits). Both at once:

    with computing(model, 64, {"sampling_steps": 50}, what="digits"):
        images = sample(model, seed, 64, sampling_steps=50)
"""

import json
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from ..environment import value
from ..sampling import sample
from .compute import compute_slot
from .errors import AppError

PROBE_IMAGES = (4, 20)  # two small draws timed (each twice): the cost per call and the cost per image
LEARNING_RATE = 0.2  # how far one measured draw moves the correction (a moving average)
MOST_OFF = 5.0  # one draw moves the correction at most this many times up or down (a stalled machine)
_lock = threading.Lock()
REMEMBERED = 1_000  # kinds of model whose speed is kept (the oldest timed is forgotten first)
_speeds = {}  # kind of model -> Speed
_probing = {}  # kind of model -> the lock held while its speed is timed


@dataclass
class Speed:
    """How fast a model draws here, at its own sampling settings."""

    per_call: float  # seconds of every call, however many images (setting up, one pass of a tiny batch)
    per_image: float  # seconds each image adds
    correction: float = 1.0  # measured / predicted seconds, averaged over the grids drawn since the probe

    def seconds(self, images, passes_ratio=1.0, calls=1):
        return self.correction * passes_ratio * (self.per_call * calls + self.per_image * images)


def kind(model):
    """What decides a model's speed: its family, architecture and config (not its weights)."""
    return model.family, model.arch, json.dumps(model.config.to_dict(), sort_keys=True, default=str)


def known_speed(model):
    """The model's Speed here, or None before a model of its kind has been timed."""
    with _lock:
        return _speeds.get(kind(model))


def speed(model):
    """The model's Speed here, timed on two small draws the first time: call it inside a compute slot (the
    draws are computing). Requests for the same kind meanwhile wait for that one timing."""
    token = kind(model)
    with _lock:
        known = _speeds.get(token)
        probing = _probing.setdefault(token, threading.Lock()) if known is None else None
    if known is not None:
        return known
    with probing:
        known = known_speed(model)
        if known is not None:  # timed while this request waited
            return known
        few, more = PROBE_IMAGES
        sample(model, 0, 2)  # the first call pays one-off set-up costs
        # Each size twice, the faster kept: one draw stalled by other work would skew every prediction after it.
        few_seconds = min(timed(sample, model, 1, few)[1] for _ in range(2))
        more_seconds = min(timed(sample, model, 2, more)[1] for _ in range(2))
        per_image = max(more_seconds - few_seconds, 0.0) / (more - few)
        known = Speed(per_call=max(few_seconds - few * per_image, 0.0), per_image=per_image)
        with _lock:
            _speeds[token] = known
            _probing.pop(token, None)
            while len(_speeds) > REMEMBERED:
                del _speeds[next(iter(_speeds))]
    return known


def speed_outside_a_slot(model):
    """speed(model) for a caller not in a compute slot: a model of a new kind is timed in a slot of its own."""
    known = known_speed(model)
    if known is None:
        with compute_slot(0.0):
            known = speed(model)
    return known


def checked(model, images, options=None, what="pictures"):
    """check_fits, the model timed first (in a compute slot of its own) if no model of its kind was yet."""
    speed_outside_a_slot(model)
    return check_fits(model, images, options, what)


@contextmanager
def computing(model, images, options=None, what="pictures"):
    """Hold a compute slot to draw `images` images from model: the slot is told the predicted seconds, and a
    request over the limit is refused before it waits (check_fits). Yields the predicted seconds.

    The first request for a model of a new kind cannot be predicted: it waits as a cheap one, its slot
    times the model, and it is checked then, still before it draws.
    """
    if known_speed(model) is not None:
        seconds = check_fits(model, images, options, what)
        with compute_slot(seconds):
            yield seconds
        return
    with compute_slot(0.0):
        speed(model)
        yield check_fits(model, images, options, what)


def passes_ratio(model, options):
    """How many times the model's own settings' passes these sampling settings take (1: its own)."""
    return model.sampling_passes(**(options or {})) / model.sampling_passes()


def predicted_seconds(model, images, options=None, calls=1):
    """Seconds of compute to draw `images` images with these sampling settings, in `calls` calls."""
    return speed(model).seconds(images, passes_ratio(model, options), calls)


def record(model, images, options, seconds):
    """A draw took `seconds`: move the model's correction towards what it measured (LEARNING_RATE of the way)."""
    with _lock:
        known = _speeds.get(kind(model))
        if known is None:
            return
        predicted = known.seconds(images, passes_ratio(model, options))
        if predicted <= 0:
            return
        measured = min(max(seconds / predicted, 1 / MOST_OFF), MOST_OFF) * known.correction
        known.correction += LEARNING_RATE * (measured - known.correction)


def max_request_seconds():
    return value("GENAI_MAX_REQUEST_SECONDS")


def check_fits(model, images, options=None, what="pictures"):
    """The predicted seconds of drawing `images` images; AppError before anything runs if over the limit,
    saying what would fit: fewer sampling steps, or fewer images."""
    seconds, limit = predicted_seconds(model, images, options), max_request_seconds()
    if seconds <= limit:
        return seconds
    speed_here, ratio = speed(model), passes_ratio(model, options)
    fits = []
    options = options or {}
    steps = options.get("sampling_steps", model.config.sampling_steps) if "sampling_steps" in model.sampling_options \
        else None
    if steps is not None:
        most = max((n for n in range(1, int(steps))
                    if speed_here.seconds(images, passes_ratio(model, {**options, "sampling_steps": n})) <= limit),
                   default=None)
        if most is not None:
            fits.append(f"at most {most} sampling steps")
    room = limit / (speed_here.correction * ratio) - speed_here.per_call
    most_images = math.floor(room / speed_here.per_image) if speed_here.per_image > 0 else images
    if 0 < most_images < images:
        fits.append(f"at most {most_images} {what}")
    advice = f"Ask for {' or '.join(fits)}." if fits else "Ask for fewer, or choose a faster model."
    raise AppError(f"That would take about {seconds:.0f} s of compute on this server ({images} {what}"
                   f"{', ' + str(steps) + ' steps' if steps is not None else ''}), and one request may take at most "
                   f"{limit:g} s here, so that a class shares the server. {advice}")


def timed(function, *args):
    """(function(*args), the seconds it took)."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start
