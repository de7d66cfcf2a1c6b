"""Every command in README.md and docs/*.md runs as written.

The shell lines of each fenced code block are read as a shell would split them (`&&` and `;`
separate commands, `#` starts a comment). Then, for each command:

- `python -m genai ... --help` and cheap commands (`sample` / `interpolate` from a shipped checkpoint,
  written into a temporary folder) run with this venv's python and must exit with 0;
- every other `python -m genai ...` (training, eval, the Hub; also after `torchrun ... -m genai`) is
  parsed by genai's own parser without running, so a flag that does not exist fails here;
- the rest (pip, the app, bash scripts, benchmarks) must name files that exist.

The prose of the project's docs is held to the same flags: any `--flag` written there must be one
genai (or the other tool named in the docs) knows. And the README stays a newcomer's guide: at most
200 lines, with its two commands (run the app, run the tests) each on a line of its own, the test
command being the one CI (.ci/run) runs.
"""

import argparse
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import genai.__main__ as cli
from genai.__main__ import build_parser

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]
# The benchmarks' record: its commands are checked, its prose keeps the names of options since removed.
RECORDS = {REPO / "docs" / "benchmarks.md"}
SHELL_BLOCKS = {"bash", "sh", "shell", "console", ""}
PYTHONS = {"python", "python3", ".venv/bin/python", ".venv/bin/python3"}
# Other programs the docs may name: nothing of genai's to check in them.
OTHER_PROGRAMS = {"export", "apt-get", "sudo", "hf", "echo", "mkdir", "cp", "tar", "cd", "git", "gunzip", "ls"}
# Flags of those other programs, allowed in the docs' prose and commands.
OTHER_FLAGS = {"--index-url", "--nproc_per_node", "--nnodes", "--rdzv_backend", "--rdzv_endpoint", "--no-sandbox"}
CHEAP = {"sample", "interpolate"}  # fast enough to run from a shipped checkpoint (a second or two)
TIMEOUT = 60


def code_blocks(path):
    """(language, first line number, text) of each fenced code block."""
    lines = path.read_text().splitlines()
    blocks, opened = [], None
    for number, line in enumerate(lines, 1):
        fence = re.match(r"^\s*```(\w*)", line)
        if fence and opened is None:
            opened = (fence.group(1).lower(), number + 1, [])
        elif line.strip().startswith("```") and opened is not None:
            blocks.append((opened[0], opened[1], "\n".join(opened[2])))
            opened = None
        elif opened is not None:
            opened[2].append(line)
    return blocks


def shell_commands(path):
    """(where, tokens) of every command in the shell blocks of one doc."""
    found = []
    for language, first, text in code_blocks(path):
        if language not in SHELL_BLOCKS:
            continue
        logical, start = "", first
        for number, line in enumerate(text.splitlines(), first):
            if not logical:
                start = number
            if line.rstrip().endswith("\\"):
                logical += line.rstrip()[:-1] + " "
                continue
            logical += line
            lexer = shlex.shlex(logical, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            tokens, logical = list(lexer), ""
            command = []
            for token in tokens + [";"]:
                if token in ("&&", ";", "||"):
                    if command:
                        found.append((f"{path.relative_to(REPO)}:{start}", command))
                    command = []
                else:
                    command.append(token)
    return found


ALL_COMMANDS = [command for doc in DOCS for command in shell_commands(doc)]


def subcommand_flags():
    """{subcommand: its option strings}, from genai's parser."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: {s for a in sub._actions for s in a.option_strings} for name, sub in subparsers.choices.items()}


def check_parses(argv, where):
    """genai's parser accepts argv, or the test fails saying which doc line and why."""
    parser = build_parser()
    errors = []

    def error(message):  # argparse would print the usage and exit; keep the message for the failure
        errors.append(message)
        raise SystemExit(2)

    parser.error = error
    for sub in next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices.values():
        sub.error = error
    try:
        return parser.parse_args(argv)
    except SystemExit as stop:
        pytest.fail(f"{where}: `python -m genai {shlex.join(argv)}` does not parse: "
                    f"{errors[0] if errors else f'exit {stop.code}'}")


def check_train_settings(args, argv, where):
    """A train line's settings pass train's own checks (ranges, the family each option belongs to),
    as `train` checks them before it loads any data; --resume takes no setting the saved run fixes."""
    if args.resume:
        fixed = [flag for flag in cli.SAVED_WITH_THE_RUN if flag in argv]
        assert not fixed, f"{where}: --resume refuses {fixed}"
        return
    try:
        cli.train_options(args)
    except Exception as error:  # CommandError and the settings' own errors: a line that train would refuse
        pytest.fail(f"{where}: `python -m genai {shlex.join(argv)}` is refused: {error}")


def genai_argv(tokens):
    """The arguments after `python -m genai` / `torchrun ... -m genai` / `genai`, or None."""
    for i, token in enumerate(tokens):
        if token == "-m" and i + 1 < len(tokens) and tokens[i + 1] == "genai":
            return tokens[i + 2:]
    if tokens and Path(tokens[0]).name == "genai":
        return tokens[1:]
    return None


def without_env(tokens):
    """Drop leading VAR=value assignments."""
    while tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):
        tokens = tokens[1:]
    return tokens


