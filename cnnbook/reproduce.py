"""``python -m cnnbook reproduce``: train the book's reference runs and store them with their provenance.

Each run of :func:`cnnbook.reference.reference_runs` goes to ``results/<budget>/<folder>/``:
``history.json`` (per-epoch history and test metrics), ``checkpoint.pt`` (final weights, seed 0
only) and ``provenance.json`` (command, recipe and fingerprint, seed, git commit, versions, device,
number format, wall time, dataset variant).
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from . import class_transfer
from .budgets import get_budget
from .checkpoint import save_checkpoint
from .data import load_cifar10
from .device import default_device, resolve_precision
from .evaluation import evaluate, evaluate_with_flip
from .recipe import recipe_for
from .reference import RESULTS, RunSpec, select_runs, train_run
from .rundir import LOCK, acquire_lock, release_lock, write_json


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
    seed = spec.seed
    print(f"[{budget}] {spec.folder}: {spec.recipe.epochs} epochs, seed {seed}", flush=True)
    options = {"device": device, "checkpoint": out / "resume.pt", "resume": True, "progress": progress}
    t0 = time.perf_counter()
    extra = {}
    if spec.kind == "transfer":
        model, history = class_transfer.pretrain(spec.model, spec.recipe, data, seed=seed, **options)
        test = evaluate(model, class_transfer.classes_of(data.test, class_transfer.SOURCE_CLASSES))
        settings = class_transfer.FewShot(**spec.extra["few_shot"])
        extra["few_shot"] = class_transfer.compare(model, spec.model, data, settings, seed=seed, device=device)
    else:
        model, history = train_run(spec, data, **options)
        test = evaluate_with_flip(model, data.test, precision=spec.recipe.precision)
    seconds = time.perf_counter() - t0
    if spec.keeps_weights:
        save_checkpoint(out / "checkpoint.pt", model)
    (out / "resume.pt").unlink(missing_ok=True)
    write_json(out / "provenance.json", provenance(budget, spec, seconds, data.variant, device, commit))
    write_json(out / "history.json", {"model": spec.model, "test": test, **extra, **history.to_dict()})
    print(f"[{budget}] {spec.folder}: test accuracy {test['accuracy']:.2%}, {seconds / 60:.1f} min", flush=True)
    return out


def provenance(
    budget: str, spec: RunSpec, seconds: float, variant: str, device: torch.device, commit: str | None
) -> dict:
    """Everything needed to say where a reference number came from, and whether it still matches the code."""
    return {
        "command": " ".join(["python -m cnnbook", *sys.argv[1:]]),
        "budget": budget,
        "run": {"model": spec.model, "kind": spec.kind, "extra": spec.extra},
        "recipe": recipe_for(spec.model, spec.recipe).as_dict(),
        "fingerprint": spec.fingerprint(),
        "seed": spec.seed,
        "git_commit": commit,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else cpu_name(),
        "threads": torch.get_num_threads(),
        "precision": resolve_precision(spec.recipe.precision, device),
        "wall_minutes": round(seconds / 60, 2),
        "dataset_variant": variant,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def git_commit() -> str | None:
    """The commit the code runs from (``-dirty`` if tracked files changed), or None outside git."""
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        return commit.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def cpu_name() -> str:
    """The CPU's model name."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"
