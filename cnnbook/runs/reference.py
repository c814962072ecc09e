"""Reference runs: which runs the book stores, and reading them back for the chapters.

``python -m cnnbook reproduce`` (:mod:`cnnbook.runs.reproduce`) trains the runs of
:func:`reference_runs` into ``results/<budget>/<run>/``: ``history.json``, ``checkpoint.pt``
and ``provenance.json``, which records the recipe and its fingerprint. A chapter shows a
stored run only when its fingerprint is the one the current code computes for the same run
(:func:`matching_reference`); :func:`stale_references` lists those that no longer match.
The results travel inside the package, so an installed ``cnnbook`` (Colab) has them too.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from ..models import list_models
from ..training.history import History
from ..training.loop import LOOP_VERSION
from ..training.recipe import Recipe, recipe_for
from .budgets import BUDGETS, Budget, get_budget
from .record import RunRecord, build_model, read_record

RESULTS = Path(__file__).resolve().parent.parent / "results"
CHAPTER_MODELS = ("resnet20", "googlenet_cifar", "densenet_cifar")
# Side experiments: Chapter 1's degradation study (He et al., Fig. 6), plain, residual and pre-activation
# networks of 20 and 56 layers.
SIDE_MODELS = ("plain20", "plain56", "resnet20", "resnet56", "preact_resnet20", "preact_resnet56")
# They compare final training errors a few points apart, where bf16 rounding moves them by a
# similar amount: they run in fp32 everywhere.
SIDE_PRECISION = "fp32"
SIDE_VAL_IMAGES = 1000  # validated after every epoch on this many images: the training error is what they compare
TRANSFER_MODEL = "resnet20"
# Chapter 2's auxiliary-classifier study: the chapter's GoogLeNet trained with its side heads on and off.
AUX_MODEL = "googlenet_cifar"
AUX_KINDS = {"aux-on": True, "aux-off": False}  # kind: aux_logits
# Chapter 1's ResNet-18, the source's model, trained once (seed 0) with the chapter recipe, and beside it
# with the source's own recipe (SOURCE_RECIPE: SGD at lr 0.001, no schedule, no augmentation) for as
# many epochs. An epoch takes 11x resnet20's time, so these two are the costliest runs of the set.
SOURCE_MODEL = "resnet18"
SOURCE_RECIPE = dict(
    batch_size=64,
    lr=0.001,
    optimizer="sgd-classic",
    weight_decay=0.0,
    label_smoothing=0.0,
    schedule="constant",
    augment=False,
    small_epochs=0,
)


@dataclass(frozen=True)
class RunSpec:
    """One reference run: a registry model trained with a recipe (``kind``: chapter, side, transfer,
    aux-on, aux-off, source) and a seed. Every seed of a run is stored; the figures use seed 0's weights."""

    model: str
    kind: str
    recipe: Recipe
    extra: dict = field(default_factory=dict)  # settings beyond the recipe (the transfer experiment's)
    seed: int = 0

    @property
    def run_id(self) -> str:
        """The run's name, the same for every seed: ``resnet20``, ``side-plain56``."""
        return run_id(self.model, self.kind)

    @property
    def folder(self) -> str:
        """Its folder in ``results/<budget>/``: the run id for seed 0, ``<run id>.seed<k>`` for others."""
        return run_folder(self.run_id, self.seed)

    @property
    def keeps_weights(self) -> bool:
        """Seed 0's weights are stored for the figures; other seeds, and ResNet-18 trained with the source's
        recipe (only its curves are shown), store history and provenance only."""
        return self.seed == 0 and self.kind != "source"

    def fingerprint(self, seed: int | None = None) -> str:
        return fingerprint(self.model, self.recipe, self.seed if seed is None else seed, **self.extra)


def run_id(model: str, kind: str = "chapter") -> str:
    """The name of a reference run, the same for every seed: the model's for a chapter run
    (``resnet20``), ``<kind>-<model>`` for the others (``side-plain56``)."""
    return model if kind == "chapter" else f"{kind}-{model}"


SIDE_RUNS = tuple(run_id(m, "side") for m in SIDE_MODELS)


