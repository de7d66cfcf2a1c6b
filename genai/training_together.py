"""Several students' runs of one model train together: the steps they are ready to take at the same
moment are computed in one batched step (genai/stacked_step.py), each run still learning exactly
what it would learn alone.

Why: on a GPU a small model's step is dozens of tiny kernels, and the GPU spends more time starting
them than running them; a class of students training the same small GAN would queue many times as
many tiny kernels. Batched with torch.func.vmap, K models' matching layers run as one larger kernel:
the aim is a class on one GPU training in about the time of one run (not measured yet: no GPU was
available when this was built; benchmarks/together_speed.py measures it).

How, from one run's side: each run is the one training loop (genai/train.py), in its own thread
(a web app's request handler). Where the loop would call model.training_step(...), it calls
TrainingTogether.training_step(...) instead, which hands the step to the run's group: the runs of one
family, architecture, config, batch size and device (group_key). The runs of the group that are ready
at that moment take that step together:

    run A's thread:  ... batch A ─┐                               ┌─ A's losses ... batch A' ...
    run B's thread:  ... batch B ─┼─ one batched step of A, B, C ─┼─ B's losses ...
    run C's thread:  ... batch C ─┘  (C's thread leads it)        └─ C's losses ...

The first run to arrive leads (as genai/ui/batching.py does for sampling): it waits a moment for
the runs that stepped with it last time (as long as that step took to compute, and GATHER_SECONDS
at the most, so waiting never costs more than the step itself), takes whoever is ready then,
computes their step and hands each run its losses. A run that is not ready (paused in step mode,
stopped, drawing a preview, gone) is never waited for longer than that moment, and after missing
one step it is not waited for at all until it comes back: so no run ever waits on another's pause,
and nothing can deadlock. A late run is not left behind either: the steps handed in while a step
is computed are all taken by the next one. A run alone at its moment takes its plain training_step.

What stays each run's own, so that it learns exactly what it would alone: its batch (its loop drew
it, from its own batch order), its noise (drawn from its own generator, in training_step's order),
its optimizers (its learning rate, its Adam moments: each run's gradients go to its own weights and
its own optimizer steps them). A GAN's two updates (D, then G against the new D) are two rounds of
the same members. Only the last bits of float rounding may differ (a batched product adds in another
order); tests/test_training_together.py checks runs in threads against solo runs.

A GAN's diagnostics (the live histogram of what D said of each image) come from its last step too,
batched or not: the batched step hands each model what its training_step would keep on it
(FunctionalStep.keep).

When: GENAI_STACK_RUNS (genai/environment.py): unset, on for runs on a CUDA device only (on a CPU,
runs side by side use all its cores and were faster: docs/benchmarks.md, "Stacked training"); 1 on
for every device (the tests turn it on for the CPU); 0 off. Models that cannot stack
(stacked_step.stacking_problem: the DCGAN's BatchNorm, the LSTM, a GAN with R1) and runs of several
processes (torchrun) never group. The web app also lets the runs of one group share one training
slot (genai/ui/training_slots.py).
"""

import json
import threading
import time
from dataclasses import dataclass, field

import torch

from .environment import value
from .stacked_step import stack_copies, stacking_problem, step_together

__all__ = ["GATHER_SECONDS", "TrainingTogether", "group_key", "run_group", "stacking_on"]

GATHER_SECONDS = 0.02  # the most a leader waits for the runs that stepped with it last time

_changed = threading.Condition()  # guards every group; notified when a run arrives, leaves or a step ends
_groups = {}  # group key -> Group: the runs of that kind under way now


def stacking_on(device):
    """Whether runs on `device` train together: GENAI_STACK_RUNS, or, unset, on CUDA only."""
    setting = value("GENAI_STACK_RUNS")
    if setting is None:
        return torch.device(device).type == "cuda"
    return setting > 0


def group_key(model, batch_size, device):
    """What runs must share to step together (family, architecture, config, batch size, device), or None
    for a run that always steps alone (stacking off here, or a model that cannot stack)."""
    if not stacking_on(device) or stacking_problem(model):
        return None
    return model.family, model.arch, config_key(model), batch_size, str(torch.device(device))


def run_group(family, arch, options, batch_size, device):
    """group_key of the run that will train create_model(family, arch, **options), before it is built:
    the web app asks it to let the runs of one group share a training slot."""
    if not stacking_on(device):
        return None
    from .models import ModelError, create_model  # (here: the loop's side needs no registry)

    try:
        with torch.device("meta"):  # the layers and config, without allocating a weight
            model = create_model(family, arch, **options)
    except ModelError:
        return None  # (settings the run itself will refuse, saying why)
    return group_key(model, batch_size, device)


