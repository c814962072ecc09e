"""Plots for the book: training curves, image grids, feature maps, filters.

Imported in a Jupyter kernel (JupyterLab, papermill, nbmake, ``make sweep``), it makes figures draw
inline even where ``MPLBACKEND=Agg`` is set, as in many server and container images: there a
chapter would otherwise run without a single figure and without a warning.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from ..analysis.spread import Difference, Spread
from ..training.history import History
from . import alt_text as alt
from .explorer import explorer as explorer  # viz.explorer: the kernel-free feature-map explorer
from .style import COLORS as COLORS  # viz.COLORS, viz.STYLE: the book's palette and style
from .style import STYLE as STYLE
from .style import colors_for, model_color, styled, width


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


def _small_epochs(histories: Sequence[History], given: int | None, last: int) -> tuple[int, int]:
    """(epochs, pixels) of the small-image epochs to shade: ``given`` if the caller says, else the most
    any of ``histories`` trained (:attr:`History.small_epochs`), up to the last epoch drawn."""
    epochs = given if given is not None else max((h.small_epochs for h in histories), default=0)
    size = max((h.small_size for h in histories), default=0)
    return min(epochs, last), size


def _shade_small_epochs(axes, epochs: int, size: int):
    """Shade epochs 1 to ``epochs`` on every axis of ``axes``; returns the band's legend entry (or None)."""
    from matplotlib.patches import Patch

    if not epochs:
        return None
    for ax in axes:
        ax.axvspan(0.5, epochs + 0.5, color="0.92", zorder=0)
    return Patch(color="0.92", label=f"epochs 1-{epochs} at {size} px" if size else "smaller training images")


def _last_epoch(histories: Sequence[History]) -> int:
    return max((h["epoch"][-1] for h in histories if h.records), default=0)


@styled
def plot_history(
    runs: History | Mapping[str, History],
    title: str | None = None,
    metrics: Sequence[str] = ("loss", "acc"),
    small_epochs: int | None = None,
):
    """Loss and accuracy per epoch, one panel each: training solid, validation dashed, one colour per
    run (:func:`~cnnbook.book.style.colors_for`), named once in a legend below the panels. The epochs a
    run trained on smaller images (its :attr:`History.small_epochs`, or ``small_epochs`` if given) are
    shaded: validation, at full size, dips there and recovers once training moves to full-size images."""
    from matplotlib.lines import Line2D

    if isinstance(runs, History):
        runs = {"": runs}
    fig, axes = plt.subplots(1, len(metrics), figsize=(width(len(metrics), 3.75), 3.4), squeeze=False,
                             layout="constrained")  # fmt: skip
    axes = axes[0]
    legend = []
    for (label, hist), color in zip(runs.items(), colors_for(runs)):
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
    last = _last_epoch(runs.values())
    small, size = _small_epochs(list(runs.values()), small_epochs, last)
    for ax, metric in zip(axes, metrics):
        _epoch_axis(ax, last)
        ax.set_ylabel("accuracy (%)" if metric == "acc" else metric)
        ax.grid(alpha=0.3)
    if band := _shade_small_epochs(axes, small, size):
        legend.append(band)
    fig.legend(handles=legend, loc="outside lower center", ncol=min(len(legend), 3))
    if title:
        fig.suptitle(title)
    names = [label for label in runs if label]
    final = [f"{label or 'the run'} {100 * h.last['val_acc']:.1f} %" for label, h in runs.items()
             if h.records and "val_acc" in h.last]  # fmt: skip
    text = (f"{alt.series('accuracy' if m == 'acc' else m for m in metrics)} by epoch, training solid, validation "
            f"dashed, of {alt.series(names) if names else 'one run'}.")  # fmt: skip
    if final:
        text += f" Last validation accuracy: {', '.join(final)}."
    return alt.describe(fig, alt.titled(title, text) + alt.small_epochs(small, size))


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
        small_epochs: int | None = None,
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


