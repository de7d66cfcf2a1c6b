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
from dataclasses import dataclass, field

import torch

from ..sampling import decode, label_tensor, model_device, sampling_options, seeded_latents
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
    other requests for the same model and options waiting at the same time: uint8 (count, 28, 28)."""
    options = sampling_options(model, **options)
    group = (token, tuple(sorted(options.items())))
    request = Request(seeded_latents(model, seed, count, temperature), label_tensor(model, label, count))
    light = model.draws_in_one_pass  # milliseconds of work: served before seconds-long grids
    if model_device(model).type == "cpu" and not BATCH_ON_CPU:
        with compute_slot(light):
            return decode(model, request.z, request.labels, options)
    with _lock:
        _waiting.setdefault(group, []).append(request)
        leading = group not in _led
        _led.add(group)
    if leading:
        with compute_slot(light):
            with _lock:  # everything asked until now goes into this pass; later requests start the next one
                requests = _waiting.pop(group)
                _led.discard(group)
            draw_all(model, requests, options)
    request.done.wait()
    if request.error is not None:
        raise request.error
    return request.images


def draw_all(model, requests, options):
    """One forward pass for all the requests' noise; each gets its own rows (or the error)."""
    try:
        labels = None if requests[0].labels is None else torch.cat([r.labels for r in requests])
        images = decode(model, torch.cat([r.z for r in requests]), labels, options)
        start = 0
        for request in requests:
            request.images, start = images[start:start + len(request.z)], start + len(request.z)
    except Exception as error:  # noqa: BLE001 - every waiting request hears about it
        for request in requests:
            request.error = error
    finally:
        for request in requests:
            request.done.set()
