"""Reference runs: the book's models trained at a budget, stored with their provenance.

``python -m cnnbook reproduce --budget quick`` trains every run of :func:`reference_runs`
and writes ``results/<budget>/<run>/`` with ``history.json`` (per-epoch history and test
metrics), ``checkpoint.pt`` (final weights only) and ``provenance.json`` (command, seed, git
commit, versions, device, wall time, dataset variant). Chapters plot their live run next to
the reference of the same model and budget with :func:`load_reference`.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from .budgets import Budget, get_budget
from .checkpoint import save_checkpoint
from .data import load_cifar10
from .models import get_model, list_models
from .train import History, default_device, evaluate, fit, resolve_precision, set_seed

RESULTS = Path(__file__).resolve().parent.parent / "results"
CHAPTER_MODELS = ("resnet20", "googlenet_cifar", "densenet_cifar")
DEGRADATION_MODELS = ("plain20", "plain56", "resnet20", "resnet56")
# The degradation runs compare final training losses that differ by tenths after a few epochs, where any
# perturbation (another seed, bf16 rounding) moves them by a similar amount: they run in fp32.
DEGRADATION_PRECISION = "fp32"


@dataclass(frozen=True)
class RunSpec:
    """One reference run: a model, trained at the chapter scale or the side-experiment scale."""

    model: str
    kind: str  # "chapter" or "degradation"
    epochs: int
    subset: int | None
    batch_size: int
    lr: float
    precision: str = "auto"  # see cnnbook.train.fit

    @property
    def run_id(self) -> str:
        return self.model if self.kind == "chapter" else f"{self.kind}-{self.model}"


def reference_runs(cfg: Budget) -> list[RunSpec]:
    """The chapter models at the budget's main scale; the degradation set at its side scale."""
    runs = [
        RunSpec(m, "chapter", cfg.epochs, cfg.subset, cfg.batch_size, cfg.lr)
        for m in CHAPTER_MODELS
        if m in list_models()
    ]
    runs += [
        RunSpec(
            m, "degradation", cfg.side_epochs, cfg.side_subset, cfg.side_batch_size, cfg.side_lr, DEGRADATION_PRECISION
        )
        for m in DEGRADATION_MODELS
    ]
    return runs


def select_runs(cfg: Budget, only: list[str] | None = None) -> list[RunSpec]:
    """All reference runs, or those named in ``only``: run ids (``resnet20``, ``degradation-plain56``)
    or a whole kind (``chapter``, ``degradation``)."""
    runs = [r for r in reference_runs(cfg) if not only or r.run_id in only or r.kind in only]
    if only and not runs:
        valid = sorted({r.run_id for r in reference_runs(cfg)} | {r.kind for r in reference_runs(cfg)})
        raise ValueError(f"--only {' '.join(only)} matches no reference run; valid: {', '.join(valid)}")
    return runs


