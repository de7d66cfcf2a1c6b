"""The code beside the math: a family's training step and loss functions, as they really run.

The text is read from the model's module with `inspect` each time it is shown, never copied, so
a change in genai/models/ shows up in the Train tab without touching the UI. Each line of the
training step that calls a loss function is marked with that function's formula (the first line
of its docstring), which is also the formula the explanation beside it shows.
"""

import inspect
import re
import textwrap
from pathlib import Path


def formula(function):
    """The first line of a loss function's docstring: its formula."""
    return (inspect.getdoc(function) or function.__name__).splitlines()[0]


def marked_step(model_class):
    """The training step's source, each line that calls a loss function marked with its formula."""
    source = textwrap.dedent(inspect.getsource(model_class.training_step))
    lines = []
    for line in source.splitlines():
        called = [f for f in model_class.loss_functions if re.search(rf"\b{f.__name__}\(", line)]
        if called:
            line = f"{line}  # <- {formula(called[0])}"
        lines.append(line)
    return "\n".join(lines)


def training_code(model_class):
    """(python text, where it comes from): the loss functions, then the training step of model_class."""
    parts = [textwrap.dedent(inspect.getsource(function)).rstrip() for function in model_class.loss_functions]
    parts.append(marked_step(model_class))
    path = Path(inspect.getsourcefile(model_class.training_step))
    owner = next(cls for cls in model_class.__mro__ if "training_step" in vars(cls))
    where = f"genai/models/{path.name}: the loss functions, then {owner.__name__}.training_step"
    return "\n\n\n".join(parts) + "\n", where