def is_cheap(argv):
    if "--help" in argv or "-h" in argv:
        return True
    if not argv or argv[0] not in CHEAP or "--checkpoint" not in argv:
        return False
    checkpoint = argv[argv.index("--checkpoint") + 1]
    return (REPO / checkpoint / "config.json").is_file() and "--device" not in argv


def in_tmp(argv, tmp):
    """The command with its --out written into tmp (the same file name)."""
    argv = list(argv)
    if "--out" in argv:
        i = argv.index("--out") + 1
        argv[i] = str(tmp / Path(argv[i]).name)
    return argv


def check_other(tokens, where):
    """A command that is not genai's: the files it names exist, and it is one the docs may use."""
    program = tokens[0]
    name = Path(program).name
    if program in PYTHONS or name in ("python", "python3"):
        rest = tokens[1:]
        if rest[:2] == ["-m", "pytest"]:
            return
        if rest[:2] == ["-m", "venv"]:
            return
        if rest[:1] == ["-m"]:
            module = rest[1]
            assert (REPO / (module.replace(".", "/") + ".py")).is_file() or (REPO / module.replace(".", "/")).is_dir(), \
                f"{where}: no module {module} in the repository"
            return
        assert rest and (REPO / rest[0]).is_file(), f"{where}: {shlex.join(tokens)}: no such script"
        return
    if name in ("pip", "pip3"):
        for i, token in enumerate(tokens):
            if token in ("-r", "--requirement"):
                assert (REPO / tokens[i + 1]).is_file(), f"{where}: {tokens[i + 1]} does not exist"
        return
    if name == "bash":
        assert (REPO / tokens[1]).is_file(), f"{where}: {tokens[1]} does not exist"
        return
    assert name in OTHER_PROGRAMS, (f"{where}: `{shlex.join(tokens)}` is a command this test does not know: "
                                    "teach tests/test_docs_commands.py how to check it")


def test_the_docs_have_commands_to_check():
    wheres = {where.split(":")[0] for where, _ in ALL_COMMANDS}
    assert {"README.md", "docs/training.md", "docs/hub-and-spaces.md"} <= wheres
    assert sum(genai_argv(without_env(tokens)) is not None for _, tokens in ALL_COMMANDS) >= 20


