"""Training budgets: how much compute a notebook or command spends.

``smoke`` is CI's (each notebook in about a minute on 2 CPU cores), ``quick`` the default
on a CPU (minutes, real learning), ``full`` the default on a GPU (the paper-scale recipe).
``CNNBOOK_BUDGET`` picks one; a notebook's parameters override single values.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace

import torch


@dataclass(frozen=True)
class Budget:
    """The knobs of one budget. ``None`` subsets mean the whole split."""

    name: str
    epochs: int  # chapter model
    subset: int | None  # training images for the chapter model (45k = all)
    batch_size: int
    lr: float  # peak learning rate of the one-cycle schedule
    val_subset: int | None  # validation images checked after every epoch
    test_subset: int | None  # test images for the final evaluation
    side_epochs: int  # short side experiments: degradation, ablations
    side_subset: int
    transfer_subset: int  # images for transfer learning with torchvision models
    transfer_size: int  # their input resolution
    transfer_epochs: int
    side_batch_size: int = 128  # side experiments take smaller batches: more steps on fewer images
    side_lr: float = 0.2

    def __post_init__(self) -> None:
        for name in (
            "epochs",
            "batch_size",
            "side_epochs",
            "side_subset",
            "transfer_subset",
            "transfer_size",
            "transfer_epochs",
            "side_batch_size",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"budget {self.name!r}: {name} must be a positive integer, got {value!r}")
        for name in ("subset", "val_subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"budget {self.name!r}: {name} must be a positive integer or None, got {value!r}")
        for name in ("lr", "side_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"budget {self.name!r}: {name} must be positive, got {getattr(self, name)!r}")

    def as_dict(self) -> dict:
        return asdict(self)


BUDGETS = {
    "smoke": Budget(
        "smoke",
        epochs=1,
        subset=2048,
        batch_size=128,
        lr=0.2,
        val_subset=1000,
        test_subset=1000,
        side_epochs=1,
        side_subset=512,
        transfer_subset=64,
        transfer_size=64,
        transfer_epochs=1,
    ),
    "quick": Budget(
        "quick",
        epochs=15,
        subset=None,
        batch_size=256,
        lr=0.4,
        val_subset=None,
        test_subset=None,
        side_epochs=3,
        side_subset=10000,
        transfer_subset=1000,
        transfer_size=112,
        transfer_epochs=2,
    ),
    "full": Budget(
        "full",
        epochs=40,
        subset=None,
        batch_size=256,
        lr=0.4,
        val_subset=None,
        test_subset=None,
        side_epochs=30,
        side_subset=45000,
        transfer_subset=10000,
        transfer_size=224,
        transfer_epochs=3,
    ),
}


def default_budget_name() -> str:
    """``CNNBOOK_BUDGET`` if set, else ``full`` on a GPU and ``quick`` on a CPU."""
    env = os.environ.get("CNNBOOK_BUDGET")
    if env:
        return env
    return "full" if torch.cuda.is_available() else "quick"


def get_budget(name: str | None = None, **overrides) -> Budget:
    """The named budget (default :func:`default_budget_name`), with non-None overrides applied."""
    name = name or default_budget_name()
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}; valid budgets: {', '.join(BUDGETS)}")
    valid = {f.name for f in fields(Budget)} - {"name"}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise TypeError(f"unknown budget field(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    return replace(BUDGETS[name], **{k: v for k, v in overrides.items() if v is not None})
