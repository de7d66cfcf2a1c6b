"""Going on with a saved run: what training needs, beyond the weights, to continue exactly.

The weights alone do not make a run. Adam keeps two running averages for every weight (of its
gradient, m, and of the gradient squared, v) and a step count t, and moves each weight by

    w <- w - lr * m_hat / (sqrt(v_hat) + eps),    m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)

so restarting from the weights with m = v = 0 would take different steps. The run also owns two
random generators (the batch order and the training noise; see train.py) and counts the updates
of its moving average of the weights (whose warm-up depends on that count). A RunState keeps all
of it, saved beside the model as training_state.safetensors (tensors, and JSON in the file's
metadata: no pickle), so that training 1,000 steps and then 1,000 more gives the very weights of
2,000 steps in one go.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

STATE_FILE = "training_state.safetensors"


class RunStateError(ValueError):
    """A saved run that cannot be continued, explained for a human."""


@dataclass
class RunState:
    step: int  # steps trained so far (the next step is step + 1)
    seconds: float  # wall time trained so far, all sessions together
    images: int  # the size of the dataset the run learns from
    batch_size: int
    lr: float  # the run's learning rate (as live knobs may have left it)
    order_rng: torch.Tensor  # the batch-order generator, as it stood before the next step's epoch was shuffled
    noise_rng: torch.Tensor  # the training-noise generator, as it stands now
    optimizers: dict = field(default_factory=dict)  # name -> optimizer.state_dict()
    ema_updates: int | None = None  # updates of the moving average of the weights, if the model keeps one

    def check_fits(self, images, batch_size, total_steps, several_processes=False):
        """A saved run continues only as it was: in one process, on a dataset of the same size, with the same
        batch size, and with a step budget (total_steps, counted from the run's start; None: none) beyond it."""
        if several_processes:
            raise RunStateError("A run of several processes (torchrun) cannot be continued from a saved state: "
                                "continue it in one process.")
        if self.images != images:
            raise RunStateError(f"The saved run learned from {self.images:,} images, this dataset has {images:,}: "
                                "continue it on the same data (the same --limit).")
        if self.batch_size != batch_size:
            raise RunStateError(f"The saved run used batches of {self.batch_size}, not {batch_size}: "
                                "continue it with its own batch size.")
        if total_steps is not None and total_steps <= self.step:
            raise RunStateError(f"The saved run has already trained {self.step:,} steps; the budget counts from its "
                                f"start, so give more than that (it ends at {total_steps:,}).")

    def restore(self, model, optimizers, order_rng, noise_rng):
        """Put the optimizers, generators and the moving average's count back as they were saved."""
        if set(optimizers) != set(self.optimizers):
            raise RunStateError(f"The saved run has optimizers {sorted(self.optimizers)}, this model "
                                f"{sorted(optimizers)}: it is not the same kind of model.")
        for name, optimizer in optimizers.items():
            try:
                optimizer.load_state_dict(self.optimizers[name])
            except (ValueError, KeyError, RuntimeError) as error:
                raise RunStateError(f"The saved state of the {name} optimizer does not fit this model ({error}).") from None
        order_rng.set_state(self.order_rng)
        try:
            noise_rng.set_state(self.noise_rng.to(noise_rng.get_state().device))
        except RuntimeError as error:
            raise RunStateError(f"The saved training-noise generator does not fit this device ({error}): "
                                "go on on the device the run started on.") from None
        if self.ema_updates is not None and hasattr(model, "ema_updates"):
            model.ema_updates = self.ema_updates


def save_run_state(state, directory):
    """Write state to directory/training_state.safetensors."""
    tensors = {"rng/order": state.order_rng.cpu(), "rng/noise": state.noise_rng.cpu()}
    layout = {}  # what the tensors are: optimizer name -> its param_groups and which tensors hold its state
    for name, saved in state.optimizers.items():
        names = {}
        for index, values in saved["state"].items():
            for key, value in values.items():
                tensor_name = f"optimizer/{name}/{index}/{key}"
                tensors[tensor_name] = torch.as_tensor(value).detach().cpu().contiguous()
                names.setdefault(str(index), []).append(key)
        layout[name] = {"param_groups": saved["param_groups"], "state": names}
    facts = {"step": state.step, "seconds": state.seconds, "images": state.images, "batch_size": state.batch_size,
             "lr": state.lr, "ema_updates": state.ema_updates}
    save_file(tensors, Path(directory) / STATE_FILE,
              metadata={"run": json.dumps(facts), "optimizers": json.dumps(layout)})


def load_run_state(directory):
    """The RunState saved in directory; RunStateError if there is none or it is damaged."""
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise RunStateError(
            f"{directory} has no {STATE_FILE}, so its run cannot be continued exactly: only `python -m genai "
            "train` saves it (models from the app, the Hub or checkpoints/ keep their weights only). "
            "Train a new model instead.")
    try:
        with safe_open(path, framework="pt") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}
        facts, layout = json.loads(metadata["run"]), json.loads(metadata["optimizers"])
        optimizers = {}
        for name, part in layout.items():
            state = {int(index): {key: tensors[f"optimizer/{name}/{index}/{key}"] for key in keys}
                     for index, keys in part["state"].items()}
            optimizers[name] = {"state": state, "param_groups": part["param_groups"]}
        return RunState(step=int(facts["step"]), seconds=float(facts["seconds"]), images=int(facts["images"]),
                        batch_size=int(facts["batch_size"]), lr=float(facts["lr"]),
                        order_rng=tensors["rng/order"], noise_rng=tensors["rng/noise"], optimizers=optimizers,
                        ema_updates=facts.get("ema_updates"))
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise RunStateError(f"{path} is damaged and cannot be read ({str(error)[:200]}): the run cannot be "
                            "continued. Train a new model instead.") from None
