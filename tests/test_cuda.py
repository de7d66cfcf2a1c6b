"""The GPU path: runs only where PyTorch sees a CUDA device (skipped on CPU-only machines and in CI)."""

import numpy as np
import pytest
import torch

from genai.checkpoints import load_model, save_model
from genai.data import load_dataset
from genai.models import create_model
from genai.sampling import interpolate, sample
from genai.train import TrainSettings, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@pytest.mark.parametrize("family, arch", [("gan", "mlp"), ("gan", "dcgan"), ("vae", "mlp"), ("vae", "conv")])
def test_training_runs_on_cuda_with_finite_losses(mnist_dir, family, arch):
    dataset = load_dataset("mnist", data_dir=mnist_dir).to("cuda")
    model = create_model(family, arch, seed=0).to("cuda")
    events = list(train(model, dataset, TrainSettings(epochs=1, max_steps=60, log_every=20)))
    assert events[-1].done and events[-1].reason == "finished"
    assert all(np.isfinite(v) for e in events[:-1] for v in e.losses.values())
    assert next(model.parameters()).is_cuda


@pytest.mark.parametrize("family, arch", [("gan", "mlp"), ("vae", "conv")])
def test_same_seed_same_digits_on_cpu_and_cuda(tmp_path, family, arch):
    model = create_model(family, arch, seed=1)
    save_model(model, tmp_path / "m")
    on_cpu, _ = load_model(tmp_path / "m", "cpu")
    on_gpu, _ = load_model(tmp_path / "m", "cuda")
    a = sample(on_cpu, seed=42, n=16).astype(int)
    b = sample(on_gpu, seed=42, n=16).astype(int)
    # The noise is identical (drawn on the CPU); the arithmetic differs only in rounding (TF32 on GPU).
    assert np.abs(a - b).mean() < 2.0
    frames_cpu = interpolate(on_cpu, 1, 2, steps=8).astype(int)
    frames_gpu = interpolate(on_gpu, 1, 2, steps=8).astype(int)
    assert np.abs(frames_cpu - frames_gpu).mean() < 2.0
