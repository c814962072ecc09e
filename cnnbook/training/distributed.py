"""Data-parallel training over several processes, as started by ``torchrun``.

``torchrun --nproc_per_node=N -m cnnbook train ...`` starts N copies of the command with
``RANK`` and ``WORLD_SIZE`` in their environment. Each process holds a replica of the model
and takes its share of every batch (``Split.batches(shard=...)``);
``DistributedDataParallel`` averages the gradients, so the N replicas take the same steps as
one process with the whole batch. Metrics are summed over processes, and only rank 0 prints,
writes checkpoints and saves results.

GPUs talk over NCCL where the build has it; elsewhere (CPUs, and Windows, whose PyTorch builds
have no NCCL) over gloo. On Windows, torchrun also needs ``USE_LIBUV=0`` in the environment
(``set USE_LIBUV=0`` in cmd, ``$env:USE_LIBUV=0`` in PowerShell): its rendezvous uses libuv by
default since PyTorch 2.4, and the Windows builds lack it. Or run the book under WSL.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    """This process's place in the group: rank 0 of 1 when not distributed."""

    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int]:
        return self.rank, self.world_size


def context() -> Context:
    """The current process group's rank and size, or a single-process context."""
    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size())
    return Context()


def init_from_env(device: torch.device) -> Context:
    """Join the group ``torchrun`` describes, over :func:`backend_for`; a no-op without ``WORLD_SIZE > 1``."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend_for(device))
    return context()


def backend_for(device: torch.device) -> str:
    """``"nccl"`` for CUDA where this build has NCCL (never on Windows), else ``"gloo"``."""
    if device.type == "cuda" and sys.platform != "win32" and dist.is_nccl_available():
        return "nccl"
    return "gloo"


@contextmanager
def main_process_first():
    """Rank 0 runs the block first (it fills the data cache); the other ranks run it after, from the cache."""
    ctx = context()
    if ctx.enabled and not ctx.is_main:
        dist.barrier()
    yield
    if ctx.enabled and ctx.is_main:
        dist.barrier()


def shutdown() -> None:
    """Leave the process group, if any."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """On CUDA, this process's own GPU (``LOCAL_RANK``); elsewhere ``device`` itself."""
    if device.type == "cuda" and context().enabled:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` itself in a single process; under ``torchrun`` a ``DistributedDataParallel`` replica of it."""
    if not context().enabled:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def all_reduce(tensor: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """``tensor`` summed (or maxed) over all processes, in place; unchanged when not distributed."""
    if context().enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return tensor


def sync_buffers(model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (batch-norm statistics) to every process, so all evaluate one model."""
    if context().enabled:
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)
