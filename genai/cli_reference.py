"""The command-line reference, docs/cli.md, written from the parser (whose `train` flags come from the
settings table, genai/settings.py), so the reference cannot drift from the program.

    python -m genai.cli_reference > docs/cli.md
"""

import argparse
import os

from .__main__ import build_parser

HEADER = """# Command-line reference

Every command of `python -m genai`, as its `--help` prints it. This page is generated:
`python -m genai.cli_reference > docs/cli.md` (a test checks that it is current). The `train`
settings, their ranges and defaults, are declared once in `genai/settings.py`.
"""


def subcommands(parser):
    """name -> parser of each subcommand, in the order they were added."""
    for action in parser._actions:  # argparse keeps no public list of its subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def reference():
    """The whole reference as Markdown, at a fixed width so it reads the same wherever it is written."""
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps --help to the terminal's width
    try:
        parser = build_parser()
        parts = [HEADER, "## python -m genai\n", "```text\n" + parser.format_help().rstrip() + "\n```\n"]
        for name, sub in subcommands(parser).items():
            parts += [f"## python -m genai {name}\n", "```text\n" + sub.format_help().rstrip() + "\n```\n"]
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(parts)


if __name__ == "__main__":
    print(reference(), end="")
