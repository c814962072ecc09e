import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from cnnbook import viz  # noqa: E402
from cnnbook.analysis import probe
from cnnbook.models import get_model  # noqa: E402
from cnnbook.training.history import History  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def fake_history(n=3):
    return History(
        [
            {
                "epoch": i + 1,
                "train_loss": 2.0 / (i + 1),
                "val_loss": 2.1 / (i + 1),
                "train_acc": 0.1 * i,
                "val_acc": 0.1 * i,
                "lr": 0.1,
            }
            for i in range(n)
        ]
    )


def test_history_plot_overlays_runs():
    fig = viz.plot_history({"a": fake_history(), "b": fake_history(4)})
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 4 and len(acc_ax.lines) == 4
    assert list(acc_ax.lines[0].get_ydata()) == [0.0, 10.0, 20.0]


def test_image_grid_marks_predictions():
    imgs = torch.zeros(3, 3, 32, 32, dtype=torch.uint8)
    fig = viz.show_images(imgs, [0, 1, 2], [str(i) for i in range(10)], preds=[0, 1, 0], ncols=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[2] == "2\n→ 0"
    assert fig.axes[2].title.get_color() == "tab:red"


def test_feature_maps_and_filters_come_from_the_model():
    model = get_model("resnet20")
    maps = probe.feature_maps(model, torch.randn(2, 3, 32, 32), ["stem", "stages.2"])
    assert maps["stem"].shape == (2, 16, 32, 32) and maps["stages.2"].shape == (2, 64, 8, 8)
    fig = viz.plot_feature_maps(maps, channels=4)
    assert len(fig.axes) == 8
    assert len(viz.plot_filters(model.stem[0].weight).axes) == 16


def test_gradient_norms_cover_every_convolution():
    names, norms = probe.gradient_norms(get_model("plain20"), torch.randn(8, 3, 32, 32), torch.arange(8))
    assert len(names) == 19 and all(n > 0 for n in norms)


def test_markdown_table_formats_floats_per_column():
    text = viz.markdown_table([{"model": "a", "acc": 0.91234}, {"model": "b", "acc": 0.5}], {"acc": ".1%"})
    assert text.splitlines()[0] == "| model | acc |"
    assert text.splitlines()[2] == "| a | 91.2% |"


def test_markdown_table_keeps_columns_that_only_some_rows_have():
    text = viz.markdown_table([{"model": "a"}, {"model": "b", "params": 12}])
    assert text.splitlines() == ["| model | params |", "|---|---|", "| a | — |", "| b | 12 |"]


def test_live_plot_draws_once_then_redraws_in_place(monkeypatch, tiny_split):
    import cnnbook

    shown = []

    class Handle:
        def update(self, fig):
            shown.append(("update", fig))

    def fake_display(fig, display_id):
        assert display_id is True
        shown.append(("display", fig))
        return Handle()

    monkeypatch.setattr("IPython.display.display", fake_display)
    reference = History([{"epoch": 1, "train_loss": 2.0, "train_acc": 0.2}])
    live = viz.LivePlot("live", {"reference": reference}, title="t")
    cnnbook.fit(
        cnnbook.get_model("resnet20"),
        tiny_split,
        tiny_split,
        cnnbook.Recipe(epochs=3, batch_size=32, lr=0.05),
        device="cpu",
        progress=False,
        callbacks=[live],
    )
    assert [kind for kind, _ in shown] == ["display", "update", "update"]
    fig = shown[-1][1]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["live", "reference", "training", "validation"]
    live_train, live_val, reference_train = fig.axes[0].get_lines()  # one legend for both panels
    assert list(live_train.get_xdata()) == [1, 2, 3] and list(reference_train.get_xdata()) == [1]


def test_show_augmentation_shows_originals_over_their_augmented_copies():
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    fig = viz.show_augmentation(images, seed=1)
    axes = fig.axes
    assert len(axes) == 8
    assert (axes[0].images[0].get_array() == images[0].permute(1, 2, 0).numpy()).all()
    assert axes[4].images[0].get_array().shape == (32, 32, 3)
    assert axes[0].get_ylabel() == "original" and axes[4].get_ylabel() == "augmented"
    again = viz.show_augmentation(images, seed=1).axes[4].images[0].get_array()
    assert (again == axes[4].images[0].get_array()).all()  # same seed, same crops


def test_gradient_profiles_one_panel_per_time_one_line_per_net():
    fig = viz.plot_gradient_profiles(
        {"start": {"a": [1.0, 0.1], "b": [0.5, 0.5]}, "end": {"a": [2.0, 0.2], "b": [1.0, 1.0]}}
    )
    assert [ax.get_title() for ax in fig.axes] == ["start", "end"]
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["a", "b"]
    assert list(fig.axes[1].get_lines()[0].get_ydata()) == [2.0, 0.2]
    assert fig.axes[0].get_yscale() == "log"


def test_accuracy_vs_cost_panels_and_labels():
    points = [{"label": "x", "accuracy": 0.8, "p": 1.0, "m": 10.0}, {"label": "y", "accuracy": 0.9, "p": 2.0, "m": 5.0}]
    fig = viz.plot_accuracy_vs_cost(points, ["p", "m"], title="t")
    assert [ax.get_xlabel() for ax in fig.axes] == ["p", "m"]
    assert [t.get_text() for t in fig.axes[1].texts] == ["x", "y"]
    dot = fig.axes[1].lines[1]  # one seed: a dot without an error bar
    assert (list(dot.get_xdata()), list(dot.get_ydata())) == ([5.0], [90.0]) and not fig.axes[1].collections


def test_annotated_heatmap_writes_every_finite_value():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    values = torch.tensor([[1.0, float("nan")], [0.25, 0.5]])
    viz.annotated_heatmap(ax, values, ["a", "b"], ["r0", "r1"], fmt="{:.2f}", title="t")
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["0.25", "0.50", "1.00"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert ax.get_title() == "t"
    plt.close(fig)


def test_plot_scatter_labels_every_point():
    import matplotlib.pyplot as plt

    fig = viz.plot_scatter({"a": (1.0, 50.0), "b": (2.0, 60.0)}, "x", "y", title="t")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["a", "b"]
    assert ax.get_xlim()[0] == 0 and ax.get_xlabel() == "x"
    plt.close(fig)


def test_a_kernel_with_mplbackend_agg_still_draws_figures_inline(tmp_path):
    """MPLBACKEND=Agg (servers, containers) would execute a chapter without a figure: importing viz fixes that."""
    import os
    import subprocess
    import sys

    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nfrom cnnbook import viz"),
        nbformat.v4.new_code_cell("plt.plot([0, 1], [1, 0])\nplt.show()"),
    ]
    source, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, source)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(source), str(out), "-k", "python3"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outputs = nbformat.read(out, as_version=4).cells[1].outputs
    assert any("image/png" in o.get("data", {}) for o in outputs), outputs


