"""The optional speed-ups of the training step (genai/speedups.py): bf16 autocast and torch.compile.

What they buy is measured by benchmarks/speedups.py, never here. These tests check that each one
trains the same model it would without it, keeps the checkpoint as it is, and that a setting
that does not exist is a clear error.
"""

import math

import pytest
import torch
from torch import nn

from genai import speedups
from genai.checkpoints import load_model, save_model
from genai.data import load_dataset
from genai.models import create_model
from genai.train import TrainingError, TrainSettings, train

from test_cli import cli

EVERY_ARCH = [("gan", "mlp", {}), ("gan", "dcgan", {"conditional": True}), ("vae", "mlp", {}), ("vae", "conv", {}),
              ("diffusion", "unet", {"conditional": True, "ema_decay": 0.99}), ("autoregressive", "pixelcnn", {}),
              ("autoregressive", "lstm", {"conditional": True})]


@pytest.fixture(scope="module")
def tiny_mnist(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, limit=64)


def trained(family, arch, options, dataset, steps=2, **settings):
    model = create_model(family, arch, seed=0, **options)
    last = None
    for last in train(model, dataset, TrainSettings(max_steps=steps, batch_size=8, preview_images=0, **settings)):
        pass
    return model, last


def output_dtypes(model):
    """Record the dtype of every Linear / Conv2d output of the model's trained networks while it runs."""
    seen = set()
    for network in speedups.trained_networks(model):
        for layer in network.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                layer.register_forward_hook(lambda module, inputs, output: seen.add(output.dtype))
    return seen


@pytest.mark.parametrize("family, arch, options", EVERY_ARCH, ids=[f"{f}-{a}" for f, a, _ in EVERY_ARCH])
def test_bf16_trains_every_arch_like_fp32_and_keeps_float32_weights(tiny_mnist, family, arch, options):
    plain, plain_end = trained(family, arch, options, tiny_mnist)
    model = create_model(family, arch, seed=0, **options)
    dtypes = output_dtypes(model)
    last = None
    for last in train(model, tiny_mnist, TrainSettings(max_steps=2, batch_size=8, preview_images=0, precision="bf16")):
        pass
    assert last.reason == "finished"
    assert torch.bfloat16 in dtypes, "the matrix products ran in bfloat16"
    assert {p.dtype for p in model.parameters()} == {torch.float32}, "weights (and the checkpoint) stay float32"
    for name, value in last.losses.items():
        assert math.isfinite(value)
        # bfloat16 keeps ~3 significant digits: the same losses, within a few percent.
        assert value == pytest.approx(plain_end.losses[name], rel=0.05, abs=0.02), name
    moved = [not a.equal(b) for a, b in zip(plain.parameters(), create_model(family, arch, seed=0, **options).parameters())]
    assert any(moved)


def test_fp32_runs_no_matrix_product_in_bfloat16(tiny_mnist):
    model = create_model("vae", "mlp", seed=0)
    dtypes = output_dtypes(model)
    for _ in train(model, tiny_mnist, TrainSettings(max_steps=2, batch_size=8, preview_images=0)):
        pass
    assert dtypes == {torch.float32}


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # torch's own
def test_compiled_training_learns_the_same_weights_and_saves_the_same_checkpoint(tiny_mnist, tmp_path, monkeypatch):
    from torch._dynamo.utils import get_compilation_metrics

    # Dynamo traces the networks for real, but hands the graphs to the "aot_eager" backend instead of
    # generating and building C++ kernels (Inductor: ~25 s on a cold 2-core machine, torch's own business).
    real_compile = torch.compile
    monkeypatch.setattr(speedups.torch, "compile", lambda fn, mode=None: real_compile(fn, backend="aot_eager"))
    eager, _ = trained("vae", "mlp", {}, tiny_mnist, steps=4)
    compilations = len(get_compilation_metrics())
    compiled, last = trained("vae", "mlp", {}, tiny_mnist, steps=4, compile="default")
    assert last.reason == "finished"
    assert len(get_compilation_metrics()) > compilations, "torch.compile really compiled the networks"
    assert speedups.compile_networks(compiled, "default") == 0, "a network is compiled once, not wrapped again"
    assert compiled.state_dict().keys() == eager.state_dict().keys(), "weights keep their names (no _orig_mod.)"
    for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name
    save_model(compiled, tmp_path / "compiled", dataset="mnist", steps=last.step)
    reloaded, _ = load_model(tmp_path / "compiled")
    for a, b in zip(compiled.state_dict().values(), reloaded.state_dict().values()):
        assert a.equal(b)


