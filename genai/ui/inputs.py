"""Reading form values: whole numbers and digit choices, with clear messages when they are wrong.

Values come from the browser's widgets or from API clients (gradio_client), which can
send anything; everything is checked here or by the engine before it is used.
"""

from .errors import AppError

ALL_DIGITS = "all"
DIGIT_CHOICES = [("all", ALL_DIGITS)] + [(str(digit), str(digit)) for digit in range(10)]
ONE_DIGIT_CHOICES = [(str(digit), str(digit)) for digit in range(10)]


def whole_number(value, what, low, high):
    """value as an int in [low, high], or an AppError saying what is expected."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not number.is_integer():
        raise AppError(f"{what} must be a whole number from {low:,} to {high:,}, not {value!r}.")
    if not low <= number <= high:
        raise AppError(f"{what} must be from {low:,} to {high:,}, not {int(number):,}.")
    return int(number)


def seconds_number(value, what, cap):
    """value as a finite number of seconds in (0, cap], or an AppError (NaN and infinity included)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not 0 < number <= cap:  # NaN fails every comparison
        raise AppError(f"{what} must be a number of seconds above 0 and at most {cap:g}, not {value!r}.")
    return number


def digit_or_none(choice):
    """"all" (or empty) -> None; "0" ... "9" -> that digit as an int."""
    if choice in (None, "", ALL_DIGITS):
        return None
    return whole_number(choice, "The digit", 0, 9)
