"""The web app's settings: defaults for the Train tab, and the server's limits.

The limits come from environment variables, each declared once (name, default, least value, help)
in genai/environment.py, which also writes docs/server.md's tables of them. Each function below
names what one of them is for.
"""

from .. import environment
from ..environment import value

# What the Train tab starts with per model family is genai.recipes.RECIPES (the CLI's defaults too).
PREVIEW_SECONDS = 2.0  # refresh the live sample grid this often while training
PREVIEW_SEED = 0  # the fixed noise behind every preview: learners watch the same digits sharpen
SEED_SLIDER_MAX = 1000  # the slider covers 0..1000; the number box takes any 32-bit seed
TRAIN_WAITING_PLACES = 20  # runs that may wait (visibly, cancellably) for a training slot; more wait in Gradio's queue
REPO_ROOT = environment.REPO_ROOT


def checkpoints_dir():
    """Where the pretrained models live: $GENAI_CHECKPOINTS_DIR, else checkpoints/ in the repository."""
    return value("GENAI_CHECKPOINTS_DIR")


def compute_concurrency():
    """How many forward passes (sampling, interpolation, encoding) run at once: one per CPU core by default.

    More at once only makes them share the cores and all finish later (genai/ui/compute.py).
    """
    return value("GENAI_COMPUTE_CONCURRENCY")


def request_concurrency():
    """How many sampling / interpolation requests Gradio handles at once (the rest wait in its queue).

    Higher than compute_concurrency: a request is mostly not computing (reading, answering from the
    cache, sending the picture), and only its forward pass waits for a compute slot. Gradio's queue is
    first come, first served: with room for a class's long requests (each waits inside for its compute
    slot), a cheap one (a GAN's grid) still gets in at once and goes first there (compute.py).
    """
    return 12 * compute_concurrency()


def train_concurrency():
    return value("GENAI_TRAIN_CONCURRENCY")


def train_memory_mb():
    """The memory one run may take (genai/costs.py estimates it before the run starts)."""
    return value("GENAI_TRAIN_MEMORY_MB")


def max_train_seconds():
    return value("GENAI_MAX_TRAIN_SECONDS")


def max_pause_seconds():
    return value("GENAI_MAX_PAUSE_SECONDS")


def file_ttl_seconds():
    return value("GENAI_FILE_TTL_SECONDS")


def max_upload_mb():
    return value("GENAI_MAX_UPLOAD_MB")


def session_max_models():
    return value("GENAI_SESSION_MAX_MODELS")


def session_max_mb():
    return value("GENAI_SESSION_MAX_MB")


def session_grace_seconds():
    return value("GENAI_SESSION_GRACE_SECONDS")


def session_ttl_seconds():
    return value("GENAI_SESSION_TTL_SECONDS")


def trusted_proxy_hops():
    """How many proxies in front of the app extend X-Forwarded-For (genai/ui/visitors.py says how it is read).

    A Hugging Face Space (SPACE_ID set) has one; run elsewhere the header is ignored unless this says
    otherwise, so nobody names themselves another visitor."""
    return value("GENAI_TRUSTED_PROXY")


def runs_per_visitor():
    """Runs one visitor (a client address) may have training or waiting. A class behind one school router shares
    one address on the Internet: raise it (and GENAI_HEAVY_PER_VISITOR) to the class's size there."""
    return value("GENAI_RUNS_PER_VISITOR")


def heavy_per_visitor():
    """Forward passes one visitor may have computing at once (genai/ui/compute.py)."""
    return value("GENAI_HEAVY_PER_VISITOR")


def heavy_waiting_per_visitor():
    return value("GENAI_HEAVY_WAITING_PER_VISITOR")


def max_sessions():
    """Sessions kept across all visitors (a class of 30, each with a few tabs and reloads, fits well inside)."""
    return value("GENAI_MAX_SESSIONS")


def max_request_mb():
    """The largest upload request, all parts together: one upload of the largest file, with room for its form."""
    return value("GENAI_MAX_REQUEST_MB")


def max_request_parts():
    """Parts of one upload request: the app's uploads send one file, the sketchpad a blob and 4 fields."""
    return value("GENAI_MAX_REQUEST_PARTS")


def upload_mb_per_minute():
    return value("GENAI_UPLOAD_MB_PER_MINUTE")


def uploads_per_minute():
    return value("GENAI_UPLOADS_PER_MINUTE")


def max_call_kb():
    """The largest API call that is not an upload: an event's inputs are numbers, choices, names and ids."""
    return value("GENAI_MAX_CALL_KB")
