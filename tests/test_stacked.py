"""Stacked training (genai/stacked.py): K models trained together in one batched step end with the weights
the one training loop gives each of them alone, and models that cannot stack are refused with a reason.

"Equal" for float weights, trained with Adam: Adam divides each gradient by its own root mean square
(plus eps = 1e-8), so each step moves almost every weight by about the learning rate, whatever the
gradient's size. A batched product adds in another order than a single one, which changes the last
bits of a gradient; for the rare weight whose gradient is about 1e-8 (a pixel that is nearly always
black), that changes its step by a visible share of lr. So the test asks: each weight tensor
typically (its median) within a thousandth of one step of its solo value, the whole model on average
too, and all but 0.1% of its numbers within a hundredth of a step. A real mistake (another model's
batches or noise, a wrong learning rate, G updated against the old D, a moving average left behind)
moves nearly every number of some tensor by about a step, and fails.
"""

import pytest
import torch

from genai.data import load_dataset
from genai.models import create_model
from genai.stacked import StackingError, stacking_problem, train_stacked
from genai.train import TrainSettings, train

STEPS, BATCH = 2, 8
SEEDS, LRS = (0, 1, 2), (1e-3, 5e-4, 2e-3)  # each model its own seed and learning rate

# Every family that can stack, with what its config may add (labels, a moving average, InfoGAN's
# categories); the convolutional ones kept narrow so that the file runs in seconds.
STACKABLE = {
    "gan-mlp-categories-ema": ("gan", "mlp", {"categories": 10, "ema_decay": 0.99}),
    "vae-mlp-conditional": ("vae", "mlp", {"conditional": True}),
    "vae-conv": ("vae", "conv", {"channels": 8}),
    # (16 channels, not 8: with one channel per GroupNorm group, a bias added before the norm has a gradient of
    # exactly 0, which rounding makes 1e-9 of either sign, and Adam turns into a step of either sign)
    "diffusion-unet-conditional-ema": ("diffusion", "unet", {"conditional": True, "ema_decay": 0.99}),
    "autoregressive-pixelcnn-conditional": ("autoregressive", "pixelcnn", {"conditional": True, "channels": 8,
                                                                          "layers": 2}),
}


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=1000)


def settings(k):
    return TrainSettings(max_steps=STEPS, batch_size=BATCH, seed=SEEDS[k], lr=LRS[k], preview_images=0)


def build(family, arch, options, k):
    return create_model(family, arch, seed=100 + k, **options)  # each its own initial weights too


def assert_same_weights(stacked, solo, lr):
    """The check the module docstring explains, for every weight tensor (buffers included)."""
    theirs = solo.state_dict()
    differences = []
    for name, mine in stacked.state_dict().items():
        diff = (mine.float() - theirs[name].float()).abs().flatten()
        assert diff.median() <= lr / 1000, f"{name}: typically {diff.median():.3g} from its solo value, lr {lr:g}"
        differences.append(diff)
    diff = torch.cat(differences)
    assert diff.mean() <= lr / 1000, f"the weights differ by {diff.mean():.3g} on average, lr {lr:g}"
    off = int((diff > lr / 100).sum())
    assert off <= 1e-3 * len(diff), f"{off} of {len(diff)} numbers differ by more than a hundredth of a step"


@pytest.mark.parametrize("case", STACKABLE)
def test_three_stacked_models_learn_what_each_learns_alone(mnist, case):
    family, arch, options = STACKABLE[case]
    solo = []
    for k in range(3):
        model = build(family, arch, options, k)
        events = list(train(model, mnist, settings(k)))
        assert events[-1].step == STEPS
        solo.append(model)
    stacked = [build(family, arch, options, k) for k in range(3)]
    start = [{name: tensor.clone() for name, tensor in model.state_dict().items()} for model in stacked]

    run = train_stacked(stacked, mnist, [settings(k) for k in range(3)])

    assert run.steps == STEPS
    for k in range(3):
        assert_same_weights(stacked[k], solo[k], LRS[k])
        # Not a vacuous match: the weights moved, by about lr per step (Adam), each at its own lr.
        moved = max(float((tensor - start[k][name]).abs().max()) for name, tensor in stacked[k].state_dict().items()
                    if tensor.is_floating_point())
        assert STEPS * LRS[k] / 2 < moved < 4 * STEPS * LRS[k]
        assert set(run.losses[k]) >= set(stacked[k].plotted_losses)