def run_folder(run_id: str, seed: int = 0) -> str:
    """The folder of seed ``seed`` of run ``run_id`` in ``results/<budget>/``."""
    return run_id if seed == 0 else f"{run_id}.seed{seed}"


def reference_runs(cfg: Budget) -> list[RunSpec]:
    """The chapter models with the chapter recipe, the side experiments with the side recipe (fp32),
    the class-transfer experiment (:mod:`cnnbook.experiments.class_transfer`) and the auxiliary-classifier
    study (:data:`AUX_KINDS`, the ablation recipe), each at seeds 0 to ``cfg.seeds - 1`` (all of seed 0 first);
    last, the source's ResNet-18 (:func:`source_model_runs`, seed 0 only)."""
    from ..experiments.class_transfer import SOURCE_CLASSES, settings_dict

    models = list_models()
    runs = [RunSpec(m, "chapter", cfg.chapter) for m in CHAPTER_MODELS if m in models]
    side = cfg.side.with_(precision=SIDE_PRECISION)
    runs += [RunSpec(m, "side", side) for m in SIDE_MODELS if m in models]
    few_shot = {"num_classes": len(SOURCE_CLASSES), "few_shot": settings_dict(cfg.few_shot)}
    runs.append(RunSpec(TRANSFER_MODEL, "transfer", cfg.pretrain, few_shot))
    runs += [RunSpec(AUX_MODEL, kind, cfg.ablation, {"aux_logits": on}) for kind, on in AUX_KINDS.items()]
    return [replace(run, seed=seed) for seed in range(cfg.seeds) for run in runs] + source_model_runs(cfg)


def source_model_runs(cfg: Budget) -> list[RunSpec]:
    """The source's ResNet-18 (:data:`SOURCE_MODEL`) with the chapter recipe (run ``resnet18``) and with the
    source's recipe for as many epochs (``source-resnet18``), seed 0 only: an hour or more each on a CPU."""
    return [
        RunSpec(SOURCE_MODEL, "chapter", cfg.chapter),
        RunSpec(SOURCE_MODEL, "source", cfg.chapter.with_(**SOURCE_RECIPE)),
    ]


def select_runs(
    cfg: Budget,
    only: list[str] | None = None,
    seeds: list[int] | None = None,
    missing: bool = False,
    results: Path = RESULTS,
) -> list[RunSpec]:
    """All reference runs, or those named in ``only``: run ids (``resnet20``, ``side-plain56``: every
    seed), folders (``side-plain56.seed2``: one seed) or a whole kind (``chapter``, ``side``,
    ``transfer``); with ``seeds``, only those seeds; with ``missing``, only those without a stored run
    that matches the code."""
    every = reference_runs(cfg)
    runs = [r for r in every if not only or r.run_id in only or r.folder in only or r.kind in only]
    if seeds is not None:
        unknown = sorted(set(seeds) - set(range(cfg.seeds)))
        if unknown:
            raise ValueError(f"budget {cfg.name!r} stores seeds 0 to {cfg.seeds - 1}; no seed {unknown[0]}")
        runs = [r for r in runs if r.seed in seeds]
    if only and not runs:
        valid = sorted({r.run_id for r in every} | {r.kind for r in every})
        raise ValueError(f"--only {' '.join(only)} matches no reference run; valid: {', '.join(valid)}")
    if missing:
        runs = [r for r in runs if matching_reference(r, cfg.name, results=results)[0] is None]
    return runs


TRACE_IMAGES = 256  # the fixed training batch on which a side run's layers are traced every epoch


