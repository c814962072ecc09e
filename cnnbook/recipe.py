"""Training recipes: everything that decides a training run, as one value.

A :class:`Recipe` is what :func:`train_model` needs besides the model's name and the data.
Budgets are made of recipes (:mod:`cnnbook.budgets`); reference runs store the recipe they
trained with and its :func:`fingerprint`, so a reference whose recipe no longer matches the
code is never shown as if it did.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import nn

from .data import CIFAR10, Split
from .models import get_model
from .train import SCHEDULES, History, fit, set_seed

OPTIMIZERS = ("sgd",)  # Nesterov SGD with weight decay: see cnnbook.train.make_optimizer
# Bump when the training loop changes what a recipe trains (augmentation, loss, update order):
# every stored fingerprint then stops matching and `make test` lists the references to rerun.
LOOP_VERSION = 1


@dataclass(frozen=True)
class Recipe:
    """How to train: epochs, images (``subset``; None: the whole split), batch, optimiser, schedule."""

    epochs: int
    subset: int | None = None
    batch_size: int = 256
    lr: float = 0.4  # peak learning rate of the schedule
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    schedule: str = "onecycle"
    augment: bool = True
    precision: str = "auto"  # "auto" (bf16 where the hardware is fast at it), "bf16" or "fp32"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"recipe: {name} must be a positive integer, got {value!r}")
        if self.subset is not None and (not isinstance(self.subset, int) or self.subset < 1):
            raise ValueError(f"recipe: subset must be a positive integer or None, got {self.subset!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"recipe: lr must be a positive number, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"recipe: unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"recipe: unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")

    def with_(self, **overrides) -> Recipe:
        """This recipe with the non-None ``overrides`` applied (unknown names are an error)."""
        valid = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise TypeError(f"unknown recipe field(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def as_dict(self) -> dict:
        return asdict(self)

    def fit_kwargs(self) -> dict:
        """The keyword arguments of :func:`cnnbook.train.fit` this recipe decides."""
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "label_smoothing": self.label_smoothing,
            "schedule": self.schedule,
            "augment": self.augment,
            "precision": self.precision,
        }


def architecture_signature(model: nn.Module) -> str:
    """A short hash of a model's parameter and buffer names and shapes: changes when the architecture does."""
    shapes = [(name, list(t.shape)) for name, t in model.state_dict().items()]
    return hashlib.sha256(json.dumps(shapes).encode()).hexdigest()[:16]


def fingerprint(model: str, recipe: Recipe, seed: int, num_classes: int = 10, **extra) -> str:
    """What decides a run's result, hashed: the model and its architecture, the recipe, the seed,
    the training loop's version and any ``extra`` settings (JSON-serialisable)."""
    record = {
        "model": model,
        "architecture": architecture_signature(get_model(model, num_classes=num_classes)),
        "recipe": recipe.as_dict(),
        "seed": seed,
        "loop_version": LOOP_VERSION,
        **extra,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def train_model(
    name: str,
    recipe: Recipe,
    data: CIFAR10 | Split,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    val: Split | None = None,
    **fit_options,
) -> tuple[nn.Module, History]:
    """Build registry model ``name`` (seeded) and train it with ``recipe`` on ``data``.

    ``data`` is a :class:`CIFAR10` (train on ``recipe.subset`` of its training split,
    validate on its validation split) or a training :class:`Split`. ``fit_options`` are the
    run's mechanics, not its recipe: ``checkpoint``, ``resume``, ``progress``, ``callbacks``,
    ``transform``; ``num_classes`` goes to the model.
    """
    if isinstance(data, CIFAR10):
        train, val = data.train, data.val if val is None else val
    else:
        train = data
    if recipe.subset is not None and recipe.subset < len(train):
        train = train.take(recipe.subset, seed=seed)
    set_seed(seed)
    model = get_model(name, num_classes=fit_options.pop("num_classes", 10))
    history = fit(model, train, val, seed=seed, device=device, **recipe.fit_kwargs(), **fit_options)
    return model, history
