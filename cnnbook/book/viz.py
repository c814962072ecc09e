"""Plots for the book: training curves, image grids, feature maps, filters.

Imported in a Jupyter kernel (JupyterLab, papermill, nbmake, ``make sweep``), it makes figures draw
inline even where ``MPLBACKEND=Agg`` is set, as in many server and container images: there a
chapter would otherwise run without a single figure and without a warning.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib import cycler

from ..analysis.spread import Difference, Spread
from ..training.history import History
from .explorer import explorer as explorer  # viz.explorer: the kernel-free feature-map explorer

# Okabe and Ito's colour-blind-safe palette (yellow last: it is faint on white).
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
# The book's one figure style: every plot function below draws with it (:func:`styled`).
STYLE = {
    "axes.prop_cycle": cycler(color=COLORS),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "font.size": 9,
    "figure.titlesize": 11,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
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


def _epoch_axis(ax, last: int) -> None:
    """Whole epochs on ``ax``'s x axis, also for a run of one or two epochs (where matplotlib's
    integer locator would fall back to ticks like 0.95)."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if 0 < last <= 2:
        ax.set_xlim(0.5, last + 0.5)


def draw_inline_in_a_kernel() -> None:
    """In a Jupyter kernel whose matplotlib backend draws nowhere (Agg), switch to the inline backend."""
    if "ipykernel" not in sys.modules or plt.get_backend().lower() != "agg":
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
        shell.run_line_magic("matplotlib", "inline")


draw_inline_in_a_kernel()


