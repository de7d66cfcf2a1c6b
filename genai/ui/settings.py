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
    GENAI_TRUSTED_PROXY       how many proxies in front of the app write X-Forwarded-For: the visitor is the
                              address that many from its right (genai/ui/visitors.py); 0 ignores the header
                              (default 1 on a Hugging Face Space, where SPACE_ID is set, else 0)
    GENAI_RUNS_PER_VISITOR    runs one visitor may have training or waiting for a slot (default 1)
    GENAI_HEAVY_PER_VISITOR   forward passes one visitor may have computing at once; the rest wait their turn,
                              round robin across visitors (default 1)
    GENAI_HEAVY_WAITING_PER_VISITOR  ... and waiting for their turn; more are refused at once (default 4)
    GENAI_MAX_SESSIONS        sessions kept across all visitors; the least recently used is freed first,
                              Gradio's own session store too (default 300)
    GENAI_MAX_REQUEST_MB      the largest request to /gradio_api/upload or the sketchpad's component_server,
                              in MB, all its parts together (default GENAI_MAX_UPLOAD_MB + 1)
    GENAI_MAX_REQUEST_PARTS   parts one such request may hold (default 8)
    GENAI_UPLOAD_MB_PER_MINUTE   what one visitor may upload (/gradio_api/upload) in a minute, in MB (default 30)
    GENAI_UPLOADS_PER_MINUTE     ... and in how many requests (default 1,000: a sketchpad uploads as the pen moves)
    GENAI_MAX_CALL_KB         the largest body of any other API call (an event's inputs), in KB (default 64)
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
    cache, sending the picture), and only its forward pass waits for a compute slot. Gradio's queue is
    first come, first served: with room for a class's heavy requests (each waits inside for its compute
    slot), a light one (a GAN's grid) still gets in at once and goes first there (compute.py).
    """
    return 12 * compute_concurrency()


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


def trusted_proxy_hops():
    """How many proxies in front of the app extend X-Forwarded-For (genai/ui/visitors.py says how it is read).

    A Hugging Face Space (SPACE_ID set) has one; run elsewhere the header is ignored unless this says
    otherwise, so nobody names themselves another visitor."""
    return env_int("GENAI_TRUSTED_PROXY", 1 if os.environ.get("SPACE_ID") else 0, minimum=0)


def runs_per_visitor():
    """Runs one visitor (a client address) may have training or waiting. A class behind one school router shares
    one address on the Internet: raise it (and GENAI_HEAVY_PER_VISITOR) to the class's size there."""
    return env_int("GENAI_RUNS_PER_VISITOR", 1)


def heavy_per_visitor():
    """Forward passes one visitor may have computing at once (genai/ui/compute.py)."""
    return env_int("GENAI_HEAVY_PER_VISITOR", 1)


def heavy_waiting_per_visitor():
    return env_int("GENAI_HEAVY_WAITING_PER_VISITOR", 4)


def max_sessions():
    """Sessions kept across all visitors (a class of 30, each with a few tabs and reloads, fits well inside)."""
    return env_int("GENAI_MAX_SESSIONS", 300)


def max_request_mb():
    """The largest upload request, all parts together: one upload of the largest file, with room for its form."""
    return env_int("GENAI_MAX_REQUEST_MB", max_upload_mb() + 1)


def max_request_parts():
    """Parts of one upload request: the app's uploads send one file, the sketchpad a blob and 4 fields."""
    return env_int("GENAI_MAX_REQUEST_PARTS", 8)


def upload_mb_per_minute():
    return env_int("GENAI_UPLOAD_MB_PER_MINUTE", 30)


def uploads_per_minute():
    return env_int("GENAI_UPLOADS_PER_MINUTE", 1_000)


def max_call_kb():
    """The largest API call that is not an upload: an event's inputs are numbers, choices, names and ids."""
    return env_int("GENAI_MAX_CALL_KB", 64)
