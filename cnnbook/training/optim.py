"""Optimisers and learning-rate schedules by name: what a recipe's ``optimizer`` and ``schedule`` choose.

Plain values in (names and numbers), so :mod:`cnnbook.training.recipe` can check its names against
these tables without this module knowing what a recipe is."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

SCHEDULES = ("onecycle", "cosine", "constant")


def _sgd(params, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=momentum > 0)


def _sgd_classic(params, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _adamw(params, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=lr, betas=(momentum, 0.999), weight_decay=weight_decay)


OPTIMIZERS = {
    "sgd": _sgd,  # SGD with Nesterov momentum: the book's
    "sgd-classic": _sgd_classic,  # SGD with plain (heavy-ball) momentum: the source text's
    "adamw": _adamw,  # Adam with decoupled weight decay; the recipe's momentum is its beta1
}


def make_optimizer(
    parameters: Iterable[torch.nn.Parameter], name: str, *, lr: float, momentum: float, weight_decay: float
) -> torch.optim.Optimizer:
    """The optimiser ``name`` (a key of :data:`OPTIMIZERS`) over ``parameters``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](parameters, lr, momentum, weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: str, total_steps: int):
    """Per-step learning-rate schedule (multiplies each group's learning rate): one-cycle, cosine, or constant.

    One-cycle: linear warm-up from 1/20 of the peak over the first quarter of the steps, then a
    cosine decay to 1/1000 of it. Works for any number of steps, even one.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
    warmup = max(1, round(0.25 * total_steps)) if schedule == "onecycle" else 0

    def factor(step: int) -> float:
        if schedule == "constant":
            return 1.0
        if step < warmup:
            return 0.05 + 0.95 * step / warmup
        t = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 1e-3 + (1 - 1e-3) * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
