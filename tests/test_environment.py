"""The environment variables are declared once (genai/environment.py): the code reads them from there, and
docs/server.md's tables are written from there (genai/docs_sections.py, which also writes docs/api.md's
settings from genai/settings.py)."""

import logging
import re
from pathlib import Path

import pytest

from genai import docs_sections, environment
from genai.environment import VARIABLES, Variable, value

REPO = Path(__file__).resolve().parents[1]


def sources():
    return [REPO / "app.py", *sorted((REPO / "genai").rglob("*.py"))]


def test_the_written_parts_of_the_docs_are_the_ones_the_declarations_give():
    assert docs_sections.out_of_date() == [], "run python -m genai.docs_sections"


def test_the_api_reference_lists_the_train_forms_settings_in_their_order_with_their_ranges():
    from genai.settings import SETTINGS

    text = (docs_sections.DOCS / "api.md").read_text()
    form = [name for name, setting in SETTINGS.items() if setting.label]
    places = [text.index(f"| {i}. `{name}` |") for i, name in enumerate(form, 1)]
    assert places == sorted(places)
    assert "| `guidance_scale` |" in text and "a number from 0 to 20" in text  # the Sample tab's range, not 0-10


def test_a_lost_marker_is_said_plainly():
    with pytest.raises(ValueError, match="lost its marker lines"):
        docs_sections.with_section("api.md", "a page someone rewrote by hand")


def test_every_variable_the_code_names_is_declared_and_none_is_read_around_the_declarations():
    named, read_directly = set(), []
    for path in sources():
        text = path.read_text()
        named |= set(re.findall(r"\bGENAI_[A-Z_]+[A-Z]\b", text))
        if path.name != "environment.py":
            read_directly += [f"{path.name}: {line.strip()}" for line in text.splitlines()
                              if re.search(r"environ(\.get)?[(\[]\s*[\"']GENAI_", line)]
    assert named - set(VARIABLES) == set()
    assert read_directly == []  # each is read through environment.value, which knows its default and range


def test_a_value_is_read_and_a_bad_one_gives_the_default_with_one_warning(monkeypatch, caplog):
    monkeypatch.setenv("GENAI_SESSION_MAX_MODELS", " 7 ")
    assert value("GENAI_SESSION_MAX_MODELS") == 7
    monkeypatch.setenv("GENAI_MAX_TRAIN_SECONDS", "90.5")
    assert value("GENAI_MAX_TRAIN_SECONDS") == 90.5
    for bad in ["lots", "2.5", "0", "-3", "nan"]:
        monkeypatch.setenv("GENAI_SESSION_MAX_MODELS", bad)
        with caplog.at_level(logging.WARNING, logger="genai.environment"):
            caplog.clear()
            assert value("GENAI_SESSION_MAX_MODELS") == 5
            assert value("GENAI_SESSION_MAX_MODELS") == 5
        warnings = [record.getMessage() for record in caplog.records]
        assert len(warnings) <= 1  # once per bad text, not on every read
    monkeypatch.setenv("GENAI_FILE_TTL_SECONDS", "59")  # below its least value
    assert value("GENAI_FILE_TTL_SECONDS") == 600
    monkeypatch.setenv("GENAI_MAX_TRAIN_SECONDS", "inf")
    assert value("GENAI_MAX_TRAIN_SECONDS") == 600.0
    monkeypatch.setenv("GENAI_TRUSTED_PROXY", "0")  # 0 is allowed where the least value is 0
    assert value("GENAI_TRUSTED_PROXY") == 0


def test_the_warning_says_what_is_wrong_and_quotes_little(monkeypatch, caplog):
    monkeypatch.setenv("GENAI_MAX_CALL_KB", "x" * 5000)
    with caplog.at_level(logging.WARNING, logger="genai.environment"):
        assert value("GENAI_MAX_CALL_KB") == 64
    (message,) = [record.getMessage() for record in caplog.records]
    assert "GENAI_MAX_CALL_KB" in message and "whole number of at least 1" in message and "64" in message
    assert len(message) < 200


def test_defaults_that_follow_another_variable_follow_it(monkeypatch):
    monkeypatch.setenv("GENAI_TRAIN_CONCURRENCY", "4")
    assert value("GENAI_TRAIN_MEMORY_MB") == environment.TRAINING_MEMORY_MB // 4
    monkeypatch.setenv("GENAI_MAX_UPLOAD_MB", "9")
    assert value("GENAI_MAX_REQUEST_MB") == 10
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert value("GENAI_TRUSTED_PROXY") == 0
    monkeypatch.setenv("SPACE_ID", "someone/genai")
    assert value("GENAI_TRUSTED_PROXY") == 1


def test_folders_are_paths_and_an_unset_one_is_its_default(monkeypatch, tmp_path):
    monkeypatch.setenv("GENAI_CHECKPOINTS_DIR", str(tmp_path))
    assert value("GENAI_CHECKPOINTS_DIR") == tmp_path
    monkeypatch.delenv("GENAI_CHECKPOINTS_DIR")
    assert value("GENAI_CHECKPOINTS_DIR") == environment.REPO_ROOT / "checkpoints"
    monkeypatch.setenv("GENAI_DATA_DIR", "")
    assert value("GENAI_DATA_DIR") is None


def test_a_variable_declared_once_reaches_the_docs_and_the_code(monkeypatch):
    made_up = Variable("GENAI_MADE_UP_LIMIT", "visitors", "a limit made up by this test", default=11, minimum=3)
    monkeypatch.setitem(VARIABLES, made_up.name, made_up)
    assert "| `GENAI_MADE_UP_LIMIT` | a limit made up by this test (at least 3) | 11 |" in docs_sections.server_tables()
    monkeypatch.setenv("GENAI_MADE_UP_LIMIT", "12")
    assert value("GENAI_MADE_UP_LIMIT") == 12
    with pytest.raises(KeyError):
        value("GENAI_NEVER_DECLARED")
