"""What every chapter does first: resolve the budget, seed everything, load the data, say so."""

from __future__ import annotations

import torch

from .budgets import Budget, get_budget
from .data import CIFAR10, load_cifar10
from .train import default_device, resolve_precision, set_seed


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
