"""Packaging: every package genai imports is declared, pyproject.toml and requirements.txt agree,
the console script exists, and the README puts the CPU-only install first."""

import ast
import sys
import tomllib
from pathlib import Path

from genai.__main__ import main

REPO = Path(__file__).resolve().parents[1]
IMPORT_TO_DISTRIBUTION = {"PIL": "pillow"}  # import names that differ from their package's name
OPTIONAL = {"spaces"}  # ZeroGPU's package, used only when a Space has it (genai/ui/gpu.py)


def requirement_names(lines):
    names = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name = line.split(";")[0]
            for separator in "<>=!~[ ":
                name = name.split(separator)[0]
            names[name.lower().replace("_", "-")] = line.replace(" ", "")
    return names


def declared():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    return requirement_names(pyproject["project"]["dependencies"])


def imported_packages():
    """Top-level names of every package imported anywhere in genai/ and app.py (inside functions too)."""
    found = set()
    for path in [REPO / "app.py", *(REPO / "genai").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"genai"}


def test_every_imported_package_is_declared():
    names = {IMPORT_TO_DISTRIBUTION.get(name, name).lower().replace("_", "-") for name in imported_packages()}
    assert names - OPTIONAL <= set(declared()), f"undeclared: {sorted(names - OPTIONAL - set(declared()))}"
    assert {"pandas", "huggingface-hub", "safetensors", "gradio"} <= names  # the scan sees what it should


def test_requirements_txt_matches_pyproject():
    assert requirement_names((REPO / "requirements.txt").read_text().splitlines()) == declared()


def test_floors_match_the_apis_used():
    specs = declared()
    assert specs["gradio"].startswith("gradio>=6")  # Gradio 6 arguments (launch(theme=, css=), api_visibility)
    assert specs["huggingface-hub"].startswith("huggingface_hub>=1")


def test_the_console_script_is_the_cli():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["genai"] == "genai.__main__:main"
    assert callable(main)


def test_the_readme_installs_the_cpu_build_of_torch_first_and_runs_the_venvs_python():
    readme = (REPO / "README.md").read_text()
    quick_start = readme.split("## Quick start")[1].split("\n## ")[0]
    cpu = quick_start.index("download.pytorch.org/whl/cpu")
    assert cpu < quick_start.index("pip install -r requirements.txt")
    commands = [line for line in readme.splitlines() if "-m genai " in line and not line.startswith("|")]
    assert commands and all(".venv/bin/python -m genai " in line or ".venv/bin/torchrun " in line
                            for line in commands), commands