def test_only_the_trained_networks_are_compiled():
    model = create_model("gan", "mlp", seed=0, ema_decay=0.99)
    assert speedups.trained_networks(model) == [model.generator, model.discriminator]  # not the frozen average


@pytest.mark.parametrize("settings, words", [({"precision": "fp16"}, "bf16"), ({"precision": None}, "fp32"),
                                             ({"compile": "fast"}, "default"), ({"compile": True}, "off")])
def test_unknown_speedup_settings_are_clear_errors(tiny_mnist, settings, words):
    with pytest.raises(TrainingError, match=words):
        next(train(create_model("vae", "mlp"), tiny_mnist, TrainSettings(max_steps=1, **settings)))


def test_cli_records_the_precision_and_refuses_an_unknown_one(mnist_dir, tmp_path):
    code, _, _ = cli("train", "--model", "vae", "--arch", "mlp", "--max-steps", 2, "--batch-size", 8, "--limit", 64,
                     "--data-dir", mnist_dir, "--device", "cpu", "--precision", "bf16", "--out", tmp_path / "bf16")
    assert code == 0
    _, metadata = load_model(tmp_path / "bf16")
    assert metadata["training"]["precision"] == "bf16" and metadata["training"]["compile"] == "off"
    code, _, err = cli("train", "--model", "vae", "--precision", "fp16", "--data-dir", mnist_dir,
                       "--out", tmp_path / "fp16")
    assert code == 2 and "invalid choice: 'fp16'" in err and not (tmp_path / "fp16").exists()


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


def test_a_compiler_that_fails_on_the_model_ends_the_run_with_a_message_saying_what_to_do(tiny_mnist, monkeypatch):
    def broken_compile(fn, mode=None):  # like inductor's AssertionError for the DCGAN on an H200
        def compiled(*args, **kwargs):
            raise AssertionError("expected size 64==64, stride 196==1 at dim=1")
        return compiled
    monkeypatch.setattr(speedups.torch, "compile", broken_compile)
    with pytest.raises(TrainingError, match=r"torch.compile failed on this model \(AssertionError: expected size.*"
                                            r"train without --compile"):
        for _ in train(create_model("vae", "mlp", seed=0), tiny_mnist, TrainSettings(max_steps=2, compile="default")):
            pass


def test_cuda_graphs_are_not_offered_since_they_failed_in_this_loop(tiny_mnist):
    with pytest.raises(TrainingError, match="off, default"):
        next(train(create_model("vae", "mlp"), tiny_mnist, TrainSettings(max_steps=1, compile="reduce-overhead")))


def test_the_train_tab_on_a_gpu_offers_the_gpu_batch_of_the_gan_and_the_cpu_batch_elsewhere(monkeypatch):
    from genai.ui import model_store, train_tab
    monkeypatch.setattr(model_store, "app_device", lambda: torch.device("cuda"))
    gan, vae = train_tab.family_changed("gan"), train_tab.family_changed("vae")
    assert (gan[4], gan[5]) == (1024, pytest.approx(4e-3)) and vae[4] == 64
    monkeypatch.setattr(model_store, "app_device", lambda: torch.device("cpu"))
    assert train_tab.family_changed("gan")[4] == 64


@pytest.mark.parametrize("family, arch, options", EVERY_ARCH)
def test_every_model_updates_its_weights_with_the_fused_adam_on_a_cpu(family, arch, options):
    """One kernel per update for all the weights (1.2-1.3x faster steps for the small models on a CPU)."""
    model = create_model(family, arch, seed=0, **options)
    for optimizer in model.configure_optimizers(1e-3).values():
        assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["fused"] is True
