"""The settings table (genai/settings.py) is the one place a setting is declared: the command line,
the checks, the Train tab's form, the knobs, --resume and the saved record all come from it."""

import json
from pathlib import Path

import pytest

from genai import settings
from genai.settings import SETTINGS, Setting, SettingsError, check_values

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def warmth(monkeypatch):
    """A throwaway run setting, declared once, the way a new one would be."""
    setting = Setting("warmth", "number", "how warm the run feels", 0, 10, default=5.0, scope="run",
                      label="Warmth of the run")
    monkeypatch.setitem(SETTINGS, "warmth", setting)
    return setting


def test_a_setting_declared_once_reaches_the_help_the_checks_the_form_and_the_saved_record(warmth, mnist_dir, tmp_path,
                                                                                           capsys):
    import gradio as gr

    from genai.__main__ import build_parser, main
    from genai.ui.errors import AppError
    from genai.ui.train_form import build_form, checked_form

    train_help = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "--warmth X" in train_help and "how warm the run feels; a number from 0 to 10 (default: 5.0)" in " ".join(
        train_help.split())

    with pytest.raises(SettingsError, match="warmth must be a number from 0 to 10, not 11"):
        check_values({"warmth": 11})
    with pytest.raises(AppError, match="Warmth of the run must be a number from 0 to 10, not 11"):
        checked_form({"family": "gan", "arch": "dcgan", "seconds": 5, "warmth": 11}, cap=60)
    assert main(["train", "--warmth", "11", "--out", str(tmp_path / "refused")]) == 2
    assert "--warmth must be a number from 0 to 10, not '11'" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()

    with gr.Blocks():
        fields = build_form("gan", cap=60)
    assert fields["warmth"].label == "Warmth of the run" and fields["warmth"].value == 5.0

    out = tmp_path / "warm"
    assert main(["train", "--warmth", "7", "--max-steps", "1", "--limit", "256", "--data-dir", str(mnist_dir),
                 "--device", "cpu", "--out", str(out)]) == 0
    record = json.loads((out / "config.json").read_text())["training"]
    assert record["chosen"]["warmth"] == 7.0


def test_every_bad_value_is_named_at_once_and_empty_is_called_empty():
    with pytest.raises(SettingsError) as error:
        check_values({"batch_size": "1", "lr": None, "seed": 2.5, "conditional": "yes"},
                     name_of=lambda setting: setting.cli_flag)
    assert str(error.value) == (
        "--batch-size must be a whole number from 2 to 4,096, not '1'. --lr is empty: give a number above 0 and at "
        "most 1. --seed must be a whole number from 0 to 4,294,967,295, not 2.5. --conditional must be true or false, "
        "not 'yes'.")
    assert check_values({"batch_size": "64", "lr": "1e-3", "max_steps": None}) == {"batch_size": 64, "lr": 1e-3,
                                                                                    "max_steps": None}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "ten", "x" * 10**6, 10**400],
                         ids=["nan", "inf", "true", "text", "a-megabyte", "10^400"])
def test_a_bad_value_is_quoted_short(value):
    with pytest.raises(SettingsError) as error:
        check_values({"lr": value})
    assert len(str(error.value)) < 150


def test_the_cli_reference_in_docs_is_the_one_the_parser_writes():
    from genai.cli_reference import reference

    assert (REPO / "docs" / "cli.md").read_text() == reference(), \
        "docs/cli.md is out of date: python -m genai.cli_reference > docs/cli.md"


def test_resume_refuses_exactly_the_settings_the_table_keeps_fixed():
    from genai.__main__ import SAVED_WITH_THE_RUN

    assert {"--model", "--arch", "--batch-size", "--lr", "--seed", "--conditional", "--no-conditional",
            "--dataset", "--limit", "--beta"} <= set(SAVED_WITH_THE_RUN)
    assert not {"--time-limit", "--max-steps", "--epochs"} & set(SAVED_WITH_THE_RUN)


def test_the_knobs_are_the_live_settings_the_model_has():
    from genai.knobs import live_settings
    from genai.models import create_model

    assert live_settings(create_model("gan", "mlp")) == ["lr", "d_lr_ratio"]
    assert live_settings(create_model("vae", "mlp")) == ["lr", "beta"]
    assert live_settings(create_model("diffusion", "unet", channels=8)) == ["lr"]


def test_the_sample_tab_takes_its_ranges_from_the_table():
    from genai.ui.sample_tab import SAMPLING_CONTROLS

    for name, (_, low, high, _) in SAMPLING_CONTROLS.items():
        assert (low, high) == (SETTINGS[name].low, SETTINGS[name].high), name


def test_the_retired_settings_are_no_settings_any_more():
    assert not set(settings.RETIRED) & set(SETTINGS)


def test_a_model_card_lists_the_models_settings_with_the_tables_help():
    from genai.model_card import model_card
    from genai.settings import SETTINGS

    metadata = {"family": "vae", "arch": "mlp", "config": {"latent_dim": 16, "conditional": False, "beta": 3.0}}
    card = model_card("vae-test", metadata, None)
    assert f"| `latent_dim` | 16 | {SETTINGS['latent_dim'].help} |" in card
    assert "| `conditional` | false |" in card and "| `beta` | 3 |" in card
