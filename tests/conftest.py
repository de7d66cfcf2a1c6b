"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest


def _cores():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


MAX_WORKERS = 4  # each worker holds PyTorch, the app and its fixtures' models in memory
# The modules whose tests share tests/app_server.py's one app server (it trains, serves pages, counts
# visitors): in parallel, one worker runs them all, in their usual order, so one server runs at a time
# and no module meets another worker's server load. tests/test_imports.py checks this list is complete.
APP_SERVER_MODULES = frozenset({
    "test_app_api.py", "test_browser.py", "test_browser_class.py", "test_browser_projector.py",
    "test_classroom.py", "test_run_link.py", "test_upload_limits.py", "test_visitors.py",
})
APP_SERVER_GROUP = "the test app server's modules"


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: pytest without it runs the suite in one process
def pytest_xdist_auto_num_workers(config):
    """How many workers `-n auto` starts: one per core, at most MAX_WORKERS."""
    return max(1, min(MAX_WORKERS, _cores()))


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's: which worker runs what
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with the app server's modules as one unit: each other module goes whole to a free
    worker, and the biggest units are handed out first. (--dist loadgroup would need xdist_group marks, and
    pytest-xdist 3.8 split marked modules across workers when we tried.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class AppServerModulesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid):
            module = super()._split_scope(nodeid)
            return APP_SERVER_GROUP if Path(module).name in APP_SERVER_MODULES else module

    return AppServerModulesTogether(config, log)


# The suite runs in parallel worker processes (pytest-xdist: pyproject.toml's addopts). Each worker is given
# its share of the cores for PyTorch: two workers of 2 threads each on a 2-core machine spin-wait for each
# other (docs/benchmarks.md, "Noise, and a trap for 2-core machines"). The environment variable reaches what
# the tests start too: the test app server and its trainings, and the CLI in subprocesses.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _threads = max(1, _cores() // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    os.environ["GENAI_CPU_THREADS"] = str(_threads)
    import torch

    torch.set_num_threads(_threads)

# The real MNIST files of the dev/CI machines: ../shared/datasets/mnist next to the repo
# (the complete set: 60,000 training and 10,000 test images with their labels).
SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder with the real MNIST IDX files: $GENAI_DATA_DIR if set, else ../shared/datasets/mnist."""
    env = os.environ.get("GENAI_DATA_DIR")
    path = Path(env).expanduser() if env else SHARED_MNIST
    if not path.is_dir():
        pytest.skip(f"real MNIST not found at {path} (set GENAI_DATA_DIR=/path/to/mnist)")
    return path


@pytest.fixture
def busy_slots(monkeypatch):
    """Every compute slot of the app held (as under load) until the test closes the returned stack."""
    from contextlib import ExitStack

    from genai.ui import compute, settings

    monkeypatch.setattr(compute, "_slots", None)
    stack = ExitStack()
    for _ in range(settings.compute_concurrency()):
        stack.enter_context(compute.compute_slot())
    yield stack
    stack.close()
