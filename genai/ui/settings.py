"""The web app's settings: defaults for the Train tab and limits read from the environment.

Environment variables (all optional):

    GENAI_CHECKPOINTS_DIR     folder of pretrained models (default: checkpoints/ next to app.py)
    GENAI_TRAIN_CONCURRENCY   how many trainings may run at once on this server (default 2)
    GENAI_TRAIN_MEMORY_MB     the most memory one run may take, in MB; a run estimated above it is refused
                              (default: TRAINING_MEMORY_MB shared by GENAI_TRAIN_CONCURRENCY runs, 3072 for 2)
    GENAI_MAX_TRAIN_SECONDS   the longest one training run may take, in seconds (default 600)
    GENAI_MAX_PAUSE_SECONDS   how long one run may stay paused in step mode, in all, before it ends (default 900)
    GENAI_COMPUTE_CONCURRENCY sampling / interpolation requests computed at once (default: CPU cores)
    GENAI_SAMPLE_CACHE_MB     memory for recently drawn sample grids, shared by all (default 64)
    GENAI_FILE_TTL_SECONDS    files handed out (images, GIFs, downloads) are deleted after this (default 600)
    GENAI_MAX_UPLOAD_MB       the largest upload accepted, in MB (default 5)
    GENAI_SESSION_MAX_MODELS  models one visitor may keep at once; the oldest goes first (default 5)
    GENAI_SESSION_MAX_MB      megabytes of weights one visitor may keep at once (default 200)
    GENAI_SESSION_GRACE_SECONDS  a visitor's models are freed this long after their last tab closed (default 600)
    GENAI_SESSION_TTL_SECONDS    ... or after this long unused, API clients included (default 3600)
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# What the Train tab starts with per model family is genai.recipes.RECIPES (the CLI's defaults too).
PREVIEW_SECONDS = 2.0  # refresh the live sample grid this often while training
PREVIEW_SEED = 0  # the fixed noise behind every preview: learners watch the same digits sharpen
SEED_SLIDER_MAX = 1000  # the slider covers 0..1000; the number box takes any 32-bit seed
TRAIN_WAITING_PLACES = 20  # runs that may wait (visibly, cancellably) for a training slot; more wait in Gradio's queue
# What the runs training at once may take together on a 16 GB Space, beside the app, every visitor's kept
# models and the forward passes of a class sampling (the sum is in docs/server.md).
TRAINING_MEMORY_MB = 6144


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


def compute_concurrency():
    """How many forward passes (sampling, interpolation, encoding) run at once: one per CPU core by default.

    More at once only makes them share the cores and all finish later (genai/ui/compute.py).
    """
    return env_int("GENAI_COMPUTE_CONCURRENCY", max(1, os.cpu_count() or 1))


def request_concurrency():
    """How many sampling / interpolation requests Gradio handles at once (the rest wait in its queue).

    Higher than compute_concurrency: a request is mostly not computing (reading, answering from the
    cache, sending the picture), and only its forward pass waits for a compute slot.
    """
    return 4 * compute_concurrency() + 4


def train_concurrency():
    return env_int("GENAI_TRAIN_CONCURRENCY", 2)


def train_memory_mb():
    """The memory one run may take (genai/costs.py estimates it before the run starts)."""
    return env_int("GENAI_TRAIN_MEMORY_MB", TRAINING_MEMORY_MB // train_concurrency())


def max_train_seconds():
    return env_seconds("GENAI_MAX_TRAIN_SECONDS", 600.0)


def max_pause_seconds():
    return env_seconds("GENAI_MAX_PAUSE_SECONDS", 900.0)


def file_ttl_seconds():
    return env_int("GENAI_FILE_TTL_SECONDS", 600, minimum=60)


def max_upload_mb():
    return env_int("GENAI_MAX_UPLOAD_MB", 5)


def session_max_models():
    return env_int("GENAI_SESSION_MAX_MODELS", 5)


def session_max_mb():
    return env_int("GENAI_SESSION_MAX_MB", 200)


def session_grace_seconds():
    return env_seconds("GENAI_SESSION_GRACE_SECONDS", 600.0)


def session_ttl_seconds():
    return env_seconds("GENAI_SESSION_TTL_SECONDS", 3600.0)
