"""Parameter sweeps over a chapter notebook with papermill, collected into one table and figure.

``python -m cnnbook sweep notebooks/01_resnet.ipynb -p MODEL plain20 resnet20 ... --out runs/sweep``
executes the notebook once per value (``BUDGET`` from ``--budget``). Each run writes its figures
through :func:`~cnnbook.book.chapter.record_result` into the JSON file named by the notebook's ``RESULT_FILE``
parameter; the sweep gathers them into ``results.md`` and ``results.png``.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..storage import write_bytes, write_json

SWEEP_FILES = ("results.json", "results.md", "results.png")
# Parameters the sweep sets itself: BUDGET from --budget, RESULT_FILE per run.
SET_BY_SWEEP = ("BUDGET", "RESULT_FILE")


class SweepError(RuntimeError):
    """A sweep's grid does not fit its notebook, or one of its runs failed."""


def grid_points(grid: Mapping[str, Sequence]) -> list[dict]:
    """Every combination of the parameter values, in order."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def notebook_parameters(notebook: str | Path) -> dict:
    """The names and default values assigned in ``notebook``'s cell tagged ``parameters``."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise SweepError(f"{notebook} has no cell tagged 'parameters': papermill cannot set its parameters")
    defaults = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                defaults[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                defaults[node.targets[0].id] = None  # an expression: any value goes
    return defaults


def check_grid(notebook: str | Path, grid: Mapping[str, Sequence]) -> None:
    """Raise :class:`SweepError` naming the first grid entry the notebook cannot run, before anything runs."""
    from ..models import get_builder

    defaults = notebook_parameters(notebook)
    missing = [name for name in SET_BY_SWEEP if name not in defaults]
    if missing:
        raise SweepError(f"{notebook}'s parameters cell lacks {', '.join(missing)}, which a sweep sets: add them")
    for name, values in grid.items():
        if name in SET_BY_SWEEP:
            raise SweepError(f"-p {name}: the sweep sets {name} itself (use --budget for the budget)")
        if name not in defaults:
            valid = ", ".join(n for n in defaults if n not in SET_BY_SWEEP)
            raise SweepError(f"{notebook} has no parameter {name}; its parameters: {valid}")
        default = defaults[name]
        for value in values:
            if name == "MODEL":
                try:
                    get_builder(value)
                except ValueError as exc:
                    raise SweepError(f"-p MODEL: {exc}") from None
            elif default is not None and not _same_kind(value, default):
                raise SweepError(
                    f"-p {name} {value!r}: expected a value of the default's type ({type(default).__name__}, "
                    f"default {default!r})"
                )


def _same_kind(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and (isinstance(default, float) or isinstance(value, int))
    return isinstance(value, type(default))


def run_sweep(
    notebook: str | Path,
    grid: Mapping[str, Sequence],
    out: str | Path,
    budget: str = "smoke",
    kernel: str = "python3",
    resume: bool = False,
) -> list[dict]:
    """Execute ``notebook`` for every grid point; returns one row per run (its parameters and results).

    The grid is checked against the notebook first; the report is rewritten after every run, so
    a run that fails keeps the results of the runs before it. With ``resume``, a grid point whose
    executed notebook and result (at the same budget) are already in ``out`` is not run again.
    """
    import papermill

    notebook, out = Path(notebook), Path(out)
    check_grid(notebook, grid)
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    points = grid_points(grid)
    rows = []
    for i, point in enumerate(points, 1):
        label = "-".join(f"{v}" for v in point.values())
        result = (out / "json" / f"{label}.json").resolve()
        executed = out / "notebooks" / f"{notebook.stem}-{label}.ipynb"
        if resume and (finished := _finished(result, executed, budget)) is not None:
            print(f"run {i}/{len(points)} ({_describe(point)}): finished before, kept", flush=True)
            rows.append({**point, **finished})
            write_report(rows, out)
            continue
        result.unlink(missing_ok=True)  # a stale result must not pass for this run's
        started = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters={**point, "BUDGET": budget, "RESULT_FILE": str(result)},
                kernel_name=kernel,
                progress_bar=False,
                cwd=str(notebook.parent),
            )
        except papermill.PapermillExecutionError as exc:
            kept = f"the {len(rows)} finished runs are in {out / 'results.md'}" if rows else "no run had finished"
            raise SweepError(
                f"run {i}/{len(points)} ({_describe(point)}) failed: {exc.ename}: {_first_line(exc.evalue)}. "
                f"See {executed}; {kept}"
            ) from None
        if not result.exists():
            raise SweepError(
                f"{notebook} ran with {point} but wrote no result: does it call "
                "cnnbook.book.chapter.record_result(RESULT_FILE, ...)?"
            )
        minutes = round((time.perf_counter() - started) / 60, 2)
        recorded = {**json.loads(result.read_text()), "notebook_minutes": minutes}
        write_json(result, recorded)  # with its minutes, for a resumed sweep's report
        row = {**point, **recorded}
        print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
        rows.append(row)
        write_report(rows, out)
    return rows


def _finished(result: Path, executed: Path, budget: str) -> dict | None:
    """The recorded result of a run that finished at ``budget`` (None if it did not, or at another budget)."""
    if not (result.exists() and executed.exists()):
        return None
    try:
        recorded = json.loads(result.read_text())
    except (OSError, ValueError):
        return None
    return recorded if recorded.get("budget") == budget else None


def _describe(point: Mapping) -> str:
    return ", ".join(f"{k} {v}" for k, v in point.items())


def _first_line(text: str) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else "no details"


def write_report(rows: list[dict], out: Path) -> None:
    """``results.md`` (a Markdown table), ``results.json`` and ``results.png`` in ``out``, each replaced atomically."""
    import io

    import matplotlib.pyplot as plt

    from .viz import markdown_table

    write_json(out / "results.json", rows)
    table = markdown_table(rows, {"test_accuracy": ".2%", "final_train_loss": ".3f"}) + "\n"
    write_bytes(out / "results.md", table.encode())
    figure, png = plot_depth_sweep(rows), io.BytesIO()
    figure.savefig(png, format="png", dpi=120)
    plt.close(figure)
    write_bytes(out / "results.png", png.getvalue())


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
