"""Parameter sweeps over a chapter notebook with papermill, collected into one table and figure.

``python -m cnnbook sweep notebooks/01_resnet.ipynb -p MODEL plain20 resnet20 ... --out runs/sweep``
executes the notebook once per value (``BUDGET`` from ``--budget``). Each run writes its figures
through :func:`record_result` into the JSON file named by the notebook's ``RESULT_FILE``
parameter; the sweep gathers them into ``results.md`` and ``results.png``.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def record_result(path: str | Path | None, **values) -> None:
    """Write ``values`` as JSON to ``path`` (a notebook's ``RESULT_FILE``); nothing when ``path`` is None."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values, indent=1))
    tmp.replace(path)


def grid_points(grid: Mapping[str, Sequence]) -> list[dict]:
    """Every combination of the parameter values, in order."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def run_sweep(
    notebook: str | Path, grid: Mapping[str, Sequence], out: str | Path, budget: str = "smoke", kernel: str = "python3"
) -> list[dict]:
    """Execute ``notebook`` for every grid point; returns one row per run (its parameters and results)."""
    import papermill

    notebook, out = Path(notebook), Path(out)
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    rows = []
    for point in grid_points(grid):
        label = "-".join(f"{v}" for v in point.values())
        result = (out / "json" / f"{label}.json").resolve()
        started = time.perf_counter()
        papermill.execute_notebook(
            str(notebook),
            str(out / "notebooks" / f"{notebook.stem}-{label}.ipynb"),
            parameters={**point, "BUDGET": budget, "RESULT_FILE": str(result)},
            kernel_name=kernel,
            progress_bar=False,
            cwd=str(notebook.parent),
        )
        if not result.exists():
            raise RuntimeError(
                f"{notebook} ran with {point} but wrote no result: does it call "
                "cnnbook.sweep.record_result(RESULT_FILE, ...)?"
            )
        row = {
            **point,
            **json.loads(result.read_text()),
            "notebook_minutes": round((time.perf_counter() - started) / 60, 2),
        }
        print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
        rows.append(row)
    write_report(rows, out)
    return rows


def write_report(rows: list[dict], out: Path) -> None:
    """``results.md`` (a Markdown table), ``results.json`` and ``results.png`` in ``out``."""
    from .viz import markdown_table

    (out / "results.json").write_text(json.dumps(rows, indent=1))
    (out / "results.md").write_text(markdown_table(rows, {"test_accuracy": ".2%", "final_train_loss": ".3f"}) + "\n")
    plot_depth_sweep(rows).savefig(out / "results.png", dpi=120)


def plot_depth_sweep(rows: list[dict]):
    """Test accuracy and final training loss against depth, one line per family (``plain``, ``resnet``)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    families: dict[str, list[tuple[int, dict]]] = {}
    for row in rows:
        match = re.fullmatch(r"([a-z_]+?)(\d+)", str(row["model"]))
        family, depth = (match.group(1), int(match.group(2))) if match else (str(row["model"]), 0)
        families.setdefault(family, []).append((depth, row))
    for family, points in families.items():
        points.sort(key=lambda p: p[0])
        depths = [d for d, _ in points]
        axes[0].plot(depths, [100 * r["test_accuracy"] for _, r in points], "o-", label=family)
        axes[1].plot(depths, [r["final_train_loss"] for _, r in points], "o-", label=family)
    for ax, label in zip(axes, ("test accuracy (%)", "final training loss")):
        ax.set_xlabel("depth (layers)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    budget = rows[0].get("budget", "?")
    fig.suptitle(f"Depth sweep at the {budget!r} budget ({len(rows)} runs)")
    fig.tight_layout()
    return fig