@pytest.mark.parametrize("where,tokens", ALL_COMMANDS, ids=[w for w, _ in ALL_COMMANDS])
def test_every_command_parses_or_names_what_exists(where, tokens):
    tokens = without_env(tokens)
    argv = genai_argv(tokens)
    if argv is None:
        check_other(tokens, where)
        return
    if Path(tokens[0]).name in ("python", "python3") or tokens[0] in PYTHONS:
        assert tokens[1:3] == ["-m", "genai"], f"{where}: {shlex.join(tokens)}"
    if "--help" in argv or "-h" in argv or not argv:
        return  # help: run by test_the_cheap_commands_run
    args = check_parses(argv, where)
    if argv[0] == "train":
        check_train_settings(args, argv, where)


# Runs each command as `python -m genai ARGS` does (runpy, run_name "__main__"), all in one child process of
# this venv's python, so that torch is imported once: each prints {"argv", "code", "output"} as a JSON line.
RUN_EACH = """
import contextlib, io, json, runpy, sys
for argv in json.loads(sys.argv[1]):
    sys.argv, output = ["genai", *argv], io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            runpy.run_module("genai", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    text = output.getvalue()
    print(json.dumps({"argv": argv, "code": code, "output": text[:500] + " ... " + text[-1500:]}), flush=True)
"""


def test_the_cheap_commands_run(tmp_path):
    """--help lines and sampling from a shipped checkpoint, run as written with this venv's python."""
    cheap = {}
    for where, tokens in ALL_COMMANDS:
        argv = genai_argv(without_env(tokens))
        if argv is not None and is_cheap(argv) and Path(tokens[0]).name != "torchrun":
            cheap.setdefault(tuple(argv), where)
    assert any("--help" in argv for argv in cheap) and any(argv and argv[0] in CHEAP for argv in cheap)
    runs = [in_tmp(argv, tmp_path) for argv in cheap]
    done = subprocess.run([sys.executable, "-c", RUN_EACH, json.dumps(runs)], cwd=REPO, capture_output=True,
                          text=True, timeout=TIMEOUT)
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"argv"')]
    assert len(results) == len(runs), f"the commands' process stopped early:\n{done.stderr[-2000:]}"
    for (argv, where), result in zip(cheap.items(), results):
        assert result["code"] == 0, f"{where}: python -m genai {shlex.join(argv)}\n{result['output']}"
        if "--out" in argv:
            written = tmp_path / Path(argv[argv.index("--out") + 1]).name
            assert written.is_file(), f"{where}: python -m genai {shlex.join(argv)} wrote nothing"
        if "--help" in argv:
            assert "usage:" in result["output"], f"{where}: no usage printed"


def test_a_flag_that_does_not_exist_fails():
    """The check above is not a rubber stamp: a made-up or removed option is caught."""
    for argv in (["train", "--model", "gan", "--no-such-flag", "1"], ["train", "--pack", "2"],
                 ["sample", "--checkpoint", "x", "--out", "y.png", "--steps", "3"]):
        with pytest.raises(pytest.fail.Exception, match="does not parse"):
            check_parses(argv, "self-test")
    argv = ["train", "--model", "vae", "--r1-gamma", "1"]  # parses, but R1 is a GAN's option
    with pytest.raises(pytest.fail.Exception, match="is refused"):
        check_train_settings(check_parses(argv, "self-test"), argv, "self-test")


def prose_flags(path):
    """Every --flag written in a doc, outside its code blocks and inside them."""
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9_-]*[a-z0-9]", path.read_text()))


@pytest.mark.parametrize("path", [d for d in DOCS if d not in RECORDS], ids=lambda p: str(p.relative_to(REPO)))
def test_every_flag_the_docs_name_exists(path):
    known = set().union(*subcommand_flags().values()) | OTHER_FLAGS
    unknown = sorted(prose_flags(path) - known)
    assert not unknown, f"{path.relative_to(REPO)} names options that genai does not have: {unknown}"


