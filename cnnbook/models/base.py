"""A base class for the book's classifiers that checks its input before use."""

from __future__ import annotations

import contextlib

import torch
from torch import nn


@contextlib.contextmanager
def evaluation_mode(model: nn.Module):
    """``model`` in evaluation mode within the block; its previous mode is restored after, also on an error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class ImageClassifier(nn.Module):
    """An ``nn.Module`` that maps a float batch ``(N, C, H, W)`` to class logits.

    Subclasses set ``in_channels`` and ``min_size`` (the smallest height/width
    their downsampling accepts) and implement ``forward_logits``.
    """

    in_channels: int = 3
    min_size: int = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.min_size, type(self).__name__)
        weights = next(self.parameters(), None)
        if weights is not None and x.dtype != weights.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"{type(self).__name__} has {weights.dtype} weights but got a {x.dtype} batch: "
                f"convert it with x.to({weights.dtype})"
            )
        return self.forward_logits(x)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def check_input(x: torch.Tensor, in_channels: int, min_size: int, who: str) -> None:
    """Raise a ValueError/TypeError that says what is wrong with an input batch."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        hint = " Add a batch dimension with x.unsqueeze(0)." if x.dim() == 3 else ""
        raise ValueError(f"{who} expects a 4-D batch (N, C, H, W), got shape {tuple(x.shape)}.{hint}")
    if x.shape[1] != in_channels:
        hint = (
            " Repeat a grayscale channel with x.expand(-1, 3, -1, -1)." if x.shape[1] == 1 and in_channels == 3 else ""
        )
        raise ValueError(
            f"{who} expects {in_channels} input channels, got {x.shape[1]} (shape {tuple(x.shape)}).{hint}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{who} expects a floating-point batch, got {x.dtype}. Convert uint8 images "
            "with cnnbook.data.normalize(x) (or x.float() / 255 and normalise)."
        )
    if min(x.shape[-2:]) < min_size:
        raise ValueError(
            f"{who} needs images of at least {min_size}x{min_size} pixels, got {x.shape[-2]}x{x.shape[-1]}"
        )
