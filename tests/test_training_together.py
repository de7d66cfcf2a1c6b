"""Runs of one kind that train at the same time take their steps together (genai/training_together.py):
each ends with the weights it would have alone, a run that is paused, stopped or gone is not waited
for, and with stacking off the loop takes its plain steps.

The runs are the one training loop (genai.train), each in its own thread, as in the web app; on this
CPU stacking is off unless GENAI_STACK_RUNS=1, which these tests set. "The same weights" is the
tolerance tests/test_stacked.py explains (a batched product rounds differently in the last bits).
"""

import threading
import time

import pytest
import torch
from test_stacked import assert_same_weights

from genai import training_together
from genai.data import load_dataset
from genai.models import create_model
from genai.stepping import StepControl
from genai.train import TrainSettings, train

STEPS, BATCH = 6, 8
SEEDS, LRS = (0, 1, 2), (1e-3, 5e-4, 2e-3)  # each run its own seed and learning rate


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_dataset("mnist", data_dir=mnist_dir, download=False, limit=1000)


@pytest.fixture
def stacking(monkeypatch):
    """Stacking on for the CPU, and every batched step counted: [the number of runs in it, ...]."""
    monkeypatch.setenv("GENAI_STACK_RUNS", "1")
    sizes = []
    step_together = training_together.step_together

    def counted(models, *rest):
        sizes.append(len(models))
        return step_together(models, *rest)

    monkeypatch.setattr(training_together, "step_together", counted)
    return sizes


def settings(k, steps=STEPS):
    return TrainSettings(max_steps=steps, batch_size=BATCH, seed=SEEDS[k], lr=LRS[k], preview_images=0, log_every=2)


def in_threads(runs):
    """Start each (model, dataset, settings, keywords) as train() in a thread of its own; their events lists."""
    events = [[] for _ in runs]
    threads = [threading.Thread(target=lambda k=k, run=run: events[k].extend(train(*run[:3], **run[3])), daemon=True)
               for k, run in enumerate(runs)]
    for thread in threads:
        thread.start()
    return threads, events


def joined(threads, seconds=120):
    for thread in threads:
        thread.join(seconds)
    return not any(thread.is_alive() for thread in threads)


@pytest.mark.parametrize("family, arch, options", [("gan", "mlp", {"ema_decay": 0.99}), ("vae", "mlp", {})])
def test_runs_in_threads_learn_together_what_each_learns_alone(mnist, stacking, monkeypatch, family, arch, options):
    solo = []
    monkeypatch.setenv("GENAI_STACK_RUNS", "0")
    for k in range(3):
        model = create_model(family, arch, seed=100 + k, **options)
        assert list(train(model, mnist, settings(k)))[-1].step == STEPS
        solo.append(model)
    monkeypatch.setenv("GENAI_STACK_RUNS", "1")
    monkeypatch.setattr(training_together, "GATHER_SECONDS", 1.0)  # (a slow shared CPU: the runs surely meet)
    together = [create_model(family, arch, seed=100 + k, **options) for k in range(3)]

    threads, events = in_threads([(together[k], mnist, settings(k), {}) for k in range(3)])

    assert joined(threads)
    assert 3 in stacking, f"the runs never stepped together: {stacking}"
    for k in range(3):
        assert events[k][-1].reason == "finished" and events[k][-1].step == STEPS
        assert_same_weights(together[k], solo[k], LRS[k])
        # What D said of each image at the last step (a GAN's live histogram), batched or not, as alone.
        mine, alone = together[k].diagnostics(), solo[k].diagnostics()
        assert mine.keys() == alone.keys() and all((mine[name] - alone[name]).abs().mean() < 0.01 for name in mine)
    assert training_together._groups == {}  # the group went with its last run


def test_a_paused_run_is_not_waited_for_and_steps_alone_or_with_the_others_later(mnist, stacking):
    models = [create_model("vae", "mlp", seed=100 + k) for k in range(3)]
    control = StepControl()
    control.pause()  # run 0 stays paused before its first step
    threads, events = in_threads([(models[0], mnist, settings(0, steps=200), {"stepper": control})]
                                 + [(models[k], mnist, settings(k, steps=200), {}) for k in (1, 2)])
    assert joined(threads[1:], seconds=120), "the runs that were not paused waited for the paused one"
    assert events[1][-1].step == events[2][-1].step == 200 and not events[0]
    ticket = control.advance(1)  # the paused run still takes its steps, alone now
    assert control.wait_for(ticket, timeout=30).step == 1
    control.resume()
    assert joined(threads[:1])
    assert events[0][-1].step == 200


