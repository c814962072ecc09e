"""Your runs: every model a chapter trains live is kept in a per-user folder, so a restarted kernel
(or the next day) shows it again without training, and a kernel that died mid-run resumes.

The folder is ``CNNBOOK_RUNS`` if set, else ``$XDG_DATA_HOME/cnnbook/runs`` (``~/.local/share/...``),
never inside the package. A run lives in ``<budget>/<run folder>-<fingerprint>/``: while it trains,
``resume.pt`` after every epoch; once finished, ``checkpoint.pt`` (the weights) and the run
record (:mod:`cnnbook.runs.record`). The folder is kept under ``CNNBOOK_RUNS_MAX_MB`` (default
500 MB) by removing the oldest finished runs; ``python -m cnnbook runs`` lists and removes them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from torch import nn

from .. import settings
from ..storage import CheckpointError, safe_load
from .record import RunRecord, git_commit, read_record, write_record
from .reference import RunSpec
from .reproduce import train_into

PACKAGE = Path(__file__).resolve().parents[1]


class RunsFolderError(RuntimeError):
    """The runs folder cannot be used; the message says why and what to do."""


def runs_dir() -> Path:
    """Where your runs are kept: ``CNNBOOK_RUNS``, else the per-user data folder (:mod:`cnnbook.settings`)."""
    folder = settings.current().runs
    if folder.resolve().is_relative_to(PACKAGE):
        raise RunsFolderError(
            f"CNNBOOK_RUNS={folder} is inside the cnnbook package, which an update replaces: choose another folder"
        )
    return folder


def max_bytes() -> int:
    """The most disk your runs may use (``CNNBOOK_RUNS_MAX_MB``, default 500 MB)."""
    return int(settings.current().runs_max_mb * 2**20)


def run_path(spec: RunSpec, budget: str) -> Path:
    """The folder of your run of ``spec`` at ``budget``: its name holds the fingerprint, so another
    recipe, seed or code version is another run."""
    return runs_dir() / budget / f"{spec.folder}-{spec.fingerprint()}"


def find(spec: RunSpec, budget: str) -> RunRecord | None:
    """Your finished run of exactly ``spec`` at ``budget``, or None."""
    return read_record(run_path(spec, budget))


def unfinished_epochs(spec: RunSpec, budget: str) -> int:
    """How many epochs an interrupted run of ``spec`` finished (0: none to resume)."""
    folder = run_path(spec, budget)
    return 0 if (folder / "history.json").exists() else epochs_done(folder)


def epochs_done(folder: Path) -> int:
    """The epochs the ``resume.pt`` in ``folder`` holds (0: none, or unreadable)."""
    try:
        return int(safe_load(folder / "resume.pt")["epoch"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        return 0


def train(spec: RunSpec, budget: str, data, *, device=None, **fit_options) -> tuple[nn.Module, RunRecord]:
    """Train ``spec`` (resuming an interrupted run of it), keep it as your run, and return the model
    and its record. ``fit_options``: ``progress``, ``callbacks``."""
    folder = run_path(spec, budget)
    if (folder / "history.json").exists():  # training again replaces the finished run
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # every seed's weights: your runs are shown with them; the chapter measures the test set itself
    model, record = train_into(spec, budget, data, folder, device=device, commit=git_commit(), test=False,
                               **fit_options)  # fmt: skip
    keep_within_limit(protect=folder)
    return model, record


def record_test(folder: Path, test: dict) -> None:
    """Store the test metrics a chapter measured for your run in ``folder`` (the numbers; predictions stay out)."""
    record = read_record(folder)
    test = {k: v for k, v in test.items() if isinstance(v, (int, float))}
    if record is not None:
        model = record.provenance["run"]["model"]
        write_record(folder, model, record.history, test, record.provenance, record.extra)


@dataclass
class YourRun:
    """One of your runs, as ``python -m cnnbook runs`` lists it."""

    path: Path
    budget: str
    model: str
    seed: int
    epochs: int
    accuracy: float | None  # test accuracy, else the last validation accuracy
    measured_on: str  # "test" or "val"
    finished: str  # ISO time, or "" for an unfinished run
    size: int  # bytes

    @property
    def name(self) -> str:
        """What ``python -m cnnbook runs --remove`` takes: ``<budget>/<folder>``."""
        return f"{self.budget}/{self.path.name}"


def list_runs() -> list[YourRun]:
    """Every run in your runs folder, newest first."""
    root = runs_dir()
    found = []
    for path in sorted(p for p in root.glob("*/*") if p.is_dir()):
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        record = read_record(path)
        if record is None:
            epochs = epochs_done(path)
            found.append(YourRun(path, path.parent.name, path.name.rsplit("-", 1)[0], 0, epochs, None, "", "", size))
            continue
        p = record.provenance
        test = record.test.get("accuracy")
        accuracy = test if test is not None else record.history.last.get("val_acc")
        found.append(YourRun(path, p["budget"], p["run"]["model"], p["seed"], len(record.history), accuracy,
                             "test" if test is not None else "val", p["finished"], size))  # fmt: skip
    return sorted(found, key=lambda r: r.finished or "9999", reverse=True)


def remove(names: list[str]) -> list[str]:
    """Delete the runs named as ``list_runs`` names them (``<budget>/<folder>``); unknown names are an error."""
    runs = {r.name: r for r in list_runs()}
    unknown = [n for n in names if n not in runs]
    if unknown:
        valid = ", ".join(runs) or "none: no runs are kept yet"
        raise RunsFolderError(f"no run named {', '.join(unknown)} in {runs_dir()}; runs: {valid}")
    for name in names:
        shutil.rmtree(runs[name].path)
    return names


def keep_within_limit(protect: Path | None = None) -> list[str]:
    """Remove the oldest finished runs (never ``protect``, never an unfinished one) until the folder
    fits :func:`max_bytes`; say which in one line each."""
    limit, removed = max_bytes(), []
    runs = list_runs()
    total = sum(r.size for r in runs)
    for run in sorted((r for r in runs if r.finished and r.path != protect), key=lambda r: r.finished):
        if total <= limit:
            break
        shutil.rmtree(run.path)
        total -= run.size
        removed.append(run.name)
        print(f"your runs: removed the oldest, {run.name}, to stay under {limit / 2**20:.0f} MB (CNNBOOK_RUNS_MAX_MB)")
    return removed


def when(iso: str) -> str:
    """An ISO time as the learner's local "3 Dec 14:05"."""
    return datetime.fromisoformat(iso).astimezone().strftime("%-d %b %H:%M")