def test_seed_curves_draw_a_mean_a_band_and_every_seed_with_whole_epoch_ticks():
    runs = [History([{"epoch": e + 1, "train_acc": 0.1 * e + s / 100} for e in range(3)]) for s in range(3)]
    fig = viz.plot_seed_curves({"plain": {"plain20": runs}, "residual": {"resnet20": runs[:1]}})
    left, right = fig.axes
    assert len(left.lines) == 3 + 1 and len(left.collections) == 1  # three seeds, their mean, the band
    assert left.get_legend().get_texts()[0].get_text() == "plain20 (3 seeds)"
    assert right.get_legend().get_texts()[0].get_text() == "resnet20 (1 seed)"
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in left.get_xticks())  # no epoch 1.5
    mean = left.lines[-1].get_ydata()
    assert mean[0] == pytest.approx(100 * (1 - 0.01))  # training error in %, averaged over seeds
    one = viz.plot_seed_curves({"plain": {"plain20": [History([{"epoch": 1, "train_acc": 0.5}])]}})
    one.canvas.draw()
    (ax,) = one.axes
    lo, hi = ax.get_xlim()
    assert [t for t in ax.get_xticks() if lo <= t <= hi] == [1.0]  # one epoch: one tick, no 0.95 or 1.05
    assert ax.lines[-1].get_marker() == "o"  # and a point, where a line of one value would be invisible


