"""One record of a finished run, written by ``train`` and ``reproduce`` alike and read back by the book.

A run's folder holds ``provenance.json`` (where, when and how it ran: command, budget, recipe, seed,
git commit, versions, device, number format, wall time, dataset variant; a reference run adds its
fingerprint), ``test_predictions.json`` (the class predicted for every test image, which paired
comparisons read: :mod:`cnnbook.analysis.spread`) and ``history.json`` (the model, the per-epoch
records, the test metrics and any other results), written last: a folder with a ``history.json``
holds a finished run.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from .. import settings
from ..data import TRAIN_IMAGES
from ..models import get_model
from ..storage import write_bytes, write_json
from ..training.checkpoint import load_checkpoint
from ..training.device import resolve_precision
from ..training.history import History
from ..training.recipe import Recipe


@dataclass
class RunRecord:
    """A finished run read back from its folder."""

    history: History
    test: dict
    provenance: dict
    path: Path
    extra: dict = field(default_factory=dict)  # other results stored with the run (history.json)

    @property
    def label(self) -> str:
        p = self.provenance
        return f"reference ({p['budget']}, {p['device_name']}, {p['wall_minutes']:.1f} min)"

    @property
    def train_images(self) -> int:
        """The training images its recipe drew from: its ``subset``, else the whole training split."""
        return self.provenance["recipe"].get("subset") or TRAIN_IMAGES

    @property
    def summary(self) -> str:
        """One line: which run this is, where and when it ran."""
        p = self.provenance
        commit = (p.get("git_commit") or "unknown commit")[:7]
        return (
            f"{p['run']['model']} at budget {p['budget']!r}: {len(self.history)} epochs, trained on "
            f"{p['device_name']} ({p['device']}, {p['precision']}) in {p['wall_minutes']:.1f} min at commit {commit}"
        )

    @property
    def correct(self) -> list[bool] | None:
        """Whether it classified each test image correctly, in the test split's order (None: not stored)."""
        path = self.path / PREDICTIONS
        if not path.exists():
            return None
        stored = json.loads(path.read_text())
        return [p == y for p, y in zip(stored["predictions"], stored["labels"])]

    def model(self, device: torch.device | str = "cpu"):
        """The run's trained model (eval mode), from the folder's ``checkpoint.pt``."""
        run = self.provenance["run"]
        model = build_model(run["model"], builder_arguments(run))
        load_checkpoint(self.path / "checkpoint.pt", model)
        return model.to(device).eval()


# Runs stored before a run recorded its builder arguments apart (provenance ``run.builder``) kept them
# among its experiment settings (``run.extra``): these keys of it.
LEGACY_BUILDER_KEYS = ("num_classes", "aux_logits")


def builder_arguments(run: dict) -> dict:
    """The builder arguments of the run a provenance's ``run`` entry describes."""
    if "builder" in run:
        return run["builder"]
    return {k: v for k, v in run.get("extra", {}).items() if k in LEGACY_BUILDER_KEYS}


def build_model(model: str, builder: dict | None = None):
    """Registry model ``model`` built with the keyword arguments ``builder`` (``aux_logits``, ``num_classes``)."""
    return get_model(model, **(builder or {}))


def write_record(out: Path, model: str, history: History, test: dict, about: dict, extra: dict | None = None) -> None:
    """Write a finished run of registry model ``model`` into ``out``: ``about`` (:func:`provenance`) to
    ``provenance.json``, then ``history.json``."""
    write_json(out / "provenance.json", about)
    write_json(out / "history.json", {"model": model, "test": test, **(extra or {}), **history.to_dict()})


PREDICTIONS = "test_predictions.json"


def write_predictions(out: Path, predictions: torch.Tensor, labels: torch.Tensor) -> None:
    """Store the class predicted for every test image and its label (a few kB) in ``out``."""
    stored = {"predictions": predictions.tolist(), "labels": labels.tolist()}
    write_bytes(out / PREDICTIONS, json.dumps(stored, separators=(",", ":")).encode())


def read_record(out: Path) -> RunRecord | None:
    """The finished run in folder ``out``, or None if it holds none."""
    if not (out / "history.json").exists():
        return None
    record = json.loads((out / "history.json").read_text())
    extra = {k: v for k, v in record.items() if k not in ("model", "test", "records")}
    about = json.loads((out / "provenance.json").read_text())
    recipe = about.get("recipe", {})  # its small-image epochs, shaded on every plot of the run
    history = History(record["records"], recipe.get("small_epochs", 0), recipe.get("small_size", 0))
    return RunRecord(history, record["test"], about, out, extra)


def provenance(
    budget: str,
    recipe: Recipe,
    seed: int,
    seconds: float,
    variant: str,
    device: torch.device,
    commit: str | None,
    **details,
) -> dict:
    """Everything needed to say where a number came from (``details``: what the writer adds, such as
    the run and its fingerprint). ``settings`` holds, in one dict, every setting the run was made
    with: the run, its budget, recipe, seed, device, number format and threads, and the package's
    settings (:func:`cnnbook.settings.current`) with where each came from."""
    precision = resolve_precision(recipe.precision, device)
    resolved = {
        "budget": budget,
        **{k: details[k] for k in ("run", "processes") if k in details},
        "recipe": recipe.as_dict(),
        "seed": seed,
        "device": str(device),
        "precision": precision,
        "threads": torch.get_num_threads(),
        "dataset_variant": variant,
        "environment": settings.current().as_dict(),
    }
    return {
        "command": " ".join(["python -m cnnbook", *sys.argv[1:]]),
        "budget": budget,
        **details,
        "recipe": recipe.as_dict(),
        "seed": seed,
        "git_commit": commit,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else cpu_name(),
        "threads": resolved["threads"],
        "precision": precision,
        "wall_minutes": round(seconds / 60, 2),
        "dataset_variant": variant,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": resolved,
    }


def git_commit() -> str | None:
    """The commit the code runs from (``-dirty`` if tracked files changed), or None outside git."""
    try:
        root = Path(__file__).resolve().parents[2]
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