def config_key(model):
    return json.dumps(model.config.to_dict(), sort_keys=True)


@dataclass
class Request:
    """One run's step, handed to its group: what the step reads and changes, and, once taken, its losses."""

    run: object  # the run's TrainingTogether
    model: object
    images: torch.Tensor
    labels: torch.Tensor
    optimizers: dict
    rng: torch.Generator
    done: threading.Event = field(default_factory=threading.Event)
    losses: dict = None
    error: Exception = None


class Group:
    """The runs of one kind under way now, and the steps they have handed in."""

    def __init__(self):
        self.runs = 0  # runs that joined and have not left
        self.ready = []  # Requests not taken yet
        self.leading = False  # a leader will take them
        self.computing = False  # a leader computes a step now
        self.in_step = set()  # the runs of the last step: the next leader waits a moment for them
        self.step_seconds = GATHER_SECONDS  # how long the last step took to compute: the most that moment lasts

    def step(self, request):
        """Hand in one run's step; returns its losses once a leader (perhaps this very call) took it."""
        with _changed:
            self.ready.append(request)
            leading, self.leading = not self.leading, True
            _changed.notify_all()
        if leading:
            self.lead()
        request.done.wait()  # a leader is on its way: it sets done whatever happens
        if request.error is not None:
            raise request.error
        return request.losses

    def lead(self):
        """Take the steps handed in (waiting a moment for the runs of the last step), and compute them."""
        with _changed:
            _changed.wait_for(lambda: not self.computing)  # the step under way ends soon: its runs come back after it
            _changed.wait_for(lambda: self.in_step <= {r.run for r in self.ready},
                              timeout=min(self.step_seconds, GATHER_SECONDS))
            requests, self.ready, self.leading, self.computing = self.ready, [], False, True
            self.in_step = {r.run for r in requests}
        started = time.perf_counter()
        try:
            take_steps(requests)
        finally:
            with _changed:
                self.computing, self.step_seconds = False, time.perf_counter() - started
                _changed.notify_all()
            for request in requests:
                request.done.set()


def take_steps(requests):
    """Each request's step: one batched step per config (a live knob may have turned one run's beta),
    a plain training_step for a run alone; every error reaches the runs it concerns."""
    by_config = {}
    for request in requests:
        by_config.setdefault(config_key(request.model), []).append(request)
    for part in by_config.values():
        try:
            if len(part) == 1:
                one = part[0]
                one.losses = one.model.training_step(one.images, one.labels, one.optimizers, one.rng)
                continue
            models = [r.model for r in part]
            losses = step_together(models, [r.optimizers for r in part], [(r.images, r.labels) for r in part],
                                   [r.rng for r in part], lambda: stack_copies(models))  # each reads its weights now
            for request, own in zip(part, losses):
                request.losses = own
        except Exception as error:  # noqa: BLE001 - each run of this part hears about it, in its own thread
            for request in part:
                request.error = error


class TrainingTogether:
    """The training loop's side: its step, taken with the other runs of its group where it has one.

    train() makes one per run and calls leave() when the run ends, however it ends. team: the run's
    torchrun team (several processes already share each step their own way: such a run never groups).
    """

    def __init__(self, team=None):
        self.team = team
        self.group, self.key = None, None
        self.decided = False  # the group is looked up at the run's first step (the batch tells its size)

    def training_step(self, model, images, labels, optimizers, rng):
        """model.training_step(images, labels, optimizers, rng), alone or together with other runs."""
        if not self.decided:
            self.decided = True
            key = group_key(model, images.shape[0], images.device) if self.team is None else None
            if key is not None:
                with _changed:
                    self.group, self.key = _groups.setdefault(key, Group()), key
                    self.group.runs += 1
        if self.group is None:
            return model.training_step(images, labels, optimizers, rng)
        return self.group.step(Request(self, model, images, labels, optimizers, rng))

    def leave(self):
        """The run is over: its group waits for it no more (and is forgotten with its last run)."""
        if self.group is None:
            return
        with _changed:
            self.group.in_step.discard(self)
            self.group.runs -= 1
            if self.group.runs == 0 and _groups.get(self.key) is self.group:
                del _groups[self.key]
            self.group = None
            _changed.notify_all()
