"""Turn problems into messages a student understands, never a traceback.

Every event handler in the app is wrapped with @friendly: the engine's own errors
(a missing dataset, a bad seed, a broken checkpoint, ...) already explain what is wrong
and what to do, so their message becomes a red gr.Error pop-up as is. Anything
unexpected is logged with its traceback on the server and shown as a short, honest
message; either way the app keeps running. A refused input is logged as one short line
(which endpoint, what the user was told), never a traceback: a class sending bad values
must not fill the log.
"""

import functools
import inspect
import logging
import re

import gradio as gr

from ..user_errors import USER_ERRORS as ENGINE_ERRORS

log = logging.getLogger("genai.ui")
LOGGED_CHARS = 300  # a refusal's log line is cut here (messages quote what was sent, which may be long)
TOKEN = re.compile(r"hf_[A-Za-z0-9]{6,}")  # Hugging Face access tokens never reach the log


class AppError(Exception):
    """A mistake made in the app (unknown model name, an upload that is not an image, ...)."""


# The engine's user errors (genai/user_errors.py, the CLI's list too) plus mistakes made in the app.
USER_ERRORS = (AppError, *ENGINE_ERRORS)


def current_endpoint(function):
    """The API name of the event being handled ("/sample"), as Gradio's context knows it; else the handler's name."""
    try:
        from gradio.context import LocalContext

        event = LocalContext.blocks.get()._queue.event_ids_to_events[LocalContext.event_id.get()]
        if event.fn.api_name:
            return f"/{event.fn.api_name}"
    except (LookupError, AttributeError, TypeError):  # not inside an event, or another Gradio version
        pass
    return getattr(function, "__name__", "an event")


def log_refusal(where, message):
    """One short line in the log for an input the app refused: where (the endpoint) and what the user was told."""
    line = TOKEN.sub("hf_***", " ".join(str(message).split()))
    if len(line) > LOGGED_CHARS:
        line = line[:LOGGED_CHARS] + "..."
    log.warning("Refused %s: %s", where, line)


def quiet_input_checks(demo):
    """Gradio's own checks of an input (a value that is not one of a Radio's choices, ...) end with a
    traceback in the log; make each of them one line, as the app's own refusals are. Call once the
    page is built: every input learns the endpoints it is sent to."""
    endpoints = {}
    for fn in demo.fns.values():
        for block in fn.inputs:
            if fn.api_name and fn.api_visibility != "private":
                endpoints.setdefault(block._id, []).append(f"/{fn.api_name}")
    for block in demo.blocks.values():
        if hasattr(block, "preprocess") and block._id in endpoints:
            block.preprocess = refused_quietly(block.preprocess, " or ".join(dict.fromkeys(endpoints[block._id])))


def refused_quietly(preprocess, where):
    """preprocess, with a gr.Error it raises logged in one line and shown without a traceback."""
    @functools.wraps(preprocess)
    def checked(payload):
        try:
            return preprocess(payload)
        except gr.Error as error:
            log_refusal(where, error.message)
            error.print_exception = False
            raise

    return checked


def as_gradio_error(error, function=None):
    """The gr.Error to show for an exception raised while handling an event (by `function`)."""
    if isinstance(error, gr.Error):
        log_refusal(current_endpoint(function), error.message)
        error.print_exception = False
        return error
    if isinstance(error, USER_ERRORS):
        log_refusal(current_endpoint(function), error)
        return gr.Error(str(error), print_exception=False)
    log.exception("Unexpected error in the genai app")
    return gr.Error(
        f"Something unexpected went wrong ({type(error).__name__}: {error}). "
        "The app is still running; the details are in the server log.",
        print_exception=False,
    )


def friendly(function):
    """Decorate an event handler (plain, generator or coroutine) so that errors reach the user as gr.Error."""
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def coroutine_wrapper(*args, **kwargs):
            try:
                return await function(*args, **kwargs)
            except Exception as error:  # noqa: BLE001
                raise as_gradio_error(error, function) from None

        return coroutine_wrapper
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from function(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - every error becomes a message, by design
                raise as_gradio_error(error, function) from None

        return generator_wrapper

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001
            raise as_gradio_error(error, function) from None

    return wrapper