@styled
def plot_history(
    runs: History | Mapping[str, History],
    title: str | None = None,
    metrics: Sequence[str] = ("loss", "acc"),
    small_epochs: int = 0,
):
    """Loss and accuracy per epoch, one panel each: training solid, validation dashed, one colour per
    run, named once in a legend below the panels. The first ``small_epochs`` (trained on smaller
    images, :attr:`~cnnbook.training.recipe.Recipe.small_epochs`) are shaded: validation, at full
    size, dips there and recovers once training moves to full-size images."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if isinstance(runs, History):
        runs = {"": runs}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.6), squeeze=False, layout="constrained")
    axes = axes[0]
    legend = []
    for (label, hist), color in zip(runs.items(), COLORS * 10):
        for ax, metric in zip(axes, metrics):
            scale = 100 if metric == "acc" else 1
            for split, style in (("train", "-"), ("val", "--")):
                key = f"{split}_{metric}"
                if hist.records and key in hist.last:
                    ax.plot(hist["epoch"], [scale * v for v in hist[key]], style, color=color, marker="o", markersize=3)
        if label:
            legend.append(Line2D([], [], color=color, marker="o", markersize=3, label=label))
    legend += [Line2D([], [], color="0.35", linestyle=style, label=name)
               for style, name in (("-", "training"), ("--", "validation"))]  # fmt: skip
    last = max((h["epoch"][-1] for h in runs.values() if h.records), default=0)
    shaded = min(small_epochs, last)
    for ax, metric in zip(axes, metrics):
        _epoch_axis(ax, last)
        ax.set_ylabel("accuracy (%)" if metric == "acc" else metric)
        ax.grid(alpha=0.3)
        if shaded:
            ax.axvspan(0.5, shaded + 0.5, color="0.92", zorder=0)
    if shaded:
        legend.append(Patch(color="0.92", label="smaller training images"))
    fig.legend(handles=legend, loc="outside lower center", ncol=min(len(legend), 5))
    if title:
        fig.suptitle(title)
    return fig


class LivePlot:
    """A :func:`cnnbook.fit` callback that redraws the curves after every epoch, in place.

    In JupyterLab the figure grows epoch by epoch; the last drawing stays in the cell's
    output, so the static page shows the finished curves. ``others`` (e.g. a reference run)
    are drawn alongside from the start.
    """

    def __init__(
        self,
        label: str = "this run",
        others: Mapping[str, History] | None = None,
        title: str | None = None,
        small_epochs: int = 0,
    ):
        self.label, self.others, self.title, self.small_epochs = label, dict(others or {}), title, small_epochs
        self.handle = None

    def __call__(self, history: History) -> bool:
        from IPython.display import display

        fig = plot_history({self.label: history, **self.others}, title=self.title, small_epochs=self.small_epochs)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)
        return False  # never stops training


@styled
def show_images(
    images: torch.Tensor,
    labels: Sequence[int],
    classes: Sequence[str],
    preds: Sequence[int] | None = None,
    ncols: int = 8,
    title: str | None = None,
):
    """A grid of uint8 images with their true labels (and predictions: green right, red wrong)."""
    n = len(images)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.5 * ncols, 1.75 * nrows), squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i].permute(1, 2, 0).cpu().numpy())
        text, color = classes[int(labels[i])], "black"
        if preds is not None:
            correct = int(preds[i]) == int(labels[i])
            text = f"{classes[int(labels[i])]}\n→ {classes[int(preds[i])]}"
            color = "tab:green" if correct else "tab:red"
        ax.set_title(text, fontsize=8, color=color)
    if title:
        fig.suptitle(title)
    return fig


@styled
def plot_feature_maps(
    maps: Mapping[str, torch.Tensor], image_index: int = 0, channels: int = 8, title: str | None = None
):
    """One row per layer: the first ``channels`` activation maps of one image."""
    fig, axes = plt.subplots(
        len(maps), channels, figsize=(1.3 * channels, 1.5 * len(maps)), squeeze=False, layout="constrained"
    )
    for row, (name, fmap) in zip(axes, maps.items()):
        fmap = fmap[image_index]
        for c, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if c < fmap.shape[0]:
                ax.imshow(fmap[c].numpy(), cmap="viridis")
        row[0].set_ylabel(f"{name}\n{tuple(fmap.shape)}", fontsize=7, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    return fig


@styled
def plot_filters(weight: torch.Tensor, ncols: int = 16, title: str | None = None):
    """First-layer convolution filters ``(out, 3, k, k)`` shown as small RGB patches."""
    w = weight.detach().cpu()
    w = (w - w.amin(dim=(1, 2, 3), keepdim=True)) / (
        w.amax(dim=(1, 2, 3), keepdim=True) - w.amin(dim=(1, 2, 3), keepdim=True) + 1e-8
    )
    nrows = math.ceil(len(w) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(0.6 * ncols, 0.6 * nrows + 0.4), squeeze=False, layout="constrained"
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(w):
            ax.imshow(w[i].permute(1, 2, 0).numpy(), interpolation="nearest")
    if title:
        fig.suptitle(title)
    return fig


@styled
def show_cam(
    images: torch.Tensor,
    maps: torch.Tensor,
    labels: Sequence[int],
    preds: Sequence[int],
    classes: Sequence[str],
    title: str | None = None,
):
    """Images (uint8) over their Grad-CAM maps: top row the images, bottom row the maps laid over them."""
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n, 3.6), squeeze=False, layout="constrained")
    for i in range(n):
        image = images[i].permute(1, 2, 0).cpu().numpy()
        axes[0, i].imshow(image)
        correct = int(preds[i]) == int(labels[i])
        axes[0, i].set_title(
            f"{classes[int(labels[i])]}\n→ {classes[int(preds[i])]}",
            fontsize=8,
            color="tab:green" if correct else "tab:red",
        )
        axes[1, i].imshow(image)
        axes[1, i].imshow(maps[i].numpy(), cmap="jet", alpha=0.45, vmin=0, vmax=1)
        for ax in axes[:, i]:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig


@styled
def plot_bars(values: Mapping[str, float], ylabel: str, title: str | None = None, percent: bool = False):
    """A labelled bar chart (e.g. per-class accuracy)."""
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(values)), 3.2), layout="constrained")
    scale = 100 if percent else 1
    bars = ax.bar(list(values), [scale * v for v in values.values()], color=COLORS[0])
    ax.bar_label(bars, fmt="%.0f" if percent else "%.2g", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=45)
    if title:
        ax.set_title(title)
    return fig


@styled
def show_augmentation(images: torch.Tensor, seed: int = 0, padding: int = 4):
    """Top row the uint8 ``images``, bottom row the same images after the training augmentation.

    Uses :func:`cnnbook.data.augment_batch` (random ``padding``-pixel crop and horizontal flip)
    with a generator seeded by ``seed``, exactly as the training loop applies it to a batch.
    """
    from ..data import augment_batch

    augmented = augment_batch(images, torch.Generator().manual_seed(seed), padding=padding)
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.0), squeeze=False, layout="constrained")
    for row, (batch, label) in enumerate(((images, "original"), (augmented, "augmented"))):
        for i, ax in enumerate(axes[row]):
            ax.imshow(batch[i].permute(1, 2, 0).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(f"Random {padding}-pixel crops and flips (seed {seed})")
    return fig


@styled
def plot_gradient_profiles(
    profiles: Mapping[str, Mapping[str, Sequence[float]]], ylabel: str = "‖gradient‖ / ‖weights‖"
):
    """One panel per entry of ``profiles`` (e.g. "at initialisation"), one log-scale line per network.

    ``profiles[panel][network]`` is a per-layer value from the input (left) to the output (right),
    such as :func:`cnnbook.analysis.probe.relative_gradient_norms` returns.
    """
    fig, axes = plt.subplots(
        1, len(profiles), figsize=(5.5 * len(profiles), 3.6), sharey=True, squeeze=False, layout="constrained"
    )
    for ax, (panel, nets) in zip(axes[0], profiles.items()):
        for name, values in nets.items():
            ax.semilogy(list(values), marker=".", label=name)
        ax.set_title(panel)
        ax.set_xlabel("convolution layer (input → output)")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0, 0].set_ylabel(ylabel)
    return fig


@styled
def plot_feature_reuse(rows: Mapping[str, Mapping[str, torch.Tensor]]):
    """DenseNet feature-reuse heat maps (:func:`~cnnbook.models.densenet.feature_reuse_by_block`): one row
    of blocks per entry of ``rows`` (e.g. "at initialisation", "trained"); in each map the columns are
    the target layers (T: the transition), the rows the sources they read (in: the block input)."""
    first = next(iter(rows.values()))
    fig, axes = plt.subplots(len(rows), len(first), figsize=(4.2 * len(first), 3.7 * len(rows)), squeeze=False)
    for row, (when, maps) in zip(axes, rows.items()):
        for ax, (name, heat) in zip(row, maps.items()):
            n = heat.shape[1] - 1  # layers in the block
            targets = [str(t + 1) for t in range(n)] + ["T"] * (len(heat) > n)
            title = f"{name.replace('denseblock', 'dense block ')}: {when}"
            image = annotated_heatmap(ax, heat.T, targets, ["in"] + [str(s + 1) for s in range(n)], fmt="{:.1f}",
                                      title=title, origin="lower", vmin=0, vmax=1)  # fmt: skip
            ax.set_xlabel("target layer (T: transition)")
        row[0].set_ylabel("source (in: block input)")
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="mean |weight| / max")
    return fig


@styled
def plot_curves(x: Sequence[float], curves: Mapping[str, Sequence[float]], xlabel: str, ylabel: str,
                title: str | None = None):  # fmt: skip
    """One marked line per entry of ``curves`` over the shared ``x`` (integer ticks when x is whole)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    for (label, ys), color in zip(curves.items(), COLORS * 10):
        ax.plot(list(x), list(ys), marker="o", color=color, label=label)
    if all(float(v).is_integer() for v in x):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return fig


