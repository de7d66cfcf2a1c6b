"""Parts of docs/ written from the code's own declarations, so that they cannot drift from it:

- docs/server.md: the environment variables (declared in genai/environment.py);
- docs/api.md: the arguments of /train and the sampling settings, with their ranges and defaults
  (declared in genai/settings.py).

Each part sits between two marker lines of its page. `python -m genai.docs_sections` rewrites the
parts; with `--check` it only says which are out of date (a test runs the same check).
docs/cli.md is written whole by genai/cli_reference.py.
"""

import re
import sys
from pathlib import Path

from .environment import GROUPS, VARIABLES, default
from .models import ARCHS, FAMILIES
from .sampling import SAMPLING_SETTINGS
from .settings import SETTINGS, value_text

DOCS = Path(__file__).resolve().parents[1] / "docs"

# Read by Gradio itself, not by genai; listed so that the server's table is the whole story.
GRADIO_VARIABLES = {
    "GRADIO_SERVER_NAME": ("the address to listen on (`0.0.0.0`: every network interface)", "`127.0.0.1`"),
    "GRADIO_SERVER_PORT": ("the port to listen on", "`7860`"),
}


def shown_default(variable):
    """A variable's default as the docs show it: its own words, else the value (3,600)."""
    if variable.shown:
        return variable.shown
    value = default(variable)
    return f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)


def least(variable):
    """The words " (at least 60)" for a variable whose least value is more than the usual 1."""
    return f" (at least {variable.minimum:g})" if variable.type is not Path and variable.minimum > 1 else ""


def server_tables():
    """docs/server.md's environment variables: one table per group, Gradio's two in the first."""
    parts = []
    for group, title in GROUPS.items():
        rows = ["| variable | what it sets | default |", "|---|---|---|"]
        if group == "data":
            rows += [f"| `{name}` | {text} | {shown} |" for name, (text, shown) in GRADIO_VARIABLES.items()]
        rows += [f"| `{v.name}` | {v.help}{least(v)} | {shown_default(v)} |"
                 for v in VARIABLES.values() if v.group == group]
        parts.append(f"### {title}\n\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def default_words(setting):
    """"per family: gan 0.001, vae 0.002", "64", "empty: no step limit" or "the model's own"."""
    if setting.recipe:
        return "per family: " + ", ".join(f"{family} {value_text(v)}" for family, v in setting.recipe.items())
    if setting.default is not None:
        return value_text(setting.default)
    return f"empty: {setting.empty_means}" if setting.empty_means else "the model's own"


def values_words(setting):
    """What a good value is; the model registry, not the settings table, knows the families and architectures."""
    if setting.name == "family":
        return "one of " + ", ".join(FAMILIES)
    if setting.name == "arch":
        return "per family: " + "; ".join(f"{family}: {', '.join(archs)}" for family, archs in ARCHS.items())
    return setting.wanted()


def setting_row(setting, first_column):
    return f"| {first_column} | {setting.help} | {values_words(setting)} | {default_words(setting)} |"


def api_tables():
    """docs/api.md's settings: /train's arguments in their order, and the sampling settings."""
    header = ["| argument | what it sets | values | default |", "|---|---|---|---|"]
    form = [setting for setting in SETTINGS.values() if setting.label]
    train = header + [setting_row(s, f"{i}. `{s.name}`") for i, s in enumerate(form, 1)]
    sampling = header + [setting_row(SETTINGS[name], f"`{name}`") for name in SAMPLING_SETTINGS]
    return ("### The arguments of /train\n\nIn this order; the Train form's fields are the same settings.\n\n"
            + "\n".join(train) + "\n\n### Sampling settings\n\nThe last two arguments of /sample and /drawing; "
            "a model that does not draw in steps, or has nothing to guide by, ignores them.\n\n"
            + "\n".join(sampling) + "\n")


SECTIONS = {"server.md": ("genai/environment.py", server_tables), "api.md": ("genai/settings.py", api_tables)}


def markers(page):
    source = SECTIONS[page][0]
    return (f"<!-- Written by `python -m genai.docs_sections` from {source}: edit that file, not this part. -->\n",
            "<!-- End of the written part. -->\n")


def with_section(page, text):
    """The page's text with its written part replaced by the current one."""
    begin, end = markers(page)
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"docs/{page} has lost its marker lines (genai/docs_sections.py): put them back")
    return pattern.sub(lambda _: begin + "\n" + SECTIONS[page][1]() + "\n" + end, text)


def out_of_date():
    """The pages whose written part differs from what the declarations give."""
    return [page for page in SECTIONS if with_section(page, (DOCS / page).read_text()) != (DOCS / page).read_text()]


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        stale = out_of_date()
        sys.exit(f"out of date: {', '.join(stale)}; run python -m genai.docs_sections" if stale else 0)
    for page in SECTIONS:
        (DOCS / page).write_text(with_section(page, (DOCS / page).read_text()))
        print(f"wrote the generated part of docs/{page}")
