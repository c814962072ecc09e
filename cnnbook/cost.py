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
