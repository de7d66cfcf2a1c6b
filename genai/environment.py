"""Every environment variable genai reads, declared once: name, type, default, least value and help.

The code reads a variable through `value(name)`, and docs/server.md's settings tables are written
from this list (genai/docs_sections.py). A variable that is unset, empty, not a number, or below its least
value gives its default, with one warning in the log, so a typo never stops a class's server.

Defaults that depend on the machine or on another variable are small functions, with `shown` the
words docs/server.md prints for them.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger(__name__)

# What the runs training at once may take together on a 16 GB Space, beside the app, every visitor's kept
# models and the forward passes of a class sampling (the sum is in docs/server.md).
TRAINING_MEMORY_MB = 6144


@dataclass(frozen=True)
class Variable:
    name: str
    group: str
    help: str
    type: type = int  # int, float (a number of seconds, or more) or Path (a folder)
    default: object = None  # the value, or a function of nothing that works it out
    shown: str = ""  # the default as docs/server.md shows it (default: the value itself)
    minimum: float = 1  # numbers below it give the default


def _cores():
    return max(1, os.cpu_count() or 1)


def _cpu_cores_allowed():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


GROUPS = {
    "data": "Data and models",
    "training": "Training",
    "sampling": "Sampling",
    "sessions": "What a visitor keeps",
    "visitors": "Visitors and their limits",
}

VARIABLES = {variable.name: variable for variable in [
    # --- data and models
    Variable("GENAI_DATA_DIR", "data", "the folder with the dataset files ([training.md](training.md#data))",
             type=Path, shown="the cache, then a download"),
    Variable("GENAI_CACHE_DIR", "data", "where downloaded datasets are kept, one folder per dataset",
             type=Path, shown="`~/.cache/genai`"),
    Variable("GENAI_CHECKPOINTS_DIR", "data", "the folder of pretrained models", type=Path,
             default=REPO_ROOT / "checkpoints", shown="`checkpoints/`"),
    # --- training
    Variable("GENAI_TRAIN_CONCURRENCY", "training", "trainings running at once", default=2),
    Variable("GENAI_MAX_TRAIN_SECONDS", "training", "the longest one run may train, in seconds", type=float,
             default=600.0),
    Variable("GENAI_TRAIN_MEMORY_MB", "training",
             "the most memory one run may take, in MB; a run estimated above it is refused (see below)",
             default=lambda: TRAINING_MEMORY_MB // value("GENAI_TRAIN_CONCURRENCY"),
             shown=f"{TRAINING_MEMORY_MB:,} shared by the runs at once: "
                   f"{TRAINING_MEMORY_MB // 2:,} with 2"),
    Variable("GENAI_MAX_PAUSE_SECONDS", "training",
             "how long one run may stay paused in step mode, in all, before it ends (keeping its model)",
             type=float, default=900.0),
    Variable("GENAI_CPU_THREADS", "training", "threads one training uses on a CPU", default=_cpu_cores_allowed,
             shown="1 in the app on a 2-core machine, else one per core"),
    Variable("GENAI_DISTRIBUTED_TIMEOUT", "training",
             "seconds the processes of a distributed run (torchrun) wait for each other", default=120),
    Variable("GENAI_STACK_RUNS", "training",
             "1: runs of one model (family, architecture, settings, batch size) that train at the same time take "
             "their steps together, in one batched step and one training slot, each learning what it would alone "
             "(see below); 0: never",
             default=None, shown="on with CUDA only", minimum=0),
    # --- sampling
    Variable("GENAI_COMPUTE_CONCURRENCY", "sampling", "sampling and other forward passes computed at once",
             default=_cores, shown="one per CPU core"),
    Variable("GENAI_SAMPLE_CACHE_MB", "sampling", "memory for recently drawn grids, shared by all visitors",
             default=64),
    Variable("GENAI_COMPARE_CACHE_MB", "sampling", "memory for recent results of the Compare tab", default=32),
    Variable("GENAI_MAX_REQUEST_SECONDS", "sampling", "the longest one request for digits (a grid, a walk) may "
             "compute, in seconds, predicted before it runs from the model's speed here; a longer one is refused, "
             "saying what fits", type=float, default=10.0, minimum=0.1),
    # --- what a visitor keeps
    Variable("GENAI_FILE_TTL_SECONDS", "sessions", "files handed out (pictures, GIFs, downloads) are deleted "
             "after this many seconds", default=600, minimum=60),
    Variable("GENAI_SESSION_MAX_MODELS", "sessions", "models one visitor may keep at once, all their sessions "
             "together; the oldest goes first", default=5),
    Variable("GENAI_SESSION_MAX_MB", "sessions", "megabytes of weights one visitor may keep at once, all their "
             "sessions together", default=200),
    Variable("GENAI_SESSION_GRACE_SECONDS", "sessions", "a visitor's models are freed this long after their last "
             "tab closed", type=float, default=600.0),
    Variable("GENAI_SESSION_TTL_SECONDS", "sessions", "... or after this long unused (API clients included)",
             type=float, default=3600.0),
    Variable("GENAI_MAX_SESSIONS", "sessions", "sessions kept across all visitors (and in Gradio's store); the "
             "least recently used is freed first", default=300),
    # --- visitors and their limits
    Variable("GENAI_TRUSTED_PROXY", "visitors", "how many proxies in front of the app write `X-Forwarded-For`; "
             "the visitor is the address that many from its right; 0 ignores the header",
             default=lambda: 1 if os.environ.get("SPACE_ID") else 0,
             shown="1 on a Space (`SPACE_ID` set), else 0", minimum=0),
    Variable("GENAI_RUNS_PER_VISITOR", "visitors", "runs one visitor may have training or waiting", default=1),
    Variable("GENAI_HEAVY_PER_VISITOR", "visitors", "forward passes one visitor may have computing at once (the "
             "rest wait their turn: the cheapest for how long it waited goes first, across visitors)", default=1),
    Variable("GENAI_HEAVY_WAITING_PER_VISITOR", "visitors", "... and waiting their turn; more are refused at once",
             default=4),
    Variable("GENAI_MAX_UPLOAD_MB", "visitors", "the largest upload accepted, in MB", default=5),
    Variable("GENAI_MAX_REQUEST_MB", "visitors", "the largest upload request (all its parts) to "
             "`/gradio_api/upload` or `/gradio_api/component_server`, in MB",
             default=lambda: value("GENAI_MAX_UPLOAD_MB") + 1, shown="`GENAI_MAX_UPLOAD_MB` + 1"),
    Variable("GENAI_MAX_REQUEST_PARTS", "visitors", "parts one such request may hold", default=8),
    Variable("GENAI_UPLOAD_MB_PER_MINUTE", "visitors", "megabytes one visitor may upload in a minute", default=30),
    Variable("GENAI_UPLOADS_PER_MINUTE", "visitors", "upload requests one visitor may send in a minute (a "
             "sketchpad uploads as the pen moves)", default=1_000),
    Variable("GENAI_MAX_CALL_KB", "visitors", "the largest body of any other API call (an event's inputs), in KB",
             default=64),
]}

_warned = set()


def parse(variable, text):
    """The variable's value from its text, or None when the text is not one."""
    if variable.type is Path:
        return Path(text).expanduser()
    try:
        number = variable.type(text)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")) or number < variable.minimum:
        return None
    return number


def default(variable):
    return variable.default() if callable(variable.default) else variable.default


def value(name):
    """The value of a declared variable: what the environment says, else its default."""
    variable = VARIABLES[name]  # a KeyError here means: declare it above first
    text = os.environ.get(name, "").strip()
    if text:
        parsed = parse(variable, text)
        if parsed is not None:
            return parsed
        if (name, text) not in _warned:
            _warned.add((name, text))
            kind = "a folder" if variable.type is Path else \
                f"a {'whole ' if variable.type is int else ''}number of at least {variable.minimum:g}"
            log.warning("%s=%.40r is not %s: using the default (%s).", name, text, kind, default(variable))
    return default(variable)
