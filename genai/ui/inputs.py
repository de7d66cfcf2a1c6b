"""Reading form values: every number from outside is checked here, once, with one message.

Values come from the browser's widgets or from API clients (gradio_client, raw HTTP), which
can send anything: text, NaN, infinity, 1e308, 2.5 where a whole number is needed. The app's
number widgets (NumberInput, SliderInput) pass the value on exactly as sent, so that these
checks, not Gradio's, decide: the same readable message reaches the browser and an API
client (as a gr.Error / AppError), nothing fractional is silently rounded, and nothing
non-numeric ends as Gradio's generic "upstream app raised an exception".
"""

import math

import gradio as gr

from ..settings import shown
from .errors import AppError


def as_sent(payload):
    """A widget's preprocess that hands the value on exactly as the browser or API client sent it."""
    return payload


def NumberInput(*args, **kwargs):  # noqa: N802 - used like the gr.Number it returns
    """gr.Number whose value reaches the handler as sent (no rounding, no range check of Gradio's own).

    Leave minimum/maximum unset: the browser would refuse an out-of-range value without telling
    the server, and the check here could not show its message. (A subclass of gr.Number would
    do the same, but Gradio writes a .pyi file beside any module that defines a component.)
    """
    box = gr.Number(*args, **kwargs)
    box.preprocess = as_sent
    return box


def SliderInput(*args, **kwargs):  # noqa: N802
    """gr.Slider whose value reaches the handler as sent, to be checked by the functions below."""
    slider = gr.Slider(*args, **kwargs)
    slider.preprocess = as_sent
    return slider


ALL_DIGITS = "all"
DIGIT_CHOICES = [("all", ALL_DIGITS)] + [(str(digit), str(digit)) for digit in range(10)]
ONE_DIGIT_CHOICES = [(str(digit), str(digit)) for digit in range(10)]


def whole_number(value, what, low, high):
    """value as an int in [low, high], or an AppError saying what is expected (2.5 is refused, not rounded)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = None
    ok = number is not None and not isinstance(value, bool) and math.isfinite(number) and number.is_integer()
    if not ok or not low <= number <= high:
        raise AppError(f"{what} must be a whole number from {low:,} to {high:,}, not {shown(value)}.")
    return int(number)


def number_in(value, what, low, high, low_included=True):
    """value as a finite float in [low, high] (or (low, high] when low_included=False), or an AppError."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = None
    above_low = number is not None and (number >= low if low_included else number > low)
    if number is None or isinstance(value, bool) or not math.isfinite(number) or not above_low or number > high:
        lowest = f"from {low:g}" if low_included else f"above {low:g}"
        raise AppError(f"{what} must be a number {lowest} to {high:g}, not {shown(value)}.")
    return number


def digit_or_none(choice):
    """"all" (or empty) -> None; "0" ... "9" -> that digit as an int."""
    if choice in (None, "", ALL_DIGITS):
        return None
    return whole_number(choice, "The digit", 0, 9)