def provenance(
    cfg: Budget, spec: RunSpec, seed: int, seconds: float, variant: str, device: torch.device, commit: str | None
) -> dict:
    """Everything needed to say where a reference number came from."""
    return {
        "command": " ".join(["python -m cnnbook", *sys.argv[1:]]),
        "budget": cfg.name,
        "run": spec.__dict__,
        "seed": seed,
        "git_commit": commit,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else _cpu_name(),
        "threads": torch.get_num_threads(),
        "precision": resolve_precision(spec.precision, device),
        "wall_minutes": round(seconds / 60, 2),
        "dataset_variant": variant,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def reproduce(
    budget: str, only: list[str] | None = None, seed: int = 0, results: Path = RESULTS, progress: bool = True
) -> list[Path]:
    """Train the reference runs of ``budget`` (all, or those :func:`select_runs` picks from ``only``)."""
    cfg = get_budget(budget)
    runs = select_runs(cfg, only)
    device = default_device()
    commit = _git_commit()  # the code the runs start from
    written = []
    for spec in runs:
        out = results / cfg.name / spec.run_id
        out.mkdir(parents=True, exist_ok=True)
        data = load_cifar10(subset=spec.subset, val_subset=cfg.val_subset, seed=seed)
        set_seed(seed)
        model = get_model(spec.model)
        print(f"[{cfg.name}] {spec.run_id}: {spec.epochs} epochs on {len(data.train):,} images", flush=True)
        t0 = time.perf_counter()
        history = fit(
            model,
            data.train,
            data.val,
            epochs=spec.epochs,
            batch_size=spec.batch_size,
            lr=spec.lr,
            seed=seed,
            device=device,
            checkpoint=out / "resume.pt",
            resume=True,
            progress=progress,
            precision=spec.precision,
        )
        seconds = time.perf_counter() - t0
        test = evaluate(model, data.test, precision=spec.precision)
        save_checkpoint(out / "checkpoint.pt", model)
        (out / "resume.pt").unlink(missing_ok=True)
        (out / "history.json").write_text(
            json.dumps({"model": spec.model, "test": test, **history.to_dict()}, indent=1)
        )
        record = provenance(cfg, spec, seed, seconds, data.variant, device, commit)
        (out / "provenance.json").write_text(json.dumps(record, indent=1))
        print(f"[{cfg.name}] {spec.run_id}: test accuracy {test['accuracy']:.2%}, {seconds / 60:.1f} min", flush=True)
        written.append(out)
    return written


@dataclass
class Reference:
    """A stored reference run."""

    history: History
    test: dict
    provenance: dict
    path: Path

    @property
    def label(self) -> str:
        p = self.provenance
        return f"reference ({p['budget']}, {p['device_name']}, {p['wall_minutes']} min)"

    def model(self):
        """The reference run's trained model (CPU, eval mode)."""
        from .checkpoint import load_checkpoint

        model = get_model(self.provenance["run"]["model"])
        load_checkpoint(self.path / "checkpoint.pt", model)
        return model.eval()


def load_reference(run_id: str, budget: str, results: Path = RESULTS) -> Reference | None:
    """The committed reference run ``run_id`` at ``budget``, or None if there is none."""
    path = results / budget / run_id
    if not (path / "history.json").exists():
        return None
    record = json.loads((path / "history.json").read_text())
    return Reference(
        History(record["records"]), record["test"], json.loads((path / "provenance.json").read_text()), path
    )


def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        return commit.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def reference_table(
    budgets: tuple[str, ...] = ("quick", "full"), run_ids: tuple[str, ...] = CHAPTER_MODELS, results: Path = RESULTS
) -> list[dict]:
    """One row per committed reference run: model, budget, epochs, wall minutes, test accuracy, device.

    Budgets without any committed run get a row that says so, so their absence stays visible.
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
                    "device": f"python -m cnnbook reproduce --budget {budget}",
                }
            )
        for run_id, ref in found:
            p = ref.provenance
            rows.append(
                {
                    "model": run_id,
                    "budget": budget,
                    "epochs": len(ref.history),
                    "minutes": p["wall_minutes"],
                    "test accuracy": f"{ref.test['accuracy']:.2%}",
                    "device": f"{p['device_name']} ({p['device']}, {p['threads']} threads)",
                }
            )
    return rows


def longest_reference(run_id: str, results: Path = RESULTS) -> Reference | None:
    """The committed reference of ``run_id`` trained longest (``full`` over ``quick``), or None."""
    found = [r for b in ("full", "quick", "smoke") if (r := load_reference(run_id, b, results)) is not None]
    return max(found, key=lambda r: len(r.history), default=None)


def reference_curves(run_id: str, budget: str, results: Path = RESULTS) -> dict[str, History]:
    """``{label: history}`` of the committed reference of ``run_id`` at ``budget``; empty (and says so) if none."""
    reference = load_reference(run_id, budget, results)
    if reference is None:
        print(
            f"No committed reference run of {run_id} at budget {budget!r} to compare with "
            f"(python -m cnnbook reproduce --budget {budget} --only {run_id} makes one)."
        )
        return {}
    return {reference.label: reference.history}


def best_trained(
    model: torch.nn.Module, history: History, run_id: str, budget: str, results: Path = RESULTS
) -> tuple[torch.nn.Module, str]:
    """The longest committed reference model of ``run_id`` if it trained longer than ``history``,
    else ``model``; with a label that says which one it is."""
    longest = longest_reference(run_id, results)
    if longest is not None and len(longest.history) > len(history):
        return longest.model(), longest.label
    return model, f"this run ({budget}, {len(history)} epochs)"
