"""Reference runs: which runs the book stores, and reading them back for the chapters.

``python -m cnnbook reproduce`` (:mod:`cnnbook.runs.reproduce`) trains the runs of
:func:`reference_runs` into ``results/<budget>/<run>/``: ``history.json``, ``checkpoint.pt``
and ``provenance.json``, which records the recipe and its fingerprint. A chapter shows a
stored run only when its fingerprint is the one the current code computes for the same run
(:func:`matching_reference`); :func:`stale_references` lists those that no longer match.
The results travel inside the package, so an installed ``cnnbook`` (Colab) has them too.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .. import settings
from ..models import list_models
from ..training.history import History
from .budgets import BUDGETS, Budget, get_budget
from .fingerprint import fingerprint as fingerprint  # re-exported: the names the chapters and tests import
from .record import RunRecord, read_record
from .studies import RunSpec, get_study, list_studies
from .studies.chapter import CHAPTER, CHAPTER_MODELS, SOURCE_MODEL
from .studies.side import SIDE_MODELS as SIDE_MODELS
from .studies.side import SIDE_RUNS as SIDE_RUNS
from .studies.source import SOURCE

RESULTS = Path(__file__).resolve().parent.parent / "results"


def run_id(model: str, kind: str = "chapter") -> str:
    """The name of study ``kind``'s run of ``model``, the same for every seed: ``resnet20`` (a chapter
    run), ``side-plain56``."""
    return get_study(kind).run_id(model)


def reference_runs(cfg: Budget) -> list[RunSpec]:
    """Every registered study's runs (:mod:`cnnbook.runs.studies`), each at seeds 0 to ``cfg.seeds - 1``
    (all of seed 0 first, study by study), then the runs trained once (:attr:`Study.once`, seed 0)."""
    models, studies = set(list_models()), list_studies()
    every_seed = [s.spec(m, cfg, seed) for seed in range(cfg.seeds) for s in studies for m in s.models if m in models]
    return every_seed + [s.spec(m, cfg) for s in studies for m in s.once if m in models]


def source_model_runs(cfg: Budget) -> list[RunSpec]:
    """The source's ResNet-18 with the chapter recipe (run ``resnet18``) and with the source's recipe for as
    many epochs (``source-resnet18``), seed 0 only: an hour or more each on a CPU."""
    return [study.spec(SOURCE_MODEL, cfg) for study in (CHAPTER, SOURCE)]


def select_runs(
    cfg: Budget,
    only: list[str] | None = None,
    seeds: list[int] | None = None,
    missing: bool = False,
    results: Path = RESULTS,
) -> list[RunSpec]:
    """All reference runs, or those named in ``only``: run ids (``resnet20``, ``side-plain56``: every
    seed), folders (``side-plain56.seed2``: one seed) or a whole study (``chapter``, ``side``,
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


def train_run(spec: RunSpec, data, **fit_options) -> tuple[torch.nn.Module, History]:
    """Train the run ``spec`` on ``data`` (a :class:`~cnnbook.data.CIFAR10`) with its seed, as its study
    trains it (:meth:`~cnnbook.runs.studies.Study.train`), for ``reproduce`` and the chapters alike."""
    return spec.study.train(spec, data, **fit_options)


def load_reference(run_id: str, budget: str, results: Path = RESULTS) -> RunRecord | None:
    """The stored reference run in folder ``run_id`` (a :attr:`RunSpec.folder`) at ``budget``, or None;
    for the package's own ``results``, also the runs ``reproduce`` stored in the user's results folder
    (``CNNBOOK_RESULTS``, :mod:`cnnbook.settings`) when the package's was read-only (the package's first)."""
    for folder in [results] + ([settings.current().results] if results == RESULTS else []):
        if (record := read_record(folder / budget / run_id)) is not None:
            return record
    return None


def matching_reference(
    spec: RunSpec, budget: str, seed: int | None = None, results: Path = RESULTS
) -> tuple[RunRecord | None, str]:
    """The stored run of ``spec`` at ``budget`` if it was trained with exactly this spec and seed
    (``seed`` overrides the spec's); else None and one line saying why."""
    if seed is not None:
        spec = spec.with_seed(seed)
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
