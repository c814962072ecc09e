"""What a model costs: multiply-adds per image, counted by PyTorch's FLOP counter."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def multiply_adds(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulate operations of one forward pass on a batch of ``input_shape``.

    PyTorch's counter reports FLOPs (2 per multiply-add for convolutions and matrix
    products); we halve it. Divide by the batch size for a per-image figure.
    """
    was_training = module.training
    module.eval()
    param = next(module.parameters(), None)
    x = torch.zeros(input_shape, device=param.device if param is not None else "cpu")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    module.train(was_training)
    return counter.get_total_flops() // 2


def throughput(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, train: bool, repeats: int = 5,
               device: torch.device | str = "cpu") -> float:
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
        if x.device.type == "cuda":
            torch.cuda.synchronize()

    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return len(x) / statistics.median(times)