@styled
def plot_seed_curves(
    panels: Mapping[str, Mapping[str, Sequence[History]]],
    key: str = "train_acc",
    ylabel: str = "training error (%)",
    transform=lambda v: 100 * (1 - v),
):
    """One panel per entry of ``panels`` (e.g. "plain"), one colour per network in it: the mean over
    seeds as a bold line, the range of the seeds as a band, each seed as a thin line.

    ``panels[panel][network]`` is that network's histories, one per seed; ``key`` is the record
    plotted (by default the training error in %, as He et al. plot it). Epoch ticks are whole numbers.
    """

    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.4 * len(panels), 3.4), sharey=True, squeeze=False, layout="constrained"
    )
    for ax, (panel, nets) in zip(axes[0], panels.items()):
        for (name, runs), color in zip(nets.items(), COLORS * 10):
            curves = torch.tensor([[transform(v) for v in h[key]] for h in runs])
            epochs = runs[0]["epoch"]
            for curve in curves:
                ax.plot(epochs, curve, color=color, linewidth=0.6, alpha=0.5)
            ax.fill_between(epochs, curves.min(0).values, curves.max(0).values, color=color, alpha=0.15)
            seeds = f"{len(runs)} seed{'s' * (len(runs) > 1)}"
            marker = "o" if len(epochs) < 3 else None  # a run of one epoch is a point, not a line
            ax.plot(epochs, curves.mean(0), color=color, linewidth=2, marker=marker, label=f"{name} ({seeds})")
        ax.set_title(panel)
        _epoch_axis(ax, max(epochs))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel(ylabel)
    return fig


