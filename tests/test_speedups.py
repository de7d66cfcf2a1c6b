"""The speed-up that pays on a GPU (genai/speedups.py): larger batches with the square-root learning rate.

What it buys is measured by benchmarks/speedups.py, never here. These tests check the rule, the GPU
recipe that uses it, and the fused Adam update every model takes.
"""

import pytest
import torch

from genai import speedups
from genai.models import create_model

EVERY_ARCH = [("gan", "mlp", {}), ("gan", "dcgan", {"conditional": True}), ("vae", "mlp", {}), ("vae", "conv", {}),
              ("diffusion", "unet", {"conditional": True, "ema_decay": 0.99}), ("autoregressive", "pixelcnn", {}),
              ("autoregressive", "lstm", {"conditional": True})]


def test_square_root_rule():
    assert speedups.scaled_lr(1e-3, 64) == pytest.approx(1e-3)
    assert speedups.scaled_lr(1e-3, 256) == pytest.approx(2e-3)
    assert speedups.scaled_lr(1e-3, 1024, base_batch_size=256) == pytest.approx(2e-3)


# --- the recipe on a GPU: the larger batch measured to reach readable digits sooner ---------------


def test_on_a_gpu_the_gan_recipe_takes_batch_1024_with_the_square_root_learning_rate_and_a_faster_d():
    from genai.recipes import recipe
    on_cpu, on_gpu = recipe("gan", "cpu"), recipe("gan", torch.device("cuda"))
    assert (on_cpu["batch_size"], on_cpu["lr"], on_cpu.get("d_lr_ratio", 1.0)) == (64, 1e-3, 1.0)
    assert recipe("gan") == on_cpu
    assert on_gpu["batch_size"] == 1024 and on_gpu["lr"] == pytest.approx(4e-3) and on_gpu["d_lr_ratio"] == 3.0
    changed = ("batch_size", "lr", "d_lr_ratio")
    assert {k: v for k, v in on_gpu.items() if k not in changed} == {k: v for k, v in on_cpu.items() if k not in changed}


def test_families_whose_quality_at_large_batches_is_unmeasured_keep_their_batch_on_a_gpu():
    from genai.recipes import recipe
    for family in ("vae", "autoregressive", "diffusion"):
        assert recipe(family, "cuda") == recipe(family, "cpu")


def test_the_cli_takes_the_gpu_batch_only_when_neither_batch_size_nor_lr_is_given():
    from genai.__main__ import build_parser, train_options
    cuda = torch.device("cuda")
    plain = build_parser().parse_args(["train", "--model", "gan"])
    assert (train_options(plain, cuda)["batch_size"], train_options(plain)["batch_size"]) == (1024, 64)
    own_batch = build_parser().parse_args(["train", "--model", "gan", "--batch-size", "128"])
    assert (train_options(own_batch, cuda)["batch_size"], train_options(own_batch, cuda)["lr"]) == (128, 1e-3)
    own_lr = build_parser().parse_args(["train", "--model", "gan", "--lr", "2e-4"])
    assert (train_options(own_lr, cuda)["batch_size"], train_options(own_lr, cuda)["lr"]) == (64, 2e-4)


def test_the_train_tab_on_a_gpu_offers_the_gpu_batch_of_the_gan_and_the_cpu_batch_elsewhere(monkeypatch):
    from genai.ui import model_store, train_tab

    names = ("batch_size", "lr", "explanation", "code")
    parts = {"fields": {"batch_size": "batch_size", "lr": "lr"}, "knobs": {}, "explanation": "explanation",
             "code": "code"}

    def shown(family):
        updates = train_tab.family_changed(family, parts)
        return {name: updates[name].get("value") if isinstance(updates[name], dict) else updates[name]
                for name in names[:2]}

    monkeypatch.setattr(model_store, "app_device", lambda: torch.device("cuda"))
    assert shown("gan") == {"batch_size": 1024, "lr": pytest.approx(4e-3)} and shown("vae")["batch_size"] == 64
    monkeypatch.setattr(model_store, "app_device", lambda: torch.device("cpu"))
    assert shown("gan")["batch_size"] == 64


@pytest.mark.parametrize("family, arch, options", EVERY_ARCH)
def test_every_model_updates_its_weights_with_the_fused_adam_on_a_cpu(family, arch, options):
    """One kernel per update for all the weights (1.2-1.3x faster steps for the small models on a CPU)."""
    model = create_model(family, arch, seed=0, **options)
    for optimizer in model.configure_optimizers(1e-3).values():
        assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["fused"] is True
