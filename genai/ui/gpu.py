"""ZeroGPU Spaces: run the GPU-bound event handlers through the `spaces` package's decorator.

On a Hugging Face ZeroGPU Space, a GPU is lent to a function only while it runs, and only
if the function is decorated with spaces.GPU. Where the `spaces` package is not installed
(a laptop, a CPU Space, CI) on_gpu returns the function unchanged, so nothing else changes.

    handler = on_gpu(friendly(sample_grid))                # a short call: the default time slot
    handler = on_gpu(friendly(run), seconds=600 + 60)      # a training run: ask for its whole budget
"""

import importlib
import importlib.util


def zero_gpu():
    """Whether this is a ZeroGPU Space (the `spaces` package is installed): no GPU outside on_gpu's functions."""
    return importlib.util.find_spec("spaces") is not None


def on_gpu(function, seconds=None):
    """function wrapped by spaces.GPU when the `spaces` package is installed, else function itself."""
    try:
        spaces = importlib.import_module("spaces")
    except ImportError:
        return function
    if seconds is None:
        return spaces.GPU(function)
    return spaces.GPU(duration=int(seconds))(function)