@styled
def plot_layer_trace(traces: Mapping[str, History], key: str = "rel_step", label: str = "relative step per epoch"):
    """Heat maps, one per network: the per-layer value ``key`` of :class:`~cnnbook.analysis.probe.LayerTrace`
    (rows: convolutions, input at the top; columns: epochs), on one shared log colour scale."""
    from matplotlib.colors import LogNorm

    def matrix(history: History) -> torch.Tensor:  # None (a resumed run's first step): NaN, left blank
        return torch.tensor([[math.nan if v is None else v for v in row] for row in history[key]]).T

    maps = {name: matrix(h) for name, h in traces.items()}
    values = torch.cat([m.flatten() for m in maps.values()])
    values = values[values.isfinite() & (values > 0)]
    norm = LogNorm(vmin=values.min().item(), vmax=values.max().item())
    fig, axes = plt.subplots(1, len(maps), figsize=(4.4 * len(maps), 3.6), squeeze=False)
    for ax, (name, values) in zip(axes[0], maps.items()):
        image = ax.imshow(values.numpy(), aspect="auto", norm=norm, cmap="viridis", interpolation="nearest",
                          extent=(0.5, values.shape[1] + 0.5, values.shape[0] - 0.5, -0.5))  # fmt: skip
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("convolution (input at top)")
    fig.colorbar(image, ax=list(axes[0]), label=label)
    return fig


@styled
def plot_accuracy_vs_cost(points: Sequence[Mapping], costs: Sequence[str], title: str | None = None):
    """Scatter of ``point["accuracy"]`` (a fraction) against each cost column, one panel per cost.

    Each point is a dict with a ``"label"``, an ``"accuracy"`` and a value for every name in
    ``costs``; the label is written next to its dot.
    """
    fig, axes = plt.subplots(1, len(costs), figsize=(5.5 * len(costs), 3.8), squeeze=False, layout="constrained")
    for ax, key in zip(axes[0], costs):
        for point, color in zip(points, COLORS * 10):
            xy = (point[key], 100 * point["accuracy"])
            ax.scatter(*xy, s=40, color=color)
            ax.annotate(point["label"], xy, fontsize=8, xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel(key)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


@styled
def annotated_heatmap(
    ax,
    values: torch.Tensor,
    xlabels: Sequence[str],
    ylabels: Sequence[str],
    fmt: str = "{:.2f}",
    title: str | None = None,
    **imshow_kwargs,
):
    """A heat map on ``ax`` with its value written in every cell (NaN cells stay blank).

    ``values[row, col]``; text is black on light cells and white on dark ones. Returns the image.
    """
    values = torch.as_tensor(values, dtype=torch.float32).cpu()
    image = ax.imshow(values.numpy(), cmap="viridis", aspect="auto", **imshow_kwargs)
    ax.set_xticks(range(values.shape[1]), list(xlabels))
    ax.set_yticks(range(values.shape[0]), list(ylabels))
    finite = values[values.isfinite()]
    middle = (finite.max() + finite.min()).item() / 2 if len(finite) else 0.0
    for (row, col), value in zip(torch.cartesian_prod(*map(torch.arange, values.shape)).tolist(), values.flatten()):
        if value.isfinite():
            color = "black" if value > middle else "white"
            ax.text(col, row, fmt.format(value.item()), ha="center", va="center", fontsize=7, color=color)
    if title:
        ax.set_title(title)
    return image


@styled
def plot_scatter(
    points: Mapping[str, tuple[float, ...]], xlabel: str, ylabel: str, title: str | None = None, padding: float = 0.5
):
    """Labelled points ``{label: (x, y)}`` or ``{label: (x, y, yerr)}`` (error bars, e.g. the seeds'
    standard deviation), the x axis starting at 0, the y axis ``padding`` (in y units) beyond the bars."""
    fig, ax = plt.subplots(figsize=(4.5, 3.4), layout="constrained")
    for (label, (x, y, *err)), color in zip(points.items(), COLORS * len(points)):
        ax.errorbar(x, y, yerr=err[0] if err else None, fmt="o", markersize=7, capsize=4, color=color)
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, 4))
    lows = [y - (e[0] if e else 0) for _, y, *e in points.values()]
    highs = [y + (e[0] if e else 0) for _, y, *e in points.values()]
    ax.set_ylim(min(lows) - padding, max(highs) + padding)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(left=0, right=1.25 * max(x for x, *_ in points.values()))
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def show_source(obj) -> None:
    """Display the source code of a class or function from the package, highlighted."""
    import inspect

    from IPython.display import Code, display

    display(Code(inspect.getsource(obj), language="python"))


