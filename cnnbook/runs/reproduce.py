"""``python -m cnnbook reproduce``: train the book's reference runs and store them with their provenance.

Each run of :func:`cnnbook.runs.reference.reference_runs` goes to ``results/<budget>/<folder>/``:
``history.json`` (per-epoch history and test metrics), ``checkpoint.pt`` (final weights, seed 0
only) and ``provenance.json`` (command, recipe and fingerprint, seed, git commit, versions, device,
number format, wall time, dataset variant).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from torch import nn

from .. import settings
from ..data import load_cifar10
from ..training.checkpoint import save_checkpoint
from ..training.device import default_device
from ..training.recipe import recipe_for
from .budgets import get_budget
from .record import RunRecord, git_commit, provenance, write_predictions, write_record
from .reference import RESULTS, RunSpec, select_runs, train_run
from .rundir import LOCK, acquire_lock, release_lock

# A run whose float32 weights exceed this many bytes stores them in 16-bit floats: ResNet-18's
# checkpoint is 22 MB instead of 45 MB; the small chapter models stay exact.
HALF_WEIGHTS_ABOVE = 10_000_000


def reproduce(
    budget: str,
    only: list[str] | None = None,
    seeds: list[int] | None = None,
    results: Path = RESULTS,
    progress: bool = True,
    missing: bool = False,
) -> list[Path]:
    """Train the reference runs of ``budget`` (all, or those :func:`select_runs` picks from ``only``
    and ``seeds``; with ``missing``, only those not stored yet), seed by seed.

    Each run trains in a hidden folder beside its target (``.<folder>.partial``) and replaces the
    stored run only once it is complete: an interrupted or failed run leaves the stored one as it
    was, and the next ``reproduce`` of it continues from its last finished epoch.
    """
    cfg = get_budget(budget)
    if results == RESULTS and not os.access(RESULTS, os.W_OK):
        results = settings.current().results
        print(f"{RESULTS} is not writable (a shared or system install): storing the runs in {results}, "
              "where the chapters find them too", flush=True)  # fmt: skip
    runs = select_runs(cfg, only, seeds, missing, results)
    device = default_device()
    commit = git_commit()  # the code the runs start from
    data = {}  # CIFAR-10 per seed: the validation split is drawn with the run's seed
    written = []
    for spec in runs:
        if spec.seed not in data:
            data[spec.seed] = load_cifar10(val_subset=cfg.val_subset, test_subset=cfg.test_subset, seed=spec.seed)
        target = results / cfg.name / spec.folder
        partial = target.with_name(f".{spec.folder}.partial")
        partial.mkdir(parents=True, exist_ok=True)
        lock = acquire_lock(partial)  # one reproduce per run
        try:
            _reproduce_one(spec, cfg.name, data[spec.seed], partial, device, commit, progress)
            swap_in(partial, target)
        finally:
            release_lock(lock)
        written.append(target)
    return written


def swap_in(partial: Path, target: Path) -> None:
    """Put the finished run in ``partial`` in place of ``target`` (the stored run, if any)."""
    (partial / LOCK).unlink(missing_ok=True)
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    partial.rename(target)
    if old.exists():
        shutil.rmtree(old)


def _reproduce_one(spec: RunSpec, budget: str, data, out: Path, device, commit, progress: bool) -> Path:
    """Train one reference run into ``out`` (resuming the checkpoint an interrupted run left there)."""
    print(f"[{budget}] {spec.folder}: {spec.recipe.epochs} epochs, seed {spec.seed}", flush=True)
    t0 = time.perf_counter()
    _, record = train_into(spec, budget, data, out, device=device, commit=commit, weights=spec.keeps_weights,
                        progress=progress)  # fmt: skip
    minutes = (time.perf_counter() - t0) / 60
    print(f"[{budget}] {spec.folder}: test accuracy {record.test['accuracy']:.2%}, {minutes:.1f} min", flush=True)
    return out


def train_into(
    spec: RunSpec,
    budget: str,
    data,
    out: Path,
    *,
    device=None,
    commit: str | None = None,
    weights: bool = True,
    test: bool = True,
    **fit_options,
) -> tuple[nn.Module, RunRecord]:
    """Train the run ``spec`` into the folder ``out``, resuming the ``resume.pt`` an interrupted run
    left there; write its run record (:mod:`cnnbook.runs.record`), with ``checkpoint.pt`` if
    ``weights``, and return it with the trained model. Its study trains it and measures what it
    measures (:meth:`~cnnbook.runs.studies.Study.results`: the test set if ``test``). ``reproduce``
    and your runs (:mod:`cnnbook.runs.yours`) both train this way."""
    device = device or default_device()
    options = {"device": device, "checkpoint": out / "resume.pt", "resume": True, **fit_options}
    t0 = time.perf_counter()
    model, history = train_run(spec, data, **options)
    metrics, extra = spec.study.results(spec, model, data, test=test, device=device,
                                        progress=options.get("progress", True))  # fmt: skip
    if "predictions" in metrics:
        write_predictions(out, metrics.pop("predictions"), data.test.labels)
    seconds = time.perf_counter() - t0
    if weights:
        size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
        save_checkpoint(out / "checkpoint.pt", model, half=size > HALF_WEIGHTS_ABOVE)
    (out / "resume.pt").unlink(missing_ok=True)
    details = {"run": spec.describe(), "fingerprint": spec.fingerprint()}
    where = next(model.parameters()).device
    about = provenance(budget, recipe_for(spec.model, spec.recipe), spec.seed, seconds, data.variant, where, commit,
                       **details)  # fmt: skip
    write_record(out, spec.model, history, metrics, about, extra)
    return model, RunRecord(history, metrics, about, out, extra)
