"""When the server starts: pay the first training run's one-off costs before a visitor presses Start.

See genai/warm_up.py: a few steps of the default GAN on random pixels, in a background thread,
on the app's training device. On a ZeroGPU Space the GPU exists only inside a visitor's request,
so the warm-up runs on the CPU there: it still makes sure PyTorch's compiler is imported before
a first Start (the one-off cost a CPU has; docs/benchmarks.md, "The first Start").
Off with GENAI_WARM_UP=0.
"""

from ..recipes import recipe
from ..train import preview_count
from ..warm_up import warm_up_in_background
from . import model_store, settings
from .gpu import zero_gpu


def say(message):
    """One line in the server's log (flushed: the log is often a file or a pipe)."""
    print(message, flush=True)


def start_warm_up(log=say):
    """Start the warm-up thread (returned), or return None when GENAI_WARM_UP turns it off."""
    if not settings.warm_up_at_start():
        return None
    device = "cpu" if zero_gpu() else model_store.app_device()
    return warm_up_in_background(device, log=log, family="gan",
                                 preview_images=preview_count(recipe("gan")["conditional"]))