def layer_table(model: torch.nn.Module, x: torch.Tensor, depth: int = 2) -> str:
    """torchinfo's table of ``model`` on the batch ``x``: every layer's output shape and parameters. Its
    batch-wide "Total mult-adds (Units...)" and memory estimates become one line: the book's own
    multiply-adds per image (:func:`~cnnbook.analysis.cost.multiply_adds`)."""
    from torchinfo import summary

    from ..analysis.cost import multiply_adds

    text = str(summary(model, input_data=x, depth=depth, col_names=("output_size", "num_params"), verbose=0))
    estimates = ("Total mult-adds", "Input size", "Forward/backward pass size", "Params size", "Estimated Total Size")
    lines = [line for line in text.splitlines() if not line.startswith(estimates)]
    while lines[-1] == lines[-2]:  # the rule that closed the estimates' block
        lines.pop()
    per_image = multiply_adds(model, (1, *x.shape[1:]))
    return "\n".join([*lines[:-1], f"Multiply-adds per image: {per_image:,}", lines[-1]])


def show_table(rows: Sequence[Mapping], floatfmt: Mapping[str, str] | None = None) -> None:
    """Display a list of dicts as a Markdown table (renders in JupyterLab and the HTML book)."""
    from IPython.display import Markdown, display

    display(Markdown(markdown_table(rows, floatfmt)))


def markdown_table(rows: Sequence[Mapping], floatfmt: Mapping[str, str] | None = None) -> str:
    """A Markdown table of ``rows`` (dicts; a key missing from a row shows as —); floats use ``floatfmt[key]``,
    whole numbers a thousands separator (269,332)."""
    floatfmt = floatfmt or {}
    keys = list(dict.fromkeys(k for row in rows for k in row))  # every column, in order of appearance

    def cell(key, value):
        if isinstance(value, float):
            return format(value, floatfmt.get(key, ".3g"))
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(k, r[k]) if k in r else "—" for k in keys) + " |" for r in rows]
    return "\n".join(lines)


@styled
def plot_intervals(results: Mapping[str, Spread], differences: Mapping[str, Sequence[Difference]], unit: str = "%"):
    """Left: each result's seeds (dots) with the 95 % interval of their mean (bar). Right: each named
    difference (``{label: [difference, ...]}``, say unpaired then paired) as its 95 % interval around its
    delta, with zero marked: an interval that leaves out zero is a resolved difference."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
    for i, spread in enumerate(results.values()):
        low, high = spread.interval()
        left.plot([100 * low, 100 * high], [i, i], color=COLORS[i % len(COLORS)], linewidth=4, alpha=0.5)
        left.plot([100 * v for v in spread.values], [i] * spread.n, "o", color=COLORS[i % len(COLORS)])
    left.set_yticks(range(len(results)), list(results))
    left.set_xlabel(f"test accuracy ({unit})")
    left.set_title("seeds and the 95 % interval of their mean")
    rows = [(label, d) for label, ds in differences.items() for d in ds]
    for i, (_, d) in enumerate(rows):
        low, high = (100 * v for v in d.interval())
        right.plot([low, high], [i, i], color="0.3", linewidth=4, alpha=0.5)
        right.plot([100 * d.delta], [i], "o", color="0.1")
    right.axvline(0, color=COLORS[3], linewidth=1)
    right.set_yticks(range(len(rows)), [f"{label}\n({'paired' if d.paired else 'unpaired'})" for label, d in rows])
    right.set_xlabel("difference (points)")
    right.set_title("95 % interval of a difference")
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
        ax.invert_yaxis()
    return fig
