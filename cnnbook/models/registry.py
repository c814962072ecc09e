"""Name-to-builder registry: ``get_model("resnet20")`` and ``list_models()``."""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable

from torch import nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str | None = None):
    """Decorator that adds a builder function to the registry under ``name``."""

    def decorator(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or fn.__name__
        if key in _BUILDERS:
            raise ValueError(f"model {key!r} is registered twice")
        _BUILDERS[key] = fn
        return fn

    return decorator


def list_models() -> list[str]:
    """All registered model names, sorted (``resnet20`` before ``resnet110``)."""
    return sorted(_BUILDERS, key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])


def get_builder(name: str) -> Callable[..., nn.Module]:
    """The builder registered as ``name``; a clear error lists the valid names."""
    try:
        return _BUILDERS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), _BUILDERS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Valid names: {', '.join(list_models())}") from None


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