def test_plot_history_ticks_whole_epochs_only():
    for epochs in (3, 1):
        fig = viz.plot_history(fake_history(epochs))
        fig.canvas.draw()
        assert all(float(t).is_integer() for t in fig.axes[0].get_xticks())


def test_plot_history_shades_the_small_image_epochs_it_has_reached():
    fig = viz.plot_history(fake_history(3), small_epochs=10)
    (band,) = fig.axes[0].patches
    assert band.get_x() == 0.5 and band.get_width() == 3  # epochs 1-3 of the 10 so far
    assert fig.legends[0].get_texts()[-1].get_text() == "smaller training images"


def small_image_history(epochs=4, small=2):
    """A run whose first ``small`` epochs trained at 24 px, as fit and a stored record say."""
    return History(fake_history(epochs).records, small_epochs=small, small_size=24)


def test_every_curve_of_a_run_with_small_image_epochs_shades_them_without_being_told():
    run = small_image_history()
    curves = viz.plot_history({"resnet20": run, "plain20": fake_history(4)})
    seeds = viz.plot_seed_curves({"residual": {"resnet20": [run, run]}, "plain": {"plain20": [fake_history(4)]}})
    for fig in (curves, seeds):
        for ax in fig.axes:
            (band,) = ax.patches
            assert (band.get_x(), band.get_width()) == (0.5, 2)  # epochs 1 and 2, on every panel
        assert "The first 2 epochs, trained at 24 px, are shaded." in fig.alt_text
    assert curves.legends[0].get_texts()[-1].get_text() == "epochs 1-2 at 24 px"
    assert not viz.plot_seed_curves({"plain": {"plain20": [fake_history(4)]}}).axes[0].patches


def test_a_stored_run_carries_its_small_image_epochs_from_its_recipe():
    from cnnbook.runs.record import read_record
    from cnnbook.runs.reference import RESULTS

    stored = read_record(RESULTS / "quick" / "resnet20")
    assert stored.provenance["recipe"]["small_epochs"] == 10
    assert (stored.history.small_epochs, stored.history.small_size) == (10, 24)
    plain = read_record(RESULTS / "quick" / "side-plain20")  # the side recipe trains at full size throughout
    assert "small_epochs" not in plain.provenance["recipe"] and plain.history.small_epochs == 0


def colors_of(fig):
    """{label: colour} of every labelled line or error bar drawn in ``fig``."""
    drawn = {}
    for ax in fig.axes:
        for line in ax.lines:
            if not line.get_label().startswith("_"):
                drawn[line.get_label()] = matplotlib.colors.to_hex(line.get_color())
        for label, container in zip(ax.texts, ax.containers):
            drawn[label.get_text()] = matplotlib.colors.to_hex(container.lines[0].get_color())
    for legend in fig.legends:
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            if hasattr(handle, "get_marker") and handle.get_marker() == "o":
                drawn[text.get_text()] = matplotlib.colors.to_hex(handle.get_color())
    return drawn


