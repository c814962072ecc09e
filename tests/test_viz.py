import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from cnnbook import probe, viz  # noqa: E402
from cnnbook.models import get_model  # noqa: E402
from cnnbook.train import History  # noqa: E402


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
        epochs=3,
        batch_size=32,
        lr=0.05,
        device="cpu",
        progress=False,
        callbacks=[live],
    )
    assert [kind for kind, _ in shown] == ["display", "update", "update"]
    lines = {line.get_label(): line for line in shown[-1][1].axes[0].get_lines()}
    assert set(lines) == {"live train", "live val", "reference train"}
    assert list(lines["live train"].get_xdata()) == [1, 2, 3]