def _grid(n: int, ncols: int, cell: float, extra: float, rows: int | None = None):
    """A figure of ``rows`` x ``ncols`` image panels, each ``cell`` inches (less where the column is
    narrower) plus ``extra`` inches of title above it."""
    rows = rows or math.ceil(n / ncols)
    cell = min(cell, width(ncols, cell) / ncols)
    return plt.subplots(rows, ncols, figsize=(ncols * cell, rows * (cell + extra)), squeeze=False,
                        layout="constrained")  # fmt: skip


def _predicted(labels, preds, classes) -> str:
    pairs = [(classes[int(t)], classes[int(p)]) for t, p in zip(labels, preds)]
    right = sum(t == p for t, p in pairs)
    return (f"true label → prediction, {right} of {len(pairs)} right: "
            + ", ".join(t if t == p else f"{t} → {p}" for t, p in pairs))  # fmt: skip


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
    fig, axes = _grid(n, ncols, 0.94, 0.45 if preds is not None else 0.25)
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
        ax.set_title(text, fontsize=9, color=color)
    if title:
        fig.suptitle(title)
    what = (_predicted(labels, preds, classes) if preds is not None
            else "labelled " + alt.series(classes[int(t)] for t in labels))  # fmt: skip
    return alt.describe(fig, alt.titled(title, f"{n} image{'s' * (n > 1)}, {what}."))


@styled
def plot_feature_maps(
    maps: Mapping[str, torch.Tensor], image_index: int = 0, channels: int = 8, title: str | None = None
):
    """One row per layer: the first ``channels`` activation maps of one image."""
    fig, axes = _grid(len(maps) * channels, channels, 0.85, 0.1, rows=len(maps))
    for row, (name, fmap) in zip(axes, maps.items()):
        fmap = fmap[image_index]
        for c, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if c < fmap.shape[0]:
                ax.imshow(fmap[c].numpy(), cmap="viridis")
        row[0].set_ylabel(f"{name}\n{tuple(fmap.shape)}", fontsize=9, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    layers = alt.series(f"{name} ({' x '.join(map(str, m.shape[1:]))})" for name, m in maps.items())
    text = f"the first {channels} activation maps of image {image_index}, one row per layer: {layers}."
    return alt.describe(fig, alt.titled(title, text))


@styled
def plot_filters(weight: torch.Tensor, ncols: int = 16, title: str | None = None):
    """First-layer convolution filters ``(out, 3, k, k)`` shown as small RGB patches."""
    w = weight.detach().cpu()
    w = (w - w.amin(dim=(1, 2, 3), keepdim=True)) / (
        w.amax(dim=(1, 2, 3), keepdim=True) - w.amin(dim=(1, 2, 3), keepdim=True) + 1e-8
    )
    fig, axes = _grid(len(w), ncols, 0.45, 0.05)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(w):
            ax.imshow(w[i].permute(1, 2, 0).numpy(), interpolation="nearest")
    if title:
        fig.suptitle(title)
    size = " x ".join(map(str, w.shape[2:]))
    text = f"{len(w)} convolution filters as {size}-pixel RGB patches, each scaled to the full brightness range."
    return alt.describe(fig, alt.titled(title, text))


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
    fig, axes = _grid(2 * n, n, 0.94, 0.25, rows=2)
    for i in range(n):
        image = images[i].permute(1, 2, 0).cpu().numpy()
        axes[0, i].imshow(image)
        correct = int(preds[i]) == int(labels[i])
        axes[0, i].set_title(
            f"{classes[int(labels[i])]}\n→ {classes[int(preds[i])]}",
            fontsize=9,
            color="tab:green" if correct else "tab:red",
        )
        axes[1, i].imshow(image)
        axes[1, i].imshow(maps[i].numpy(), cmap="jet", alpha=0.45, vmin=0, vmax=1)
        for ax in axes[:, i]:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    text = (f"{n} images (top row) and their Grad-CAM maps laid over them (bottom row, red where the predicted "
            f"class's score rose most); {_predicted(labels, preds, classes)}.")  # fmt: skip
    return alt.describe(fig, alt.titled(title, text))


@styled
def plot_bars(values: Mapping[str, float], ylabel: str, title: str | None = None, percent: bool = False):
    """A labelled bar chart (e.g. per-class accuracy); bars named after models take their colours."""
    fig, ax = plt.subplots(figsize=(max(4, width(len(values), 0.6)), 3.2), layout="constrained")
    scale = 100 if percent else 1
    colors = colors_for(values) if any(model_color(k) for k in values) else COLORS[0]
    bars = ax.bar(list(values), [scale * v for v in values.values()], color=colors)
    ax.bar_label(bars, fmt="%.0f" if percent else "%.2g", fontsize=9)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=45)
    if title:
        ax.set_title(title)
    shown = ", ".join(f"{k} {scale * v:.0f}" if percent else f"{k} {v:.2g}" for k, v in values.items())
    return alt.describe(fig, alt.titled(title, f"bar chart of {ylabel}: {shown}."))


