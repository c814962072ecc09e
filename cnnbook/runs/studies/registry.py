"""The study registry: ``get_study("side")``, ``list_studies()``, and :class:`RunSpec`, one run of a study.

A study is one kind of reference run (the chapters' models, the degradation side runs, the class
transfer, ...), registered like the models (:mod:`cnnbook.models.registry`). It says, in one
place, which models it trains with which recipe of a budget, the builder arguments and experiment
settings its runs are fingerprinted with, how it trains and what it measures, which seeds keep
their weights, how its runs are named, and how a page names them beside another study's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from torch import nn

from ...data import CIFAR10, Split
from ...training.evaluation import evaluate_with_flip
from ...training.history import History
from ...training.loop import fit, set_seed
from ...training.recipe import Recipe, recipe_for
from ..budgets import Budget
from ..fingerprint import fingerprint
from ..record import build_model


@dataclass(frozen=True)
class Study:
    """One kind of reference run. Subclasses change how it trains (:meth:`train`, its hooks) and what
    it measures (:meth:`results`); a value of this class is a study that trains and tests as a
    chapter does."""

    kind: str  # its registry name; its runs are named ``<kind>-<model>`` (:meth:`run_id`)
    models: tuple[str, ...]  # trained at every seed of a budget, seed 0 of all studies first
    budget_field: str  # the Budget recipe it trains with: "chapter", "side", "ablation", "pretrain"
    overrides: dict = field(default_factory=dict)  # changed in that recipe (the side runs: fp32)
    builder: dict = field(default_factory=dict)  # the model builder's arguments (aux_logits, num_classes)
    once: tuple[str, ...] = ()  # trained at seed 0 only, after every other run: the costliest
    weights: bool = True  # seed 0 stores its weights (the figures use them); False: curves only
    label: str = ""  # how a page names its runs beside another study's ("with", "textbook recipe")

    def recipe(self, cfg: Budget) -> Recipe:
        """The recipe its runs train with at budget ``cfg``."""
        return getattr(cfg, self.budget_field).with_(**self.overrides)

    def settings(self, cfg: Budget) -> dict:
        """Experiment settings beyond the recipe at budget ``cfg``, hashed into the fingerprint."""
        return {}

    def spec(self, model: str, cfg: Budget, seed: int = 0) -> RunSpec:
        """The run of ``model`` at budget ``cfg`` and ``seed``."""
        return RunSpec(model, self.kind, self.recipe(cfg), dict(self.builder), self.settings(cfg), seed)

    def run_id(self, model: str) -> str:
        """The name of its run of ``model``, the same for every seed: ``side-plain56``."""
        return f"{self.kind}-{model}"

    def keeps_weights(self, seed: int) -> bool:
        """Whether its run at ``seed`` stores its weights: seed 0's, which the figures use."""
        return self.weights and seed == 0

    def train(self, spec: RunSpec, data: CIFAR10, **fit_options) -> tuple[nn.Module, History]:
        """Train the run ``spec`` on ``data`` with its seed: build the model, fit it on the training
        split with the :meth:`callbacks` and validate on :meth:`validation`."""
        set_seed(spec.seed)
        model = build_model(spec.model, spec.builder)
        callbacks = [*fit_options.pop("callbacks", ()), *self.callbacks(spec, data, model)]
        recipe = recipe_for(spec.model, spec.recipe)
        history = fit(model, data.train, self.validation(spec, data), recipe, seed=spec.seed, callbacks=callbacks,
                      **fit_options)  # fmt: skip
        return model, history

    def callbacks(self, spec: RunSpec, data: CIFAR10, model: nn.Module) -> list:
        """Callbacks of its own that ``fit`` calls after every epoch."""
        return []

    def validation(self, spec: RunSpec, data: CIFAR10) -> Split:
        """The images it validates on after every epoch."""
        return data.val

    def results(
        self, spec: RunSpec, model: nn.Module, data: CIFAR10, *, test: bool, device, progress: bool
    ) -> tuple[dict, dict]:
        """What a trained run measures: its test metrics (with ``test``) and other results to store."""
        if not test:
            return {}, {}
        return evaluate_with_flip(model, data.test, precision=spec.recipe.precision, predictions=True), {}


_STUDIES: dict[str, Study] = {}


def register_study(study: Study) -> Study:
    """Add ``study`` to the registry under its ``kind``; returns it."""
    if not isinstance(study, Study):
        raise TypeError(f"register_study takes a Study, got {type(study).__name__}")
    if study.kind in _STUDIES:
        raise ValueError(f"study {study.kind!r} is registered twice")
    _STUDIES[study.kind] = study
    return study


def list_studies() -> list[Study]:
    """Every registered study, in registration order (the order ``reproduce`` trains them in)."""
    return list(_STUDIES.values())


def get_study(kind: str) -> Study:
    """The study registered as ``kind``; a clear error lists the valid ones."""
    try:
        return _STUDIES[kind]
    except KeyError:
        raise ValueError(f"unknown study {kind!r}; valid: {', '.join(_STUDIES)}") from None


@dataclass(frozen=True)
class RunSpec:
    """One reference run: a registry model trained by a study (``kind``) with a recipe, the model
    builder's arguments (``builder``), the study's experiment settings and a seed."""

    model: str
    kind: str
    recipe: Recipe
    builder: dict = field(default_factory=dict)  # build_model's arguments: aux_logits, num_classes
    settings: dict = field(default_factory=dict)  # the experiment's own (the transfer's few-shot stage)
    seed: int = 0

    @property
    def study(self) -> Study:
        return get_study(self.kind)

    @property
    def run_id(self) -> str:
        """The run's name, the same for every seed: ``resnet20``, ``side-plain56``."""
        return self.study.run_id(self.model)

    @property
    def folder(self) -> str:
        """Its folder in ``results/<budget>/``: the run id for seed 0, ``<run id>.seed<k>`` for others."""
        return run_folder(self.run_id, self.seed)

    @property
    def keeps_weights(self) -> bool:
        """Whether the run stores its weights (:meth:`Study.keeps_weights`)."""
        return self.study.keeps_weights(self.seed)

    def with_seed(self, seed: int) -> RunSpec:
        return replace(self, seed=seed)

    def fingerprint(self, seed: int | None = None) -> str:
        seed = self.seed if seed is None else seed
        return fingerprint(self.model, self.recipe, seed, self.builder, self.settings)

    def describe(self) -> dict:
        """The run as its provenance records it."""
        return {"model": self.model, "kind": self.kind, "builder": self.builder, "settings": self.settings}


def run_folder(run_id: str, seed: int = 0) -> str:
    """The folder of seed ``seed`` of run ``run_id`` in ``results/<budget>/``."""
    return run_id if seed == 0 else f"{run_id}.seed{seed}"
