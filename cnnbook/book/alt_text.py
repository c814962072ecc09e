"""Alt text for the book's figures, written from the data each plot function draws.

:func:`describe` gives a figure its text; when the figure is displayed (``plt.show()`` in a kernel, or
``display(fig)``), the text travels as the output's metadata (``{"image/png": {"alt": ...}}``), and the
book's Sphinx extension ``book/_ext/output_alt.py`` writes it into the page's ``<img alt=...>``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

from matplotlib.figure import Figure

IMAGE = "image/png"  # the format the kernel draws figures in (matplotlib-inline's default)


def describe(fig: Figure, text: str, append: bool = False) -> Figure:
    """Give ``fig`` the alt text ``text`` (after the one it has, with ``append``); returns ``fig``."""
    old = getattr(fig, "alt_text", "")
    fig.alt_text = f"{old} {text}" if append and old else text
    # IPython's display reads an object's _repr_mimebundle_ first: this one adds only metadata, so the
    # picture still comes from the kernel's matplotlib formatter.
    fig._repr_mimebundle_ = lambda include=None, exclude=None: ({}, {IMAGE: {"alt": fig.alt_text}})
    return fig


def series(names: Iterable[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    names = [str(n) for n in names]
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"


def titled(title: str | None, text: str) -> str:
    """``text`` after the figure's title, if it has one."""
    return f"{title}: {text}" if title else text[:1].upper() + text[1:]


def seeds(n: int) -> str:
    words = {1: "one seed", 2: "two seeds", 3: "three seeds", 4: "four seeds", 5: "five seeds"}
    return words.get(n, f"{n} seeds")


def small_epochs(epochs: int, size: int) -> str:
    """The note on shaded small-image epochs, or "" when there are none."""
    if not epochs:
        return ""
    at = f"at {size} px" if size else "on smaller images"
    return f" The first {epochs} epoch{'s' * (epochs > 1)}, trained {at}, are shaded."


def seed_values(value) -> tuple[float, float, int]:
    """(mean, standard deviation, seeds) of a result: a Spread (anything with ``mean``, ``sd`` and ``n``),
    a sequence of seed values, or one number (sd 0, one seed)."""
    if all(hasattr(value, a) for a in ("mean", "sd", "n")):
        return float(value.mean), float(value.sd), int(value.n)
    if isinstance(value, Sequence) and not isinstance(value, str):
        values = [float(v) for v in value]
        if not values or not all(math.isfinite(v) for v in values):
            raise ValueError(f"seed values must be finite numbers, at least one; got {list(value)!r}")
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values)
    return float(value), 0.0, 1


def plus_minus(mean: float, sd: float, n: int, unit: str = "") -> str:
    """``"85.2 ± 0.4 % (sd of three seeds)"``, or ``"85.2 %"`` for one seed."""
    return f"{mean:.1f} ± {sd:.1f}{unit} (sd of {seeds(n)})" if n > 1 else f"{mean:.1f}{unit}"


def panels(names: Sequence[str], kind: str = "panels") -> str:
    """``" in 3 panels (a, b and c)"``; nothing for a single panel."""
    return f" in {len(names)} {kind} ({series(names)})" if len(names) > 1 else ""