@styled
def show_augmentation(images: torch.Tensor, seed: int = 0, padding: int = 4):
    """Top row the uint8 ``images``, bottom row the same images after the training augmentation.

    Uses :func:`cnnbook.data.augment_batch` (random ``padding``-pixel crop and horizontal flip)
    with a generator seeded by ``seed``, exactly as the training loop applies it to a batch.
    """
    from ..data import augment_batch

    augmented = augment_batch(images, torch.Generator().manual_seed(seed), padding=padding)
    n = len(images)
    fig, axes = _grid(2 * n, n, 0.9, 0.1, rows=2)
    for row, (batch, label) in enumerate(((images, "original"), (augmented, "augmented"))):
        for i, ax in enumerate(axes[row]):
            ax.imshow(batch[i].permute(1, 2, 0).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(label, fontsize=10)
    fig.suptitle(f"Random {padding}-pixel crops and flips (seed {seed})")
    text = (f"{n} training images (top row) and the same images after a random {padding}-pixel crop and "
            f"horizontal flip drawn with seed {seed} (bottom row).")  # fmt: skip
    return alt.describe(fig, text)


@styled
def plot_gradient_profiles(
    profiles: Mapping[str, Mapping[str, Sequence[float]]], ylabel: str = "‖gradient‖ / ‖weights‖"
):
    """One panel per entry of ``profiles`` (e.g. "at initialisation"), one log-scale line per network.

    ``profiles[panel][network]`` is a per-layer value from the input (left) to the output (right),
    such as :func:`cnnbook.analysis.probe.relative_gradient_norms` returns.
    """
    fig, axes = plt.subplots(1, len(profiles), figsize=(width(len(profiles), 3.75), 3.4), sharey=True,
                             squeeze=False, layout="constrained")  # fmt: skip
    nets = list(dict.fromkeys(name for panel in profiles.values() for name in panel))
    color = dict(zip(nets, colors_for(nets)))
    for ax, (panel, lines) in zip(axes[0], profiles.items()):
        for name, values in lines.items():
            ax.semilogy(list(values), marker=".", label=name, color=color[name])
        ax.set_title(panel)
        ax.set_xlabel("convolution (input → output)")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0, 0].set_ylabel(ylabel)
    ends = "; ".join(f"{name} {panel}: {v[0]:.2g} at the first convolution, {v[-1]:.2g} at the last"
                     for panel, lines in profiles.items() for name, v in lines.items() if len(v))  # fmt: skip
    text = (f"{ylabel} of every convolution from the input to the output, log scale, of {alt.series(nets)}"
            f"{alt.panels(profiles)}: {ends}.")  # fmt: skip
    return alt.describe(fig, text)