def test_a_stopped_run_leaves_its_group_and_the_others_go_on(mnist, stacking):
    stop = threading.Event()
    models = [create_model("gan", "mlp", seed=100 + k) for k in range(3)]
    threads, events = in_threads([(models[0], mnist, settings(0, steps=10_000), {"stop": stop})]
                                 + [(models[k], mnist, settings(k, steps=60), {}) for k in (1, 2)])
    time.sleep(0.5)
    stop.set()
    assert joined(threads)
    assert events[0][-1].reason == "stopped" and events[0][-1].step < 10_000
    assert [events[k][-1].reason for k in (1, 2)] == ["finished", "finished"]
    assert training_together._groups == {}


def test_runs_of_other_kinds_or_batch_sizes_never_step_together(mnist, stacking):
    runs = [(create_model("vae", "mlp", seed=0), mnist, settings(0), {}),
            (create_model("vae", "mlp", seed=1, beta=2.0), mnist, settings(1), {}),
            (create_model("gan", "mlp", seed=2), mnist, settings(2), {}),
            (create_model("vae", "mlp", seed=3), mnist, TrainSettings(max_steps=STEPS, batch_size=16), {}),
            (create_model("gan", "dcgan", seed=4, channels=8), mnist, settings(0), {})]
    keys = {training_together.group_key(model, run.batch_size, "cpu") for model, _, run, _ in runs}
    assert len(keys) == 5 and None in keys  # the DCGAN (BatchNorm) never groups
    threads, events = in_threads(runs)
    assert joined(threads)
    assert stacking == [] and all(run_events[-1].step == STEPS for run_events in events)


def test_with_stacking_off_or_auto_on_a_cpu_a_run_takes_its_plain_steps(mnist, monkeypatch):
    model = create_model("gan", "mlp", seed=0)
    for setting in ("0", ""):  # off, and unset: on for CUDA only
        monkeypatch.setenv("GENAI_STACK_RUNS", setting)
        assert not training_together.stacking_on("cpu")
        assert training_together.group_key(model, BATCH, "cpu") is None
        assert training_together.run_group("gan", "mlp", {}, BATCH, "cpu") is None
    assert training_together.stacking_on(torch.device("cuda"))  # auto: on for CUDA
    monkeypatch.setenv("GENAI_STACK_RUNS", "1")
    assert training_together.run_group("gan", "mlp", {}, BATCH, "cpu") == training_together.group_key(model, BATCH,
                                                                                                       "cpu")
    assert training_together.run_group("gan", "dcgan", {}, BATCH, "cpu") is None


def test_a_run_whose_live_knob_changed_its_config_is_computed_apart_from_its_group(mnist, stacking):
    """A live knob (a VAE's beta) changes one run's config mid-run: the leader batches only runs whose config
    is the same now, and each still takes the step it would take alone."""
    import copy

    from genai.knobs import apply_turn

    models = [create_model("vae", "mlp", seed=100 + k) for k in range(3)]
    optimizers = [model.configure_optimizers(LRS[k]) for k, model in enumerate(models)]
    apply_turn(models[2], optimizers[2], {"beta": 2.0}, LRS[2])  # as KnobTurns does before a step
    alone = [copy.deepcopy(model) for model in models]
    alone_optimizers = [model.configure_optimizers(LRS[k]) for k, model in enumerate(alone)]
    images = mnist.images[:3 * BATCH].unsqueeze(1).float().div(255).view(3, BATCH, 1, 28, 28)
    labels = mnist.labels[:3 * BATCH].view(3, BATCH)
    requests = [training_together.Request(object(), models[k], images[k], labels[k], optimizers[k],
                                          torch.Generator().manual_seed(k)) for k in range(3)]

    training_together.take_steps(requests)

    assert stacking == [2]  # runs 0 and 1 together; run 2 (beta 2) alone
    for k in range(3):
        assert requests[k].error is None
        expected = alone[k].training_step(images[k], labels[k], alone_optimizers[k], torch.Generator().manual_seed(k))
        assert abs(float(requests[k].losses["total"]) - float(expected["total"])) < 1e-4 * abs(float(expected["total"]))
        assert_same_weights(models[k], alone[k], LRS[k])
