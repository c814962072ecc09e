"""Your runs (cnnbook.runs.yours): a model a chapter trains is kept, shown again without training,
resumed after an interruption with the same result, listed, removed, and kept within a disk limit."""

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from cnnbook import cli, get_budget
from cnnbook.book import chapter
from cnnbook.data import CIFAR10
from cnnbook.runs import yours
from cnnbook.runs.reference import RunSpec
from cnnbook.training.history import DETERMINISTIC_KEYS

pytestmark = pytest.mark.slow


@pytest.fixture
def small(cifar):
    """CIFAR-10 cut down: 256 training images are used, 200 validated, 200 tested."""
    return CIFAR10(cifar.train, cifar.val.take(200), cifar.test.take(200), cifar.classes, cifar.variant, "test")


@pytest.fixture
def cfg():
    return get_budget("smoke", epochs=2, subset=256, batch_size=64)


def deterministic(history):
    return [{k: r[k] for k in DETERMINISTIC_KEYS if k in r} for r in history.records]


def test_a_chapter_run_is_kept_and_shown_again_without_training(small, cfg, monkeypatch, capsys):
    first = chapter.train_chapter_model("resnet20", cfg, small, "cpu")
    assert first.source.startswith("your run of ") and "(smoke, cpu" in first.source
    assert "Training resnet20 here" in capsys.readouterr().out

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(yours, "train", no_training)
    again = chapter.train_chapter_model("resnet20", cfg, small, "cpu")
    out = capsys.readouterr().out
    assert out.startswith("Showing your run of ") and "Set TRAIN = True to train it again." in out
    assert deterministic(again.history) == deterministic(first.history)
    for a, b in zip(again.model.state_dict().values(), first.model.state_dict().values()):
        assert (a == b).all()
    test = again.evaluate_and_record(small)  # the measured test accuracy is kept with the run
    listed = yours.list_runs()
    assert [(r.model, r.measured_on, r.accuracy) for r in listed] == [("resnet20", "test", test["accuracy"])]


def test_train_true_trains_again_and_replaces_your_run(small, cfg):
    chapter.train_chapter_model("resnet20", cfg, small, "cpu")
    again = chapter.train_chapter_model("resnet20", cfg, small, "cpu", train=True)
    assert again.source.startswith("your run of ") and "(smoke, cpu" in again.source
    assert len(yours.list_runs()) == 1


def test_side_runs_and_the_transfer_experiment_are_kept_as_your_runs(small, monkeypatch, capsys):
    """Both decide through choice.choose: trained once, shown again from your runs folder."""
    cfg = get_budget("smoke")  # no stored reference at smoke: both train here
    side = chapter.side_runs(("plain20",), cfg, small, "cpu")
    rows, source = chapter.class_transfer_experiment(cfg, small, "cpu")
    assert "Trained here and kept as your runs: side-plain20" in capsys.readouterr().out
    assert source.startswith("this run (smoke") and "kept as your run" in source

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(yours, "train", no_training)
    again = chapter.side_runs(("plain20",), cfg, small, "cpu")
    assert "Showing your runs of side-plain20" in capsys.readouterr().out
    assert deterministic(again["plain20"].history) == deterministic(side["plain20"].history)
    rows_again, source_again = chapter.class_transfer_experiment(cfg, small, "cpu")
    assert source_again.startswith("your run of ") and rows_again == rows
    assert sorted(r.model for r in yours.list_runs()) == ["plain20", "resnet20"]  # the transfer run's model


def test_an_interrupted_run_resumes_and_ends_as_an_uninterrupted_one(small, cfg, tmp_path, monkeypatch, capsys):
    spec = RunSpec("resnet20", "chapter", cfg.chapter)

    def die_after_first_epoch(history):
        if len(history) == 1:
            raise KeyboardInterrupt  # the kernel dies after epoch 1 was saved

    with pytest.raises(KeyboardInterrupt):
        yours.train(spec, cfg.name, small, device="cpu", progress=False, callbacks=[die_after_first_epoch])
    assert yours.unfinished_epochs(spec, cfg.name) == 1
    assert yours.find(spec, cfg.name) is None
    resumed = chapter.train_chapter_model("resnet20", cfg, small, "cpu")
    assert "resuming your interrupted run after epoch 1" in capsys.readouterr().out

    monkeypatch.setenv("CNNBOOK_RUNS", str(tmp_path / "elsewhere"))
    whole = chapter.train_chapter_model("resnet20", cfg, small, "cpu")
    assert deterministic(resumed.history) == deterministic(whole.history)


def test_runs_are_listed_removed_and_kept_within_the_disk_limit(small, cfg, monkeypatch, capsys):
    spec = RunSpec("resnet20", "chapter", replace(cfg.chapter, epochs=1))
    yours.train(spec, cfg.name, small, device="cpu", progress=False)
    yours.train(replace(spec, seed=1), cfg.name, small, device="cpu", progress=False)
    older, newer = sorted(yours.list_runs(), key=lambda r: r.finished)
    assert (older.seed, newer.seed) == (0, 1) and older.size > 100_000

    monkeypatch.setenv("CNNBOOK_RUNS_MAX_MB", str(1.5 * newer.size / 2**20))
    assert yours.keep_within_limit() == [older.name]
    assert [r.name for r in yours.list_runs()] == [newer.name]
    assert "to stay under" in capsys.readouterr().out

    assert cli.main(["runs"]) == 0
    out = capsys.readouterr().out
    assert newer.name in out and "resnet20" in out and "seed 1" in out
    assert cli.main(["runs", "--remove", "smoke/nothing"]) == 2
    assert "no run named smoke/nothing" in capsys.readouterr().err
    assert cli.main(["runs", "--remove", newer.name]) == 0
    assert yours.list_runs() == []


def test_the_runs_folder_is_never_inside_the_package(monkeypatch):
    monkeypatch.setenv("CNNBOOK_RUNS", str(yours.PACKAGE / "results" / "mine"))
    with pytest.raises(yours.RunsFolderError, match="inside the cnnbook package"):
        yours.runs_dir()
    monkeypatch.delenv("CNNBOOK_RUNS")
    monkeypatch.setenv("XDG_DATA_HOME", "/somewhere")
    assert str(yours.runs_dir()) == os.path.join("/somewhere", "cnnbook", "runs")


def test_a_chapter_trained_with_train_true_is_shown_after_a_kernel_restart(cifar, tmp_path):
    """Two papermill runs (two kernels) of a chapter's first cells: TRAIN = True trains and keeps the
    run; TRAIN = False in a fresh kernel shows it without training."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("TRAIN = False")
    params.metadata["tags"] = ["parameters"]
    body = (
        "import cnnbook\n"
        'cfg, data, device = cnnbook.start_chapter("smoke", epochs=1, subset=256, batch_size=64)\n'
        'run = cnnbook.train_chapter_model("resnet20", cfg, data, device, train=TRAIN)'
    )
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "chapter.ipynb"
    nbformat.write(nb, source)
    printed = []
    for train in (True, False):
        out = tmp_path / f"train-{train}.ipynb"
        command = [sys.executable, "-m", "papermill", str(source), str(out), "-k", "python3", "-p", "TRAIN", str(train)]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
        assert done.returncode == 0, done.stderr[-2000:]
        outputs = nbformat.read(out, as_version=4).cells[-1].outputs  # after papermill's injected cell
        printed.append("".join(o.get("text", "") for o in outputs if o.get("name") == "stdout"))
    assert "Training resnet20 here (TRAIN = True)" in printed[0]
    assert "Showing your run of " in printed[1] and "Training" not in printed[1]