def test_a_model_has_one_colour_in_every_figure():
    from cnnbook.book import style

    resnet20, densenet = (style.MODEL_COLORS[m].lower() for m in ("resnet20", "densenet_cifar"))
    history = viz.plot_history({"densenet_cifar": fake_history(), "resnet20": fake_history()})
    scatter = viz.plot_scatter({"resnet20": (270, 84.0), "densenet_cifar": (200, 84.5)}, "params", "acc")
    curves = viz.plot_curves([1, 2], {"an unknown net": [1, 2], "resnet20": [2, 3]}, "x", "y")
    profiles = viz.plot_gradient_profiles({"start": {"plain56": [1.0, 0.1], "resnet20": [1.0, 1.0]}})
    seeds = viz.plot_seed_curves({"plain": {"plain20": [fake_history()]}, "residual": {"resnet20": [fake_history()]}})
    assert colors_of(history) == {"densenet_cifar": densenet, "resnet20": resnet20}
    assert colors_of(scatter) == {"resnet20": resnet20, "densenet_cifar": densenet}
    assert colors_of(curves)["resnet20"] == colors_of(profiles)["resnet20"] == resnet20
    assert colors_of(seeds)["resnet20 (1 seed)"] == resnet20
    assert colors_of(curves)["an unknown net"] not in (resnet20, None)  # the palette's first colour still free
    assert style.colors_for(["with heads", "without heads", "resnet20 (quick)"]) == [
        style.MODEL_COLORS["with"], style.MODEL_COLORS["without"], style.MODEL_COLORS["resnet20"]]  # fmt: skip


def test_plot_functions_draw_figures_no_wider_than_the_column_in_readable_type():
    from cnnbook.book import style

    runs = {f"net{i}": fake_history() for i in range(4)}
    figs = [
        viz.plot_history(runs),
        viz.plot_seed_curves({p: {"resnet20": [fake_history()]} for p in "abc"}),
        viz.show_images(torch.zeros(16, 3, 32, 32, dtype=torch.uint8), [0] * 16, ["cat"]),
        viz.plot_filters(torch.randn(16, 3, 3, 3)),
        viz.plot_bars({f"class {i}": 0.5 for i in range(10)}, "accuracy"),
        viz.plot_accuracy_vs_cost([{"label": "x", "accuracy": 0.8, "p": 1.0, "m": 2.0}], ["p", "m"]),
    ]
    for fig in figs:
        assert fig.get_size_inches()[0] <= style.COLUMN_INCHES and fig.dpi == style.DPI
    assert style.STYLE["xtick.labelsize"] >= 10 and style.STYLE["legend.fontsize"] >= 10


def test_the_feature_reuse_figure_has_no_overlapping_titles_and_no_cut_labels():
    from cnnbook.models.densenet import feature_reuse_by_block

    torch.manual_seed(0)
    maps = feature_reuse_by_block(get_model("densenet_cifar"))
    fig = viz.plot_feature_reuse({"at initialisation": maps, "trained": maps, "trained, BN scale folded in": maps})
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [ax.title for ax in fig.axes if ax.get_title()] + [band._suptitle for band in fig.subfigs]
    boxes = [t.get_window_extent(renderer) for t in titles]
    assert len(boxes) == 9 + 3  # each map titled with its block, each row with its state
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.overlaps(b)]
    inside = fig.bbox
    labels = [t for ax in fig.axes for t in (*ax.get_yticklabels(), ax.yaxis.label, ax.xaxis.label) if t.get_text()]
    for text in labels:
        box = text.get_window_extent(renderer)
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1, text.get_text()  # nothing cut at the figure's edge
    assert fig.get_size_inches()[0] <= 6.8
    assert "at initialisation 0." in fig.alt_text and "dense block 2, dense block 3 and dense block 4" in fig.alt_text


def test_scatters_of_several_seeds_draw_their_spread_as_error_bars():
    from cnnbook.analysis.spread import Spread

    seeds = [0.84, 0.85, 0.86]
    fig = viz.plot_scatter({"resnet20": (270, Spread.of(seeds)), "densenet_cifar": (200, [0.83, 0.85]),
                            "one seed": (100, 0.8)}, "params", "accuracy (%)", scale=100)  # fmt: skip
    (ax,) = fig.axes
    with_bars = [c for c in ax.containers if c.has_yerr]
    assert len(with_bars) == 2  # one seed has no spread to draw
    (segment,) = with_bars[0].lines[2][0].get_segments()
    assert segment[:, 1] == pytest.approx([85.0 - 1.0, 85.0 + 1.0])  # mean ± sd of the seeds, in %
    assert "resnet20 85.0 ± 1.0 (sd of three seeds) at 270" in fig.alt_text
    cost = viz.plot_accuracy_vs_cost([{"label": "resnet20", "accuracy": seeds, "p": 1.0}], ["p"])
    assert [c.has_yerr for c in cost.axes[0].containers] == [True]
    assert "Error bars: the seeds' standard deviation." in cost.alt_text
    with pytest.raises(ValueError, match="seed values"):
        viz.plot_scatter({"a": (1, [0.5, float("nan")])}, "x", "y")


