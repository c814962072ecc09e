"""The book's one figure style: fonts readable at the site's column width, and one colour per model.

Every plot function of :mod:`cnnbook.book.viz` draws with :data:`STYLE` (:func:`styled`), at most
:data:`COLUMN_INCHES` wide, and colours a series by its name (:func:`colors_for`), so that resnet20 has
the same colour in every chapter.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import matplotlib.pyplot as plt
from matplotlib import cycler

# Okabe and Ito's colour-blind-safe palette (yellow last: it is faint on white).
BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, BLACK, YELLOW = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442",
)  # fmt: skip
COLORS = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, BLACK, YELLOW]

# One colour per model and per arm the chapters compare, whatever figure draws it. Names that appear in
# one figure together differ: a pair of depths, the chapter models (resnet20, googlenet_cifar,
# densenet_cifar, resnet18), the arms of one comparison.
MODEL_COLORS = {
    "resnet20": BLUE,
    "resnet56": SKY,
    "resnet18": BLACK,
    "plain20": VERMILLION,
    "plain56": ORANGE,
    "preact_resnet20": GREEN,
    "preact_resnet56": PURPLE,
    "inception_net": PURPLE,
    "googlenet_cifar": ORANGE,
    "densenet_cifar": GREEN,
    # Chapter 2's auxiliary heads ("with heads", "without heads")
    "with": BLUE,
    "without": VERMILLION,
    # Chapter 1's two ResNet-18 recipes
    "chapter recipe": BLUE,
    "textbook recipe": VERMILLION,
    # Chapter 1's transfer learners
    "frozen": GREEN,
    "fine-tune": BLUE,
    "from scratch": BLACK,
    # Chapter 3's two DenseNet implementations
    "standard": BLUE,
    "memory-efficient": GREEN,
}

# A cell's output in the site's column is 688 px wide (1280 px window); figures are drawn at 100 dpi, so
# one this wide shows there at its own size, its text at the point sizes below, not scaled down.
COLUMN_INCHES = 6.8
DPI = 100
STYLE = {
    "axes.prop_cycle": cycler(color=COLORS),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "font.size": 11,
    "figure.titlesize": 12,
    "figure.dpi": DPI,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "image.cmap": "viridis",
}


def styled(plot):
    """Draw ``plot``'s figure in the book's style (:data:`STYLE`), whatever the kernel's settings."""

    @functools.wraps(plot)
    def draw(*args, **kwargs):
        with plt.rc_context(STYLE):
            return plot(*args, **kwargs)

    draw.styled = True
    return draw


def width(panels: int, per_panel: float) -> float:
    """A figure's width in inches for ``panels`` side by side, ``per_panel`` each, capped at the column."""
    return min(COLUMN_INCHES, panels * per_panel)


def model_color(name: str) -> str | None:
    """The colour of the model or arm ``name`` names, or None for a name the book does not know.

    A label may carry more after the name: "resnet20 (quick)", "plain20 (3 seeds)", "with heads"."""
    for key in (name, name.split(" (")[0], name.split(" ")[0]):
        if key in MODEL_COLORS:
            return MODEL_COLORS[key]
    return None


def colors_for(names: Iterable[str]) -> list[str]:
    """One colour per name: a known model's own (:data:`MODEL_COLORS`), the others the palette's first
    colours that no known name in ``names`` already has."""
    names = list(names)
    known = [model_color(n) for n in names]
    free = [c for c in COLORS if c not in known] or COLORS
    unknown = iter(free * (len(names) // len(free) + 1))
    return [color or next(unknown) for color in known]
