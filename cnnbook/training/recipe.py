"""Training recipes: everything that decides a training run, as one value.

A :class:`Recipe` is what :func:`cnnbook.training.loop.fit` needs besides the model and the data.
Budgets are made of recipes (:mod:`cnnbook.runs.budgets`); a stored run records the recipe it
trained with (:mod:`cnnbook.runs.reference`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from ..models import model_meta
from .optim import OPTIMIZERS, SCHEDULES


@dataclass(frozen=True)
class Recipe:
    """How to train: epochs, images (``subset``; None: the whole split), batch, optimiser, schedule,
    and optionally a number of cheaper first epochs on scaled-down images (``small_epochs``)."""

    epochs: int
    subset: int | None = None
    batch_size: int = 256
    lr: float = 0.4  # peak learning rate of the schedule
    optimizer: str = "sgd"  # a name in cnnbook.training.optim.OPTIMIZERS: "sgd" (Nesterov), "sgd-classic", "adamw"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    schedule: str = "onecycle"
    augment: bool = True
    precision: str = "auto"  # "auto" (bf16 where the hardware is fast at it), "bf16" or "fp32"
    small_epochs: int = 0  # the first small_epochs epochs train on images scaled down to small_size pixels
    small_size: int = 24

    def __post_init__(self) -> None:
        for name, least in (("epochs", 1), ("batch_size", 1), ("small_epochs", 0), ("small_size", 8)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                kind = "a positive integer" if least == 1 else f"an integer of at least {least}"
                raise ValueError(f"recipe: {name} must be {kind}, got {value!r}")
        if self.small_epochs and self.small_epochs >= self.epochs:
            raise ValueError(
                f"recipe: small_epochs ({self.small_epochs}) must be fewer than epochs ({self.epochs}): "
                "the last epochs train at full size"
            )
        if self.subset is not None and (not isinstance(self.subset, int) or self.subset < 1):
            raise ValueError(f"recipe: subset must be a positive integer or None, got {self.subset!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"recipe: lr must be a positive number, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"recipe: unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"recipe: unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")

    def with_(self, **overrides) -> Recipe:
        """This recipe with the non-None ``overrides`` applied (unknown names are an error). New
        ``epochs`` without ``small_epochs`` keep the share of small epochs, as the schedule keeps its
        shape: 14 epochs with 10 small become 7 with 5, or 1 at full size."""
        valid = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise TypeError(f"unknown recipe field(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
        changes = {k: v for k, v in overrides.items() if v is not None}
        epochs = changes.get("epochs")
        if isinstance(epochs, int) and epochs >= 1 and "small_epochs" not in changes and self.small_epochs:
            changes["small_epochs"] = min(round(self.small_epochs * epochs / self.epochs), epochs - 1)
        return replace(self, **changes)

    def image_size(self, epoch: int) -> int | None:
        """The pixels epoch ``epoch`` (0-based) trains at: ``small_size`` early on, None (full size) after."""
        return self.small_size if epoch < self.small_epochs else None

    def as_dict(self) -> dict:
        """The fields; the small-image ones only when used, so recipes without them keep their fingerprints."""
        record = asdict(self)
        if not self.small_epochs:
            del record["small_epochs"], record["small_size"]
        return record


def recipe_for(model: str, recipe: Recipe) -> Recipe:
    """``recipe`` with the settings registry model ``model`` prefers (``ModelMeta.recipe``, such as
    its own optimiser) in place of the budget's; unchanged for an architecture that names none."""
    return recipe.with_(**model_meta(model).recipe)