def train_run(spec: RunSpec, data, **fit_options) -> tuple[torch.nn.Module, History]:
    """Train the run ``spec`` on ``data`` (a :class:`~cnnbook.data.CIFAR10`) with its seed, as
    ``reproduce`` and the chapters do. A side run also traces its layers every epoch
    (:class:`~cnnbook.analysis.probe.LayerTrace`), which the gradient-flow figures read."""
    from ..analysis.probe import LayerTrace
    from ..data import normalize
    from ..training.loop import fit, set_seed

    set_seed(spec.seed)
    model = build_model(spec.model, spec.extra)
    callbacks = list(fit_options.pop("callbacks", ()))
    val = data.val
    if spec.kind == "side":  # a fixed batch of the images the run trains on
        trained = data.train.take(spec.recipe.subset, seed=spec.seed)
        x, y = trained.images[:TRACE_IMAGES], trained.labels[:TRACE_IMAGES]
        callbacks.append(LayerTrace(model, normalize(x), y))
        val = data.val.take_up_to(SIDE_VAL_IMAGES, seed=spec.seed)
    recipe = recipe_for(spec.model, spec.recipe)
    history = fit(model, data.train, val, recipe, seed=spec.seed, callbacks=callbacks, **fit_options)
    return model, history


def architecture_signature(model: nn.Module) -> str:
    """A short hash of a model's parameter and buffer names and shapes: changes when the architecture does."""
    shapes = [(name, list(t.shape)) for name, t in model.state_dict().items()]
    return hashlib.sha256(json.dumps(shapes).encode()).hexdigest()[:16]


