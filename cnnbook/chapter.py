"""What every chapter does: resolve the budget, load the data, say so; train its model beside the reference run."""

from __future__ import annotations

import time

import torch
from torch import nn

from .budgets import Budget, get_budget
from .data import CIFAR10, load_cifar10
from .models import get_model
from .reference import reference_curves
from .train import History, default_device, fit, resolve_precision, set_seed
from .viz import LivePlot


def start_chapter(budget: str | None = None, seed: int = 0, **overrides) -> tuple[Budget, CIFAR10, torch.device]:
    """The budget (with the notebook's non-None ``overrides``), CIFAR-10 at its sizes, and the device."""
    cfg = get_budget(budget, **overrides)
    device = default_device()
    set_seed(seed)
    data = load_cifar10(subset=cfg.subset, val_subset=cfg.val_subset, test_subset=cfg.test_subset, seed=seed)
    print(
        f"budget {cfg.name!r}: {cfg.epochs} epoch(s) on {len(data.train):,} images, batch {cfg.batch_size}, "
        f"peak lr {cfg.lr}"
    )
    print(f"{data} on {device} ({resolve_precision('auto', device)})")
    return cfg, data, device


def train_chapter_model(
    name: str, cfg: Budget, data: CIFAR10, device: torch.device, seed: int = 0
) -> tuple[nn.Module, History, float]:
    """Train registry model ``name`` with the budget's recipe, its curves drawn live beside the reference
    run of the same budget; returns the model, its history and the training minutes."""
    set_seed(seed)
    model = get_model(name)
    live = LivePlot(
        f"this run ({cfg.name})",
        reference_curves(name, cfg.name),
        title=f"{name}: this run (updated every epoch) and the reference run of the same budget",
    )
    started = time.perf_counter()
    history = fit(
        model,
        data.train,
        data.val,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=seed,
        device=device,
        callbacks=[live],
    )
    return model, history, (time.perf_counter() - started) / 60
