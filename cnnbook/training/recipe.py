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


class RecipeError(ValueError):
    """A recipe value out of range: ``field`` and ``value`` name it, ``rule`` says what it must be."""

    def __init__(self, field: str, value, rule: str, message: str | None = None):
        self.field, self.value, self.rule = field, value, rule
        super().__init__(message or f"recipe: {field} must be {rule}, got {value!r}")

    def named(self, name: str) -> RecipeError:
        """The same error, naming the value as the reader wrote it (``EPOCHS = 0``, ``--epochs 0``)."""
        return RecipeError(self.field, self.value, self.rule, f"{name} = {self.value!r}: must be {self.rule}")


def _whole(least: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= least


# What each checked field must be: a test and the words for it. Recipe checks them when it is made;
# a parameter cell or a command-line option checks one value with check_value before a recipe is built.
RULES = {
    "epochs": (_whole(1), "a positive integer"),
    "subset": (lambda v: v is None or _whole(1)(v), "a positive integer or None"),
    "batch_size": (_whole(1), "a positive integer"),
    "lr": (
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0,
        "a positive number",
    ),
    "small_epochs": (_whole(0), "an integer of at least 0"),
    "small_size": (_whole(8), "an integer of at least 8"),
}


def check_value(field: str, value) -> None:
    """Raise :class:`RecipeError` unless ``value`` is a valid ``field`` of a recipe (:data:`RULES`)."""
    test, rule = RULES[field]
    if not test(value):
        raise RecipeError(field, value, rule)


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
        for name in RULES:
            check_value(name, getattr(self, name))
        if self.small_epochs and self.small_epochs >= self.epochs:
            raise RecipeError(
                "small_epochs",
                self.small_epochs,
                f"fewer than epochs ({self.epochs})",
                f"recipe: small_epochs ({self.small_epochs}) must be fewer than epochs ({self.epochs}): "
                "the last epochs train at full size",
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"recipe: unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"recipe: unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")

    def check_trains_on(self, images: int) -> None:
        """A :class:`RecipeError` for a batch size that cannot train on ``images`` training images."""
        if self.batch_size < 2:
            raise RecipeError("batch_size", self.batch_size, "at least 2: batch normalisation needs 2 images per batch")
        if self.batch_size > images:
            raise RecipeError(
                "batch_size",
                self.batch_size,
                f"at most the {images:,} training images: every epoch would skip them all (incomplete "
                "batches are dropped); lower the batch size or raise the subset",
            )

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