def _tenths(value: float) -> str:
    """A value of 0 to 1 in tenths, in two characters at most: "1", ".9", "0" (small heat-map cells)."""
    text = f"{value:.1f}"
    return {"1.0": "1", "0.0": "0"}.get(text, text.removeprefix("0"))


@styled
def plot_feature_reuse(rows: Mapping[str, Mapping[str, torch.Tensor]]):
    """DenseNet feature-reuse heat maps (:func:`~cnnbook.models.densenet.feature_reuse_by_block`): one row
    of blocks per entry of ``rows`` (e.g. "at initialisation", "trained"), named above it; in each map the
    columns are the target layers (T: the transition), the rows the sources they read (in: the block input)."""
    first = next(iter(rows.values()))
    fig = plt.figure(figsize=(width(len(first), 2.6), 2.5 * len(rows) + 0.3), layout="constrained")
    bands = fig.subfigures(len(rows), 1, squeeze=False)[:, 0]
    for number, (band, (when, maps)) in enumerate(zip(bands, rows.items())):
        band.suptitle(when, fontsize=11, fontweight="bold")
        axes = band.subplots(1, len(maps), squeeze=False)[0]
        for ax, (name, heat) in zip(axes, maps.items()):
            n = heat.shape[1] - 1  # layers in the block
            targets = [str(t + 1) for t in range(n)] + ["T"] * (len(heat) > n)
            image = annotated_heatmap(ax, heat.T, targets, ["in"] + [str(s + 1) for s in range(n)], fmt=_tenths,
                                      title=name.replace("denseblock", "dense block "), origin="lower", vmin=0,
                                      vmax=1, fontsize=8)  # fmt: skip
            if number == len(rows) - 1:
                ax.set_xlabel("target (T: transition)")
        axes[0].set_ylabel("source (in: input)")
        band.colorbar(image, ax=axes, label="|weight| / max")  # one per row: a colour bar cannot span them

    def spread(maps) -> str:
        values = torch.cat([m[m.isfinite()].flatten() for m in maps.values()])
        return f"{values.min().item():.2f} to {values.max().item():.2f}"

    blocks = alt.series(name.replace("denseblock", "dense block ") for name in first)
    text = (f"Feature-reuse heat maps of {blocks}{alt.panels(rows, 'rows')}: the mean absolute weight with "
            "which each layer (column) reads each earlier source (row), each column's largest 1. Values "
            + "; ".join(f"{when} {spread(maps)}" for when, maps in rows.items()) + ".")  # fmt: skip
    return alt.describe(fig, text)