def test_a_stop_ends_every_run_after_the_current_step_as_in_the_solo_loop(mnist):
    import threading

    stop = threading.Event()
    stop.set()
    models = [build("vae", "mlp", {}, k) for k in range(2)]
    run = train_stacked(models, mnist, [settings(k) for k in range(2)], stop=stop)
    assert run.steps == 1
    assert [event.step for event in train(build("vae", "mlp", {}, 0), mnist, settings(0), stop=stop)][-1] == 1


def test_stacked_models_can_still_be_trained_and_saved_alone(mnist):
    """After a stacked run each model owns its weights again: training one leaves the others as they were."""
    models = [build("vae", "mlp", {}, k) for k in range(2)]
    train_stacked(models, mnist, [settings(k) for k in range(2)])
    other = {name: tensor.clone() for name, tensor in models[1].state_dict().items()}
    list(train(models[0], mnist, settings(0)))
    assert all(torch.equal(tensor, other[name]) for name, tensor in models[1].state_dict().items())


@pytest.mark.parametrize("kinds, message", [
    ([("gan", "mlp", {}), ("vae", "mlp", {})], "one family and architecture: model 0 is a MLP GAN, model 1 a MLP VAE"),
    ([("vae", "mlp", {}), ("vae", "conv", {"channels": 8})], "one family and architecture"),
    ([("vae", "mlp", {}), ("vae", "mlp", {"beta": 2.0})], "model 1 differs from model 0 in beta"),
    ([("gan", "dcgan", {"channels": 8})] * 2, "BatchNorm"),
    ([("autoregressive", "lstm", {"hidden_size": 8})] * 2, "LSTM"),
    ([("gan", "mlp", {"r1_gamma": 1.0})] * 2, "R1 penalty"),
])
def test_models_that_cannot_stack_are_refused_with_the_reason(mnist, kinds, message):
    models = [build(family, arch, options, k) for k, (family, arch, options) in enumerate(kinds)]
    before = [{name: tensor.clone() for name, tensor in model.state_dict().items()} for model in models]
    with pytest.raises(StackingError, match=message):
        train_stacked(models, mnist, [settings(k) for k in range(len(models))])
    for model, weights in zip(models, before):  # refused before anything changed
        assert all(torch.equal(tensor, weights[name]) for name, tensor in model.state_dict().items())


def test_runs_that_cannot_march_in_step_are_refused(mnist):
    models = [build("gan", "mlp", {}, k) for k in range(2)]
    with pytest.raises(StackingError, match="one batch size"):
        train_stacked(models, mnist, [settings(0), TrainSettings(max_steps=STEPS, batch_size=32)])
    with pytest.raises(StackingError, match="same number of steps"):
        train_stacked(models, mnist, [settings(0), TrainSettings(max_steps=STEPS + 1, batch_size=BATCH)])
    with pytest.raises(StackingError, match="one TrainSettings per model"):
        train_stacked(models, mnist, [settings(0)])


def test_stacking_problem_says_which_models_can_stack():
    assert stacking_problem(create_model("gan", "mlp")) is None
    assert stacking_problem(create_model("vae", "conv", channels=8)) is None
    assert stacking_problem(create_model("autoregressive", "pixelcnn", channels=8, layers=1)) is None
    assert "BatchNorm" in stacking_problem(create_model("gan", "dcgan", channels=8))
