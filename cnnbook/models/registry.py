"""Name-to-builder registry: ``get_model("resnet20")``, ``list_models()`` and ``model_meta(name)``."""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn


@dataclass(frozen=True)
class ModelMeta:
    """Facts about a registered architecture, kept beside its builder (like torchvision's ``Weights.meta``).

    ``published_params`` is the parameter count of ``get_model(name, **published_with)`` as
    published: in ``paper``, or in ``published_in`` where named (torchvision's exact counts).
    ``exact=False`` means rounded to its last nonzero digit, as papers round: 0.27M stands for
    265,000 to 275,000. ``recipe`` names the training settings the architecture prefers.
    """

    paper: str  # citation key in book/references.bib
    chapter: str  # the chapter notebook's family: "resnet", "inception", "densenet"
    input_size: int  # the image size the network was designed for (32: CIFAR, 224: ImageNet)
    published_params: int | None = None
    published_with: dict = field(default_factory=dict)  # get_model keywords, e.g. {"num_classes": 1000}
    published_in: str | None = None
    exact: bool = False
    # Recipe settings the architecture trains best with, in place of a budget's (e.g. {"optimizer": "adamw",
    # "lr": 2e-3, "weight_decay": 0.05}); cnnbook.training.recipe.recipe_for applies them.
    recipe: dict = field(default_factory=dict)

    def matches(self, count: int) -> bool:
        """Whether ``count`` is ``published_params``: equal if ``exact``, else after the same rounding."""
        if self.exact:
            return count == self.published_params
        digits = str(self.published_params)
        return round(count, len(digits.rstrip("0")) - len(digits)) == self.published_params


_MODELS: dict[str, tuple[Callable[..., nn.Module], ModelMeta]] = {}


def register_model(name: str | None = None, *, meta: ModelMeta):
    """Decorator that adds a builder function and its ``meta`` to the registry under ``name``."""

    def decorator(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or fn.__name__
        if not isinstance(meta, ModelMeta):
            raise TypeError(f"model {key!r}: meta must be a ModelMeta, got {type(meta).__name__}")
        if key in _MODELS:
            raise ValueError(f"model {key!r} is registered twice")
        _MODELS[key] = (fn, meta)
        return fn

    return decorator


def list_models() -> list[str]:
    """All registered model names, sorted (``resnet20`` before ``resnet110``)."""
    return sorted(_MODELS, key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])


def _entry(name: str) -> tuple[Callable[..., nn.Module], ModelMeta]:
    try:
        return _MODELS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), _MODELS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Valid names: {', '.join(list_models())}") from None


def get_builder(name: str) -> Callable[..., nn.Module]:
    """The builder registered as ``name``; a clear error lists the valid names."""
    return _entry(name)[0]


def model_meta(name: str) -> ModelMeta:
    """The metadata registered with ``name`` (paper, chapter, input size, published size); errors as get_builder."""
    return _entry(name)[1]


def get_model(name: str, num_classes: int = 10, **kwargs) -> nn.Module:
    """Build the registered model ``name`` with ``num_classes`` outputs."""
    builder = get_builder(name)
    accepted = set(inspect.signature(builder).parameters) - {"num_classes"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        valid = ", ".join(sorted(accepted)) or "none"
        raise TypeError(
            f"{name} got unknown keyword argument(s) {', '.join(unknown)}; it accepts: num_classes, {valid}"
        )
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    model = builder(num_classes=num_classes, **kwargs)
    model.registry_name = name
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