@styled
def plot_curves(x: Sequence[float], curves: Mapping[str, Sequence[float]], xlabel: str, ylabel: str,
                title: str | None = None):  # fmt: skip
    """One marked line per entry of ``curves`` over the shared ``x`` (integer ticks when x is whole)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    for (label, ys), color in zip(curves.items(), colors_for(curves)):
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
    x = list(x)
    ends = "; ".join(f"{label} from {ys[0]:.3g} at {x[0]:g} to {ys[-1]:.3g} at {x[-1]:g}"
                     for label, ys in curves.items())  # fmt: skip
    return alt.describe(fig, alt.titled(title, f"{ylabel} against {xlabel}: {ends}."))


@styled
def plot_seed_curves(
    panels: Mapping[str, Mapping[str, Sequence[History]]],
    key: str = "train_acc",
    ylabel: str = "training error (%)",
    transform=lambda v: 100 * (1 - v),
    small_epochs: int | None = None,
):
    """One panel per entry of ``panels`` (e.g. "plain"), one colour per network in it: the mean over
    seeds as a bold line, the range of the seeds as a band, each seed as a thin line.

    ``panels[panel][network]`` is that network's histories, one per seed; ``key`` is the record
    plotted (by default the training error in %, as He et al. plot it). Epoch ticks are whole numbers.
    The epochs the runs trained on smaller images (:attr:`History.small_epochs`, or ``small_epochs``
    if given) are shaded.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(width(len(panels), 3.75), 3.6), sharey=True, squeeze=False,
                             layout="constrained")  # fmt: skip
    nets = list(dict.fromkeys(name for panel in panels.values() for name in panel))
    color = dict(zip(nets, colors_for(nets)))
    finals, histories = [], [h for panel in panels.values() for runs in panel.values() for h in runs]
    for ax, (panel, lines) in zip(axes[0], panels.items()):
        for name, runs in lines.items():
            curves = torch.tensor([[transform(v) for v in h[key]] for h in runs])
            epochs = runs[0]["epoch"]
            for curve in curves:
                ax.plot(epochs, curve, color=color[name], linewidth=0.6, alpha=0.5)
            ax.fill_between(epochs, curves.min(0).values, curves.max(0).values, color=color[name], alpha=0.15)
            marker = "o" if len(epochs) < 3 else None  # a run of one epoch is a point, not a line
            mean = curves.mean(0)
            ax.plot(
                epochs,
                mean,
                color=color[name],
                linewidth=2,
                marker=marker,
                label=f"{name} ({len(runs)} seed{'s' * (len(runs) > 1)})",
            )
            finals.append(f"{name} {mean[-1].item():.1f}")
        ax.set_title(panel)
        _epoch_axis(ax, _last_epoch(histories))
        ax.grid(alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))
    axes[0, 0].set_ylabel(ylabel)
    small, size = _small_epochs(histories, small_epochs, _last_epoch(histories))
    _shade_small_epochs(axes[0], small, size)
    counts = {len(runs) for panel in panels.values() for runs in panel.values()}
    each = f", {alt.seeds(counts.pop())} each" if len(counts) == 1 else ""
    text = (f"{ylabel} by epoch of {alt.series(nets)}{each}{alt.panels(panels)}: a bold line for the mean over "
            f"the seeds, a band for their range, a thin line per seed. Last mean: {', '.join(finals)}.")  # fmt: skip
    return alt.describe(fig, text[:1].upper() + text[1:] + alt.small_epochs(small, size))


@styled
def plot_layer_trace(traces: Mapping[str, History], key: str = "rel_step", label: str = "relative step per epoch"):
    """Heat maps, one per network (titled in its colour): the per-layer value ``key`` of
    :class:`~cnnbook.analysis.probe.LayerTrace` (rows: convolutions, input at the top; columns: epochs), on one
    shared log colour scale."""
    from matplotlib.colors import LogNorm

    def matrix(history: History) -> torch.Tensor:  # None (a resumed run's first step): NaN, left blank
        return torch.tensor([[math.nan if v is None else v for v in row] for row in history[key]]).T

    maps = {name: matrix(h) for name, h in traces.items()}
    values = torch.cat([m.flatten() for m in maps.values()])
    values = values[values.isfinite() & (values > 0)]
    norm = LogNorm(vmin=values.min().item(), vmax=values.max().item())
    fig, axes = plt.subplots(1, len(maps), figsize=(width(len(maps), 3.75), 3.4), squeeze=False,
                             layout="constrained")  # fmt: skip
    for ax, (name, values), color in zip(axes[0], maps.items(), colors_for(maps)):
        image = ax.imshow(values.numpy(), aspect="auto", norm=norm, cmap="viridis", interpolation="nearest",
                          extent=(0.5, values.shape[1] + 0.5, values.shape[0] - 0.5, -0.5))  # fmt: skip
        ax.set_title(name, color=color)
        ax.set_xlabel("epoch")
        ax.set_ylabel("convolution (input at top)")
    fig.colorbar(image, ax=list(axes[0]), label=label)
    shapes = alt.series(f"{name} ({m.shape[0]} convolutions, {m.shape[1]} epochs)" for name, m in maps.items())
    text = (f"Heat maps of the {label} of every convolution (rows, input at the top) in every epoch (columns) of "
            f"{shapes}, on one log colour scale from {norm.vmin:.2g} to {norm.vmax:.2g}.")  # fmt: skip
    return alt.describe(fig, text)


