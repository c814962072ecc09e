"""``python -m cnnbook reproduce``: train the book's reference runs and store them with their provenance.

Each run of :func:`cnnbook.reference.reference_runs` goes to ``results/<budget>/<run>/``:
``history.json`` (per-epoch history and test metrics), ``checkpoint.pt`` (final weights) and
``provenance.json`` (command, recipe and fingerprint, seed, git commit, versions, device,
number format, wall time, dataset variant).
"""

from __future__ import annotations

import platform
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
from .reference import RESULTS, RunSpec, select_runs
from .rundir import acquire_lock, release_lock, write_json
from .train import train_model


def reproduce(
    budget: str, only: list[str] | None = None, seed: int = 0, results: Path = RESULTS, progress: bool = True
) -> list[Path]:
    """Train the reference runs of ``budget`` (all, or those :func:`select_runs` picks from ``only``)."""
    cfg = get_budget(budget)
    runs = select_runs(cfg, only)
    device = default_device()
    commit = git_commit()  # the code the runs start from
    data = load_cifar10(val_subset=cfg.val_subset, seed=seed)
    written = []
    for spec in runs:
        out = results / cfg.name / spec.run_id
        out.mkdir(parents=True, exist_ok=True)
        lock = acquire_lock(out)  # one reproduce per run folder
        try:
            written.append(_reproduce_one(spec, cfg.name, data, out, seed, device, commit, progress))
        finally:
            release_lock(lock)
    return written


def _reproduce_one(spec: RunSpec, budget: str, data, out: Path, seed: int, device, commit, progress: bool) -> Path:
    """Train one reference run into ``out``. The old history goes first and the new one last, so a
    crash never leaves a history beside weights of another run."""
    (out / "history.json").unlink(missing_ok=True)
    print(f"[{budget}] {spec.run_id}: {spec.recipe.epochs} epochs", flush=True)
    options = {"device": device, "checkpoint": out / "resume.pt", "resume": True, "progress": progress}
    t0 = time.perf_counter()
    extra = {}
    if spec.kind == "transfer":
        model, history = class_transfer.pretrain(spec.model, spec.recipe, data, seed=seed, **options)
        test = evaluate(model, class_transfer.classes_of(data.test, class_transfer.SOURCE_CLASSES))
        settings = class_transfer.FewShot(**spec.extra["few_shot"])
        extra["few_shot"] = class_transfer.compare(model, spec.model, data, settings, seed=seed, device=device)
    else:
        model, history = train_model(spec.model, spec.recipe, data, seed=seed, **options)
        test = evaluate_with_flip(model, data.test, precision=spec.recipe.precision)
    seconds = time.perf_counter() - t0
    save_checkpoint(out / "checkpoint.pt", model)
    (out / "resume.pt").unlink(missing_ok=True)
    write_json(out / "provenance.json", provenance(budget, spec, seed, seconds, data.variant, device, commit))
    write_json(out / "history.json", {"model": spec.model, "test": test, **extra, **history.to_dict()})
    print(f"[{budget}] {spec.run_id}: test accuracy {test['accuracy']:.2%}, {seconds / 60:.1f} min", flush=True)
    return out


def provenance(
    budget: str, spec: RunSpec, seed: int, seconds: float, variant: str, device: torch.device, commit: str | None
) -> dict:
    """Everything needed to say where a reference number came from, and whether it still matches the code."""
    return {
        "command": " ".join(["python -m cnnbook", *sys.argv[1:]]),
        "budget": budget,
        "run": {"model": spec.model, "kind": spec.kind, "extra": spec.extra},
        "recipe": recipe_for(spec.model, spec.recipe).as_dict(),
        "fingerprint": spec.fingerprint(seed),
        "seed": seed,
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