@pytest.mark.parametrize("path", [d for d in DOCS if d not in RECORDS], ids=lambda p: str(p.relative_to(REPO)))
def test_commands_written_in_the_prose_parse(path):
    """Inline `python -m genai train --model ...` in the text parses; a fragment such as
    `train --resume FOLDER` or `eval --card` names only options of that command."""
    flags = subcommand_flags()
    commands = "|".join(map(re.escape, flags))
    text = path.read_text()
    for match in re.finditer(r"`((?:\.venv/bin/)?python -m genai [^`]+)`", text):
        argv = genai_argv(shlex.split(match.group(1)))
        if argv and "--help" not in argv:
            check_parses(argv, f"{path.relative_to(REPO)} (inline)")
    for match in re.finditer(rf"`(?:{commands}) --[^`]*`", text):
        command, *rest = shlex.split(match.group(0).strip("`"))
        unknown = [t for t in rest if t.startswith("--") and t.split("=")[0] not in flags[command]]
        assert not unknown, f"{path.relative_to(REPO)}: `{match.group(0)}`: {command} has no {unknown}"


def test_python_blocks_are_valid_python():
    for doc in DOCS:
        for language, first, text in code_blocks(doc):
            if language == "python":
                compile(text, f"{doc.relative_to(REPO)}:{first}", "exec")


def slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_the_docs_lead_somewhere():
    for doc in DOCS:
        if doc in RECORDS:
            continue
        for target in re.findall(r"\]\(([^)#\s]*)(#[^)\s]*)?\)", doc.read_text()):
            path, anchor = target
            if path.startswith(("http://", "https://")):
                continue
            linked = (doc.parent / path).resolve() if path else doc
            assert linked.exists(), f"{doc.relative_to(REPO)} links to {path}, which does not exist"
            if anchor and linked.suffix == ".md":
                headings = {slug(line.lstrip("#")) for line in linked.read_text().splitlines() if line.startswith("#")}
                assert anchor[1:] in headings, f"{doc.relative_to(REPO)}: no heading {anchor} in {path or doc.name}"


def test_the_api_page_lists_every_endpoint_of_the_app():
    in_code = set()
    for module in (REPO / "genai" / "ui").glob("*.py"):
        in_code |= set(re.findall(r'api_name="(\w+)"', module.read_text()))
    documented = set(re.findall(r"`/(\w+)`", (REPO / "docs" / "api.md").read_text()))
    assert in_code, "no api_name found in genai/ui: has the app moved?"
    assert documented == in_code, (f"docs/api.md: undocumented {sorted(in_code - documented)}, "
                                   f"no longer in the app {sorted(documented - in_code)}")


# --- The README: a newcomer's guide -------------------------------------------------------


def readme_command_lines():
    """The commands of README code blocks that hold exactly one line."""
    return [text.strip() for language, _, text in code_blocks(README)
            if language in SHELL_BLOCKS and len(text.strip().splitlines()) == 1]


def ci_test_command():
    """The last command of .ci/run: what CI runs once it is set up."""
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.strip().startswith("#")]
    return lines[-1]


def test_the_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; reference material belongs in docs/"
    assert lines[0] == "---" and "app_file: app.py" in lines[:lines.index("---", 1)], "the Spaces front matter comes first"


def test_the_readme_runs_the_app_with_one_command_on_its_own_line():
    runs = [line for line in readme_command_lines() if line.endswith(".venv/bin/python app.py")]
    assert runs, "README.md: a code block of its own with the one line that sets up and runs the app"
    assert "pip install -r requirements.txt" in runs[0] and runs[0].startswith("python3 -m venv .venv")


def test_the_readme_test_command_is_ci_s_on_its_own_line():
    ci = ci_test_command()
    assert ci == ".venv/bin/python -m pytest -q", f".ci/run ends with {ci!r}: update the README and this test"
    ci_text = (REPO / ".ci" / "run").read_text()
    tests = [line for line in readme_command_lines() if line.endswith(ci)]
    assert tests, f"README.md: a code block of its own with the test command, ending in CI's `{ci}`"
    assert "requirements-dev.txt" in ci_text and "pip install -r requirements-dev.txt" in tests[0]
