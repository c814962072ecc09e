"""What a model costs: multiply-adds per image, counted by PyTorch's FLOP counter."""

from __future__ import annotations

import contextlib
import copy
import os
import sys

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..models.base import evaluation_mode
from ..training.device import synchronize


def multiply_adds(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulate operations of one forward pass on a batch of ``input_shape``.

    PyTorch's counter reports FLOPs (2 per multiply-add for convolutions and matrix
    products); we halve it. Divide by the batch size for a per-image figure.
    """
    param = next(module.parameters(), None)
    x = torch.zeros(input_shape, device=param.device if param is not None else "cpu")
    with torch.no_grad(), evaluation_mode(module), FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops() // 2


def throughput(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    train: bool,
    repeats: int = 5,
    device: torch.device | str = "cpu",
) -> float:
    """Median images/s over ``repeats`` timed passes of the batch ``x`` (after one warm-up).

    ``train=True`` times forward + backward + an SGD step, else an ``inference_mode`` forward.
    """
    import statistics
    import time

    model = model.to(device, memory_format=torch.channels_last)
    x = x.to(device).contiguous(memory_format=torch.channels_last)
    y = y.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step():
        if train:
            model.train()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            model.eval()
            with torch.inference_mode():
                model(x)
        synchronize(x.device)  # a GPU runs asynchronously: time the work, not its launch

    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return len(x) / statistics.median(times)


def peak_training_memory(model: nn.Module, batch: torch.Tensor, labels: torch.Tensor) -> int:
    """Peak bytes allocated during one forward + backward pass (cross-entropy), above the start.

    On CUDA this is ``torch.cuda.max_memory_allocated``. On the CPU, PyTorch keeps no such
    counter, so the profiler records every allocation and free (``profile_memory=True``); their
    sizes, summed in time order, trace the allocated bytes, and we take the maximum.
    Apple GPUs (MPS) keep no peak counter either (only the current allocation): there the pass is
    traced on a CPU copy of the model, whose tensors have the same sizes.
    Parameter gradients are cleared before and after, so they count as allocated in the pass.
    """
    from torch.profiler import ProfilerActivity, profile

    device = _device_of(model)
    if device.type == "mps":
        model, device = copy.deepcopy(model).cpu(), torch.device("cpu")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"peak_training_memory measures CPU, CUDA or MPS memory, not {device.type}")
    batch, labels = batch.to(device), labels.to(device)
    model.zero_grad(set_to_none=True)

    def step() -> None:
        torch.nn.functional.cross_entropy(model(batch), labels).backward()

    try:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            start = torch.cuda.memory_allocated(device)
            step()
            torch.cuda.synchronize(device)
            return torch.cuda.max_memory_allocated(device) - start
        with _native_stderr_to_devnull(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step()
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
        allocated = peak = 0
        for event in sorted(events, key=lambda e: e.start_ns()):
            allocated += event.nbytes()  # negative for a free
            peak = max(peak, allocated)
        return peak
    finally:
        model.zero_grad(set_to_none=True)


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@contextlib.contextmanager
def _native_stderr_to_devnull():
    """Send the C-level stderr to /dev/null: the profiler's library logs start/stop lines there."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