def test_every_figure_says_what_it_shows_in_its_alt_text():
    shown = {
        viz.plot_history({"plain20": fake_history(), "plain56": fake_history()}, title="Degradation"):
            "Degradation: loss and accuracy by epoch, training solid, validation dashed, of plain20 and plain56. "
            "Last validation accuracy: plain20 20.0 %, plain56 20.0 %.",
        viz.show_images(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), [0, 1], ["cat", "dog"], preds=[0, 0]):
            "2 images, true label → prediction, 1 of 2 right: cat, dog → cat.",
        viz.plot_bars({"cat": 0.5, "dog": 0.75}, "accuracy (%)", percent=True):
            "Bar chart of accuracy (%): cat 50, dog 75.",
        viz.plot_curves([4, 8], {"standard": [10, 20]}, "layers", "memory (MiB)"):
            "Memory (MiB) against layers: standard from 10 at 4 to 20 at 8.",
    }  # fmt: skip
    for fig, text in shown.items():
        assert fig.alt_text == text
        assert fig._repr_mimebundle_() == ({}, {"image/png": {"alt": text}})  # what display() sends with the PNG
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    for ax, title in zip(axes, ("mean activation", "accuracy lost")):
        viz.annotated_heatmap(ax, torch.tensor([[0.5, 1.0]]), ["1x1", "3x3"], ["3a"], title=title)
    maps = dict.fromkeys(("mean activation", "accuracy lost"), torch.tensor([[0.5, 1.0]]))
    side_by_side = viz.plot_heatmaps(maps, ["1x1", "3x3"], ["3a"], "branch", "module", fmts={"accuracy lost": "{:.1f}"})
    assert side_by_side.get_size_inches()[0] <= 6.8 and side_by_side.axes[1].texts[0].get_text() == "0.5"
    assert (
        fig.alt_text
        == side_by_side.alt_text
        == (
            "Heat map of mean activation, 1 rows (3a) by 2 columns (1x1 and 3x3), values from 0.5 to 1. "
            "Heat map of accuracy lost, 1 rows (3a) by 2 columns (1x1 and 3x3), values from 0.5 to 1."
        )
    )
    plt.close("all")


def test_every_plot_function_draws_in_the_books_style():
    plots = [f for name, f in vars(viz).items() if name.startswith(("plot_", "show_", "explore_")) and callable(f)]
    unstyled = [f.__name__ for f in plots if not getattr(f, "styled", False)]
    assert unstyled == ["show_source", "show_table"]  # text, not figures
    fig = viz.plot_bars({"a": 0.5, "b": 0.7}, "accuracy")
    assert not fig.axes[0].spines["top"].get_visible()
    assert matplotlib.colors.to_hex(fig.axes[0].patches[0].get_facecolor()) == viz.COLORS[0].lower()


def test_layer_trace_shares_one_log_scale_and_leaves_an_unknown_step_blank():
    trace = History([{"rel_step": [None, None]}, {"rel_step": [0.1, 0.01]}, {"rel_step": [1.0, 0.001]}])
    fig = viz.plot_layer_trace({"a": trace, "b": trace})
    image = fig.axes[0].images[0]
    assert image.norm.vmin == pytest.approx(0.001) and image.norm.vmax == pytest.approx(1.0)
    assert image.get_array().shape == (2, 3) and image.get_array().mask[:, 0].all()  # layers x epochs


def test_tables_write_whole_numbers_with_thousands_separators():
    table = viz.markdown_table([{"model": "resnet20", "params": 269332, "epochs": 14, "ok": True, "acc": 0.8453}])
    assert table.splitlines()[-1] == "| resnet20 | 269,332 | 14 | True | 0.845 |"