def _with_spread(ax, x: float, value, scale: float, color: str) -> tuple[float, float, int]:
    """Draw ``value`` (a number, a Spread or seed values, times ``scale``) at ``x``: a dot, with the seeds'
    standard deviation as an error bar where there are several; returns (mean, sd, seeds), scaled."""
    mean, sd, n = alt.seed_values(value)
    mean, sd = scale * mean, scale * sd
    ax.errorbar(x, mean, yerr=sd if n > 1 else None, fmt="o", markersize=7, capsize=4, color=color)
    return mean, sd, n


@styled
def plot_accuracy_vs_cost(points: Sequence[Mapping], costs: Sequence[str], title: str | None = None):
    """Scatter of ``point["accuracy"]`` against each cost column, one panel per cost.

    Each point is a dict with a ``"label"``, an ``"accuracy"`` (a fraction; a Spread or the seeds' values
    draw their standard deviation as an error bar) and a value for every name in ``costs``; the label is
    written next to its dot.
    """
    fig, axes = plt.subplots(1, len(costs), figsize=(width(len(costs), 3.75), 3.6), squeeze=False,
                             layout="constrained")  # fmt: skip
    colors = colors_for(p["label"] for p in points)
    shown = {}
    for ax, key in zip(axes[0], costs):
        for point, color in zip(points, colors):
            mean, sd, n = _with_spread(ax, point[key], point["accuracy"], 100, color)
            ax.annotate(point["label"], (point[key], mean), fontsize=9, xytext=(4, 4), textcoords="offset points")
            shown[point["label"]] = alt.plus_minus(mean, sd, n, " %")
        ax.set_xlabel(key)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    dots = "; ".join(f"{p['label']} {shown[p['label']]} at " + ", ".join(f"{p[k]:.3g} {k}" for k in costs)
                     for p in points)  # fmt: skip
    text = f"test accuracy against {alt.series(costs)}, one panel each, a dot per run: {dots}."
    return alt.describe(
        fig,
        alt.titled(title, text)
        + " Error bars: the seeds' standard deviation." * any(alt.seed_values(p["accuracy"])[2] > 1 for p in points),
    )


@styled
def annotated_heatmap(
    ax,
    values: torch.Tensor,
    xlabels: Sequence[str],
    ylabels: Sequence[str],
    fmt: str | Callable[[float], str] = "{:.2f}",
    title: str | None = None,
    fontsize: float = 9,
    **imshow_kwargs,
):
    """A heat map on ``ax`` with its value written in every cell (NaN cells stay blank), formatted by
    ``fmt`` (a format string or a function); adds a sentence on it to the alt text of ``ax``'s figure.

    ``values[row, col]``; text is black on light cells and white on dark ones. Returns the image.
    """
    fmt = fmt.format if isinstance(fmt, str) else fmt
    values = torch.as_tensor(values, dtype=torch.float32).cpu()
    image = ax.imshow(values.numpy(), cmap="viridis", aspect="auto", **imshow_kwargs)
    ax.set_xticks(range(values.shape[1]), list(xlabels))
    ax.set_yticks(range(values.shape[0]), list(ylabels))
    finite = values[values.isfinite()]
    middle = (finite.max() + finite.min()).item() / 2 if len(finite) else 0.0
    for (row, col), value in zip(torch.cartesian_prod(*map(torch.arange, values.shape)).tolist(), values.flatten()):
        if value.isfinite():
            color = "black" if value > middle else "white"
            ax.text(col, row, fmt(value.item()), ha="center", va="center", fontsize=fontsize, color=color)
    if title:
        ax.set_title(title)
    where = f" from {finite.min().item():.3g} to {finite.max().item():.3g}" if len(finite) else ""
    text = (f"Heat map{' of ' + title if title else ''}, {len(ylabels)} rows ({alt.series(ylabels)}) by "
            f"{len(xlabels)} columns ({alt.series(xlabels)}), values{where}.")  # fmt: skip
    alt.describe(ax.figure.get_figure(root=True), text, append=True)
    return image