def fingerprint(model: str, recipe: Recipe, seed: int, **extra) -> str:
    """What decides a run's result, hashed: the model and its architecture (built with the
    :data:`~cnnbook.runs.record.MODEL_SETTINGS` among ``extra``), the recipe, the seed, the
    training loop's version and the other ``extra`` settings (JSON-serialisable)."""
    architecture = architecture_signature(build_model(model, extra))
    extra = {k: v for k, v in extra.items() if k != "num_classes"}  # the architecture holds it
    record = {
        "model": model,
        "architecture": architecture,
        "recipe": recipe_for(model, recipe).as_dict(),
        "seed": seed,
        "loop_version": LOOP_VERSION,
        **extra,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def user_results() -> Path:
    """Where ``reproduce`` stores runs when the package folder is read-only (a shared or system
    install): ``CNNBOOK_RESULTS``, else ``$XDG_DATA_HOME/cnnbook/results`` (``~/.local/share/...``)."""
    if env := os.environ.get("CNNBOOK_RESULTS"):
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "cnnbook" / "results"


def load_reference(run_id: str, budget: str, results: Path = RESULTS) -> RunRecord | None:
    """The stored reference run in folder ``run_id`` (a :attr:`RunSpec.folder`) at ``budget``, or None;
    for the package's own ``results``, also the runs ``reproduce`` stored in :func:`user_results` (the
    package's first)."""
    for folder in [results] + ([user_results()] if results == RESULTS else []):
        if (record := read_record(folder / budget / run_id)) is not None:
            return record
    return None


def matching_reference(
    spec: RunSpec, budget: str, seed: int | None = None, results: Path = RESULTS
) -> tuple[RunRecord | None, str]:
    """The stored run of ``spec`` at ``budget`` if it was trained with exactly this spec and seed
    (``seed`` overrides the spec's); else None and one line saying why."""
    if seed is not None:
        spec = replace(spec, seed=seed)
    ref = load_reference(spec.folder, budget, results)
    if ref is None:
        return None, f"no stored reference run of {spec.folder} at budget {budget!r}"
    stored = ref.provenance.get("fingerprint")
    if stored != spec.fingerprint():
        differences = _recipe_differences(ref.provenance.get("recipe", {}), spec.recipe.as_dict())
        why = f"these settings differ from it: {differences}" if differences else "it was trained by other code"
        return None, f"the stored reference run of {spec.folder} at budget {budget!r} does not match ({why})"
    return ref, ref.summary


def matching_seeds(spec: RunSpec, cfg: Budget, results: Path = RESULTS) -> list[RunRecord]:
    """Every stored seed of ``spec``'s run at budget ``cfg`` that matches the code, seed 0 first."""
    found = (matching_reference(spec, cfg.name, seed, results)[0] for seed in range(cfg.seeds))
    return [ref for ref in found if ref is not None]


def with_other_seeds(reference: RunRecord, spec: RunSpec, cfg: Budget, results: Path = RESULTS) -> list[RunRecord]:
    """``reference`` (the seed a page shows) followed by every other matching stored seed of its run."""
    return [reference] + [r for r in matching_seeds(spec, cfg, results) if r.path != reference.path]


def stored_seeds(run_id: str, budget: str, results: Path = RESULTS) -> list[RunRecord]:
    """The stored runs of ``run_id`` (``resnet20``, ``side-plain56``) at ``budget`` that match the code,
    one per seed, seed 0 first: what a page averages over."""
    cfg = get_budget(budget)
    spec = next((s for s in reference_runs(cfg) if s.run_id == run_id), None)
    if spec is None:
        valid = sorted({s.run_id for s in reference_runs(cfg)})
        raise ValueError(f"no reference run {run_id!r}; valid: {', '.join(valid)}")
    return matching_seeds(spec, cfg, results)


def stale_references(results: Path = RESULTS) -> list[str]:
    """One line for every stored run the current code would not show: unknown run, or another fingerprint."""
    stale = []
    for budget in BUDGETS:
        specs = {s.folder: s for s in reference_runs(get_budget(budget))}
        for path in sorted((results / budget).glob("*/history.json")):
            folder = path.parent.name
            if folder not in specs:
                stale.append(f"{budget}/{folder}: no longer a reference run (delete it)")
                continue
            ref, why = matching_reference(specs[folder], budget, results=results)
            if ref is None:
                stale.append(
                    f"{budget}/{folder}: {why}; rerun: python -m cnnbook reproduce --budget {budget} --only {folder}"
                )
    return stale


def _recipe_differences(stored: dict, current: dict) -> str:
    keys = sorted(set(stored) | set(current))
    return ", ".join(f"{k} {stored.get(k)!r} -> {current.get(k)!r}" for k in keys if stored.get(k) != current.get(k))


def reference_table(
    budgets: tuple[str, ...] = ("quick", "full"), run_ids: tuple[str, ...] = CHAPTER_MODELS, results: Path = RESULTS
) -> list[dict]:
    """One row per stored reference run: model, budget, epochs, wall minutes, test accuracy (single
    view, and with flip where the run recorded it), device.

    Budgets without any stored run get a row that says so, so their absence stays visible.
    """
    rows = []
    for budget in budgets:
        found = [(run_id, ref) for run_id in run_ids if (ref := load_reference(run_id, budget, results))]
        if not found:
            rows.append(
                {
                    "model": "(none yet)",
                    "budget": budget,
                    "epochs": "—",
                    "minutes": "—",
                    "test accuracy": "—",
                    "with flip": "—",
                    "device": f"`python -m cnnbook reproduce --budget {budget}`",  # code: Markdown keeps the "--"
                }
            )
        for run_id, ref in found:
            p = ref.provenance
            rows.append(
                {
                    "model": run_id,
                    "budget": budget,
                    "epochs": len(ref.history),
                    "minutes": f"{p['wall_minutes']:.1f}",
                    "test accuracy": f"{ref.test['accuracy']:.2%}",
                    "with flip": f"{ref.test['flip_accuracy']:.2%}" if "flip_accuracy" in ref.test else "—",
                    "device": f"{p['device_name']} ({p['device']}, {p['threads']} threads)",
                }
            )
    return rows


def longest_reference(run_id: str, results: Path = RESULTS) -> RunRecord | None:
    """The stored reference of ``run_id`` trained longest (``full`` over ``quick``), or None."""
    found = [r for b in ("full", "quick", "smoke") if (r := load_reference(run_id, b, results)) is not None]
    return max(found, key=lambda r: len(r.history), default=None)


def best_trained(
    model: torch.nn.Module, history: History, run_id: str, budget: str, results: Path = RESULTS
) -> tuple[torch.nn.Module, str]:
    """The longest stored reference model of ``run_id`` if it trained longer than ``history``,
    else ``model``; with a label that says which one it is."""
    longest = longest_reference(run_id, results)
    if longest is not None and len(longest.history) > len(history):
        return longest.model(), longest.label
    return model, f"this run ({budget}, {len(history)} epochs)"
