"""How the app's errors reach the user and the log (genai/ui/errors.py)."""

import logging

import pytest

gr = pytest.importorskip("gradio")

from genai.ui.errors import LOGGED_CHARS, AppError, friendly, quiet_input_checks  # noqa: E402


def refusals(caplog):
    return [record.getMessage() for record in caplog.records if record.name == "genai.ui"]


def test_a_refused_input_is_one_line_without_traceback_tokens_or_the_whole_value(caplog):
    @friendly
    def handler(text):
        raise AppError(f"The seed must be a whole number,\nnot {text!r} (token hf_abcdefghijkl).")

    caplog.set_level(logging.INFO)
    with pytest.raises(gr.Error) as refused:
        handler("x" * 10_000)
    assert refused.value.print_exception is False  # Gradio prints no traceback for it
    [line] = refusals(caplog)
    assert line.startswith("Refused handler: The seed must be a whole number, not 'xxx") and "\n" not in line
    assert len(line) <= len("Refused handler: ") + LOGGED_CHARS + 3 and "hf_abcdefghijkl" not in line
    assert all(record.exc_info is None for record in caplog.records)


def test_an_unexpected_error_keeps_its_traceback_in_the_log(caplog):
    @friendly
    def handler():
        raise ZeroDivisionError("a bug")

    with pytest.raises(gr.Error, match="Something unexpected went wrong"):
        handler()
    [record] = [record for record in caplog.records if record.name == "genai.ui"]
    assert record.exc_info is not None and not record.getMessage().startswith("Refused")


def test_gradios_own_check_of_an_input_is_one_line_naming_its_endpoints(caplog):
    with gr.Blocks() as demo:
        digit = gr.Radio(["0", "1"], value="0")
        out = gr.Textbox()
        digit.change(lambda d: d, digit, out, api_name="sample")
        digit.input(lambda d: d, digit, out, api_name="drawing")
    quiet_input_checks(demo)
    assert digit.preprocess("1") == "1"
    with pytest.raises(gr.Error) as refused:
        digit.preprocess("eleven")
    assert refused.value.print_exception is False
    assert refusals(caplog) == [f"Refused /sample or /drawing: {refused.value.message}"]
