"""The web app's settings: defaults for the Train tab and limits read from the environment.

Environment variables (all optional):

    GENAI_CHECKPOINTS_DIR     folder of pretrained models (default: checkpoints/ next to app.py)
    GENAI_TRAIN_CONCURRENCY   how many trainings may run at once on this server (default 2)
    GENAI_MAX_TRAIN_SECONDS   the longest one training run may take, in seconds (default 600)
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# What the Train tab starts with per model family is genai.recipes.RECIPES (the CLI's defaults too).
PREVIEW_SECONDS = 2.0  # refresh the live sample grid this often while training
PREVIEW_SEED = 0  # the fixed noise behind every preview: learners watch the same digits sharpen
SEED_SLIDER_MAX = 1000  # the slider covers 0..1000; the number box takes any 32-bit seed


def env_int(name, default, minimum=1):
    """A whole number from the environment, or the default when unset or not a number >= minimum."""
    text = os.environ.get(name, "").strip()
    try:
        value = int(text)
    except ValueError:
        return default
    return value if value >= minimum else default


def env_seconds(name, default):
    text = os.environ.get(name, "").strip()
    try:
        value = float(text)
    except ValueError:
        return default
    return value if value > 0 else default


def checkpoints_dir():
    """Where the pretrained models live: $GENAI_CHECKPOINTS_DIR, else checkpoints/ in the repository."""
    env = os.environ.get("GENAI_CHECKPOINTS_DIR", "").strip()
    return Path(env).expanduser() if env else REPO_ROOT / "checkpoints"


def train_concurrency():
    return env_int("GENAI_TRAIN_CONCURRENCY", 2)


def max_train_seconds():
    return env_seconds("GENAI_MAX_TRAIN_SECONDS", 600.0)
