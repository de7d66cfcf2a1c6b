"""Turn problems into messages a student understands, never a traceback.

Every event handler in the app is wrapped with @friendly: the engine's own errors
(a missing dataset, a bad seed, a broken checkpoint, ...) already explain what is wrong
and what to do, so their message becomes a red gr.Error pop-up as is. Anything
unexpected is logged with its traceback on the server and shown as a short, honest
message; either way the app keeps running.
"""

import functools
import inspect
import logging

import gradio as gr

from ..user_errors import USER_ERRORS as ENGINE_ERRORS

log = logging.getLogger("genai.ui")


class AppError(Exception):
    """A mistake made in the app (unknown model name, an upload that is not an image, ...)."""


# The engine's user errors (genai/user_errors.py, the CLI's list too) plus mistakes made in the app.
USER_ERRORS = (AppError, *ENGINE_ERRORS)


def as_gradio_error(error):
    """The gr.Error to show for an exception raised while handling an event."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, USER_ERRORS):
        return gr.Error(str(error), print_exception=False)
    log.exception("Unexpected error in the genai app")
    return gr.Error(
        f"Something unexpected went wrong ({type(error).__name__}: {error}). "
        "The app is still running; the details are in the server log.",
        print_exception=False,
    )


def friendly(function):
    """Decorate an event handler (plain or generator) so that errors reach the user as gr.Error."""
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from function(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - every error becomes a message, by design
                raise as_gradio_error(error) from None

        return generator_wrapper

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001
            raise as_gradio_error(error) from None

    return wrapper
