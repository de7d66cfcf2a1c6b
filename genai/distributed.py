"""Training on several processes (GPUs or CPU cores, one machine or several), started by torchrun.

    torchrun --nproc_per_node 2 -m genai train --model vae --max-steps 2000

torchrun starts the command once per process and tells each its place through environment
variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, ...). Data parallelism, as PyTorch's
DistributedDataParallel does it:

- every process holds the same model (the same seed builds the same initial weights, and
  rank 0's are broadcast to make sure);
- each global batch (--batch-size images, drawn in the same order as on one process) is cut
  into equal shards, one per process;
- after the backward pass, the gradients are averaged over the processes (all-reduce), so every
  process makes the same update: the one a single process would make from the global batch;
- only rank 0 prints, draws previews and writes the checkpoint.

The averaging happens when an optimizer steps (`averaging_optimizers`), not in a
DistributedDataParallel wrapper: a GAN's step runs the discriminator several times and updates
two networks with two optimizers, which the wrapper's one-forward-one-backward bookkeeping does
not fit. The arithmetic is the same all-reduce mean of the gradients.

Training noise (a GAN's z, a VAE's eps) comes from each process's own generator, seeded from the
run's seed and the rank: a 2-process run is reproducible, and a model that draws no noise (the
autoregressive one) learns exactly what one process learns from the same global batches.
BatchNorm layers (DCGAN) normalize each shard by its own statistics, as with DDP without SyncBatchNorm.
"""

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from . import environment
from .device import prepare

# How long a process waits for the others at a collective before giving up: a killed or stuck
# process ends the run with an error instead of a hang.
TIMEOUT_SECONDS = environment.value("GENAI_DISTRIBUTED_TIMEOUT")


class DistributedError(RuntimeError):
    """The processes of a run could not agree (one died, or the settings cannot be split), explained."""


@dataclass
class Team:
    """This process's place in a run over several processes."""

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self):
        return self.rank == 0

    def shard(self, index):
        """This process's share of a global batch of indices: the rank-th of world_size equal slices."""
        size = len(index) // self.world_size
        return index[self.rank * size:(self.rank + 1) * size]

    def average_(self, tensors):
        """Replace each tensor by its mean over the processes (one all-reduce for all of them)."""
        if not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        collective(dist.all_reduce, flat)
        flat /= self.world_size
        offset = 0
        for t in tensors:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()

    def any(self, flag, device):
        """True on every process if flag is True on any of them (a decision all must take together)."""
        value = torch.tensor([1.0 if flag else 0.0], device=device)
        collective(dist.all_reduce, value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def broadcast_weights(self, model):
        """Give every process rank 0's weights and buffers."""
        for tensor in model.state_dict().values():
            collective(dist.broadcast, tensor, src=0)

    def barrier(self):
        collective(dist.barrier)


def collective(operation, *args, **kwargs):
    """Run a collective operation; a process that died or hangs becomes a DistributedError, not a hang."""
    try:
        return operation(*args, **kwargs)
    except (RuntimeError, dist.DistBackendError) as error:
        raise DistributedError(
            "Another training process of this run stopped or stopped answering "
            f"({type(error).__name__}: {str(error).splitlines()[0][:200]}). The run was abandoned; nothing was saved."
        ) from None


def launched_by_torchrun():
    """True when torchrun (or another launcher) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join(device_choice):
    """Join the run torchrun started: returns (Team, device). NCCL on GPUs, gloo on CPUs."""
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = device_choice in ("auto", "cuda") and torch.cuda.is_available()
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise DistributedError(f"Process {rank} wants GPU {local_rank}, but this machine has "
                                   f"{torch.cuda.device_count()}: start at most that many per machine.")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    elif device_choice not in ("auto", "cpu"):
        raise DistributedError(f"Training on several processes works on CUDA GPUs or on CPUs, not on {device_choice}.")
    else:
        device = torch.device("cpu")
    prepare(device)  # TF32 on GPUs; CPU threads (torchrun sets OMP_NUM_THREADS=1 per process unless told otherwise)
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world_size,
                                timeout=datetime.timedelta(seconds=TIMEOUT_SECONDS))
    return Team(rank, world_size, local_rank, backend), device


def leave():
    if dist.is_initialized():
        dist.destroy_process_group()


class AveragingOptimizer:
    """An optimizer whose step() first averages its parameters' gradients over the processes."""

    def __init__(self, optimizer, team):
        self.optimizer, self.team = optimizer, team

    def step(self, *args, **kwargs):
        grads = [p.grad for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None]
        self.team.average_(grads)
        return self.optimizer.step(*args, **kwargs)

    def __getattr__(self, name):  # zero_grad, param_groups, state_dict, ...: the wrapped optimizer's
        return getattr(self.optimizer, name)


def averaging_optimizers(optimizers, team):
    """The model's optimizers, each averaging gradients over the processes before it steps."""
    return {name: AveragingOptimizer(optimizer, team) for name, optimizer in optimizers.items()}
