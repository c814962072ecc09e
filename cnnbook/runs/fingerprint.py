"""A run's fingerprint: what decides its result, hashed. A page shows a stored run only when the
fingerprint it recorded is the one the current code computes for the same run."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from torch import nn

from ..models.registry import get_builder
from ..training.loop import LOOP_VERSION
from ..training.recipe import Recipe, recipe_for
from .record import build_model


def architecture_signature(model: nn.Module) -> str:
    """A short hash of a model's parameter and buffer names and shapes: changes when the architecture does."""
    shapes = [(name, list(t.shape)) for name, t in model.state_dict().items()]
    return hashlib.sha256(json.dumps(shapes).encode()).hexdigest()[:16]


def model_signature(model: str, builder: dict | None = None) -> str:
    """:func:`architecture_signature` of registry model ``model`` built with ``builder``, built once per
    (builder function, model, arguments): a page render asks for it about ten times per run."""
    builder = builder or {}
    return _signature(get_builder(model), model, tuple(sorted(builder.items())))


@lru_cache(maxsize=256)
def _signature(function, model: str, builder: tuple) -> str:
    return architecture_signature(build_model(model, dict(builder)))


def fingerprint(
    model: str, recipe: Recipe, seed: int, builder: dict | None = None, settings: dict | None = None
) -> str:
    """What decides a run's result, hashed: the model and its architecture (built with the builder
    arguments ``builder``), the recipe, the seed, the training loop's version and the experiment
    ``settings`` (JSON-serialisable). The builder arguments are hashed by name too, except
    ``num_classes``, which only the architecture holds (as the stored runs were fingerprinted)."""
    builder, settings = builder or {}, settings or {}
    record = {
        "model": model,
        "architecture": model_signature(model, builder),
        "recipe": recipe_for(model, recipe).as_dict(),
        "seed": seed,
        "loop_version": LOOP_VERSION,
        **{k: v for k, v in builder.items() if k != "num_classes"},
        **settings,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
