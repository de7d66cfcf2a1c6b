"""Requests for digits from the same model at the same moment are drawn in one forward pass.

When a class drags its seed sliders together, many requests for grids of one model wait for a
compute slot at once. The first of them leads: once it has a slot, it takes every request of the
same model (and sampling settings) that has come in meanwhile, stacks their noise, runs the model
once, and hands each request its own rows. The others only wait for their rows.

    images = draw_together(entry.token, model, seed=7, count=64, label=None, temperature=1.0, options={})

Each image depends only on its own noise row (the models never mix images of a batch when drawing),
so a seed draws the same digits alone or in a crowd; tests/test_batching.py checks this.

Only on an accelerator (CUDA, MPS), where one pass of many images costs about as much as one of a
few. On a CPU thread it depends on the network: one pass saves time for the fully connected models
but costs the convolutional ones more than separate passes (their larger feature maps no longer fit
the CPU's caches), so on a CPU each request draws its own grid (measured with
`python benchmarks/batching_gain.py`: see docs/benchmarks.md, "Drawing simultaneous grids in one
forward pass").
"""

import threading
import time
from dataclasses import dataclass, field

import torch

from ..sampling import decode, label_tensor, model_device, sampling_options, seeded_latents
from . import request_costs
from .compute import compute_slot

_lock = threading.Lock()
_waiting = {}  # group -> requests not yet drawn
_led = set()  # groups whose leader is waiting for a compute slot
BATCH_ON_CPU = False  # measured slower for convolutional models on a CPU (see above); tests turn it on


@dataclass
class Request:
    z: torch.Tensor
    labels: object
    done: threading.Event = field(default_factory=threading.Event)
    images: object = None
    error: Exception = None


def draw_together(token, model, seed, count, label, temperature, options):
    """sample(model, seed, count, label, temperature, **options), drawn in one forward pass with the
    other requests for the same model and options waiting at the same time: uint8 (count, 28, 28).
    Refused before anything runs if it would compute longer than one request may (request_costs.py)."""
    options = sampling_options(model, **options)
    group = (token, tuple(sorted(options.items())))
    request = Request(seeded_latents(model, seed, count, temperature), label_tensor(model, label, count))
    if model_device(model).type == "cpu" and not BATCH_ON_CPU:
        with request_costs.computing(model, count, options, what="digits"):
            return timed_decode(model, request.z, request.labels, options)
    seconds = request_costs.checked(model, count, options, what="digits")  # each request alone, before it waits
    with _lock:
        _waiting.setdefault(group, []).append(request)
        leading = group not in _led
        _led.add(group)
    if leading:
        with compute_slot(seconds):
            with _lock:  # everything asked until now goes into this pass; later requests start the next one
                requests = _waiting.pop(group)
                _led.discard(group)
            draw_all(model, requests, options)
    request.done.wait()
    if request.error is not None:
        raise request.error
    return request.images


def timed_decode(model, z, labels, options):
    """decode(model, z, labels, options), its time told to request_costs (the next prediction learns from it)."""
    start = time.perf_counter()
    images = decode(model, z, labels, options)
    request_costs.record(model, len(z), options, time.perf_counter() - start)
    return images


def draw_all(model, requests, options):
    """One forward pass for all the requests' noise; each gets its own rows (or the error)."""
    try:
        labels = None if requests[0].labels is None else torch.cat([r.labels for r in requests])
        images = timed_decode(model, torch.cat([r.z for r in requests]), labels, options)
        start = 0
        for request in requests:
            request.images, start = images[start:start + len(request.z)], start + len(request.z)
    except Exception as error:  # noqa: BLE001 - every waiting request hears about it
        for request in requests:
            request.error = error
    finally:
        for request in requests:
            request.done.set()
