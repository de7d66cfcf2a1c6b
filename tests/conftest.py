"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest

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