@styled
def plot_heatmaps(
    maps: Mapping[str, torch.Tensor],
    xlabels: Sequence[str],
    ylabels: Sequence[str],
    xlabel: str,
    ylabel: str,
    fmts: Mapping[str, str] | None = None,
):
    """Annotated heat maps side by side (:func:`annotated_heatmap`), each titled with its key in ``maps`` and
    with its own colour bar, sharing the row and column names; ``fmts[title]`` formats a map's cells."""
    fig, axes = plt.subplots(1, len(maps), figsize=(width(len(maps), 3.4), 3.4), squeeze=False, layout="constrained")
    for ax, (title, values) in zip(axes[0], maps.items()):
        image = annotated_heatmap(ax, values, xlabels, ylabels, fmt=(fmts or {}).get(title, "{:.2f}"), title=title)
        fig.colorbar(image, ax=ax)
        ax.set_xlabel(xlabel)
    axes[0, 0].set_ylabel(ylabel)
    return fig


@styled
def plot_scatter(
    points: Mapping[str, tuple], xlabel: str, ylabel: str, title: str | None = None, padding: float = 0.5,
    scale: float = 1,
):  # fmt: skip
    """Labelled points ``{label: (x, y)}``: ``y`` is a number, a Spread or the seeds' values (times
    ``scale``), the seeds' standard deviation drawn as an error bar; ``(x, y, yerr)`` gives the bar
    itself. The x axis starts at 0, the y axis reaches ``padding`` (in y units) beyond the bars."""
    fig, ax = plt.subplots(figsize=(5, 3.6), layout="constrained")
    drawn, said = {}, {}
    for (label, (x, y, *err)), color in zip(points.items(), colors_for(points)):
        if err:
            ax.errorbar(x, y, yerr=err[0], fmt="o", markersize=7, capsize=4, color=color)
            drawn[label], said[label] = (x, y, err[0]), f"{y:.3g} ± {err[0]:.2g}"
        else:
            mean, sd, n = _with_spread(ax, x, y, scale, color)
            drawn[label], said[label] = (x, mean, sd), alt.plus_minus(mean, sd, n)
        ax.annotate(label, drawn[label][:2], textcoords="offset points", xytext=(6, 4))
    ax.set_ylim(min(y - e for _, y, e in drawn.values()) - padding, max(y + e for _, y, e in drawn.values()) + padding)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(left=0, right=1.25 * max(x for x, *_ in drawn.values()))
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    dots = "; ".join(f"{label} {said[label]} at {x:.3g}" for label, (x, *_) in drawn.items())
    return alt.describe(fig, alt.titled(title, f"{ylabel} against {xlabel}: {dots}."))


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
    for i, (name, spread) in enumerate(results.items()):
        low, high = spread.interval()
        color = model_color(name) or COLORS[i % len(COLORS)]
        left.plot([100 * low, 100 * high], [i, i], color=color, linewidth=4, alpha=0.5)
        left.plot([100 * v for v in spread.values], [i] * spread.n, "o", color=color)
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
    means = ", ".join(f"{name} {100 * s.mean:.1f} {unit}" for name, s in results.items())
    verdicts = alt.series(
        f"{label} ({'paired' if d.paired else 'unpaired'}) {'resolved' if d.resolved else 'not resolved'}"
        for label, d in rows
    )
    text = f"Left: each result's seeds and the 95 % interval of their mean ({means}). "
    return alt.describe(fig, text + f"Right: the 95 % interval of each difference against zero: {verdicts}.")
