import json

import nbformat
import pytest

from cnnbook.book.chapter import record_result
from cnnbook.book.sweep import SweepError, grid_points, run_sweep
from cnnbook.cli import main, parse_grid


def test_record_result_writes_json_and_ignores_a_missing_path(tmp_path):
    record_result(None, test_accuracy=0.5)  # a notebook run outside a sweep
    record_result(tmp_path / "a" / "r.json", model="resnet20", test_accuracy=0.5)
    assert json.loads((tmp_path / "a" / "r.json").read_text()) == {"model": "resnet20", "test_accuracy": 0.5}


def test_grid_points_and_cli_grid_parsing():
    grid = parse_grid([["MODEL", "plain20", "resnet20"], ["EPOCHS", "1", "2"]])
    assert grid == {"MODEL": ["plain20", "resnet20"], "EPOCHS": [1, 2]}
    assert grid_points(grid) == [
        {"MODEL": "plain20", "EPOCHS": 1},
        {"MODEL": "plain20", "EPOCHS": 2},
        {"MODEL": "resnet20", "EPOCHS": 1},
        {"MODEL": "resnet20", "EPOCHS": 2},
    ]
    with pytest.raises(ValueError, match="MODEL has no values"):
        parse_grid([["MODEL"]])


def toy_notebook(path, record=True, fails_at_depth=None):
    """A notebook with a parameters cell whose 'test accuracy' is a function of the depth in MODEL."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('MODEL = "resnet20"\nEPOCHS = None\nSEED = 0\nBUDGET = None\nRESULT_FILE = None')
    params.metadata["tags"] = ["parameters"]
    body = "import re\nfrom cnnbook.book.chapter import record_result\ndepth = int(re.findall(r'\\d+', MODEL)[0])\n"
    if fails_at_depth:
        body += f"if depth == {fails_at_depth}:\n    raise MemoryError('out of memory\\nat depth {fails_at_depth}')\n"
    body += (
        "record_result(RESULT_FILE, model=MODEL, budget=BUDGET, test_accuracy=depth / 100,\n"
        "              final_train_loss=1 / depth)"
        if record
        else "print(depth)"
    )
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_sweep_runs_every_point_and_collects_one_table_and_figure(tmp_path):
    nb = toy_notebook(tmp_path / "toy.ipynb")
    out = str(tmp_path / "out")
    assert main(["sweep", str(nb), "-p", "MODEL", "plain20", "plain56", "resnet20", "--out", out]) == 0
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(r["model"], r["test_accuracy"], r["budget"]) for r in rows] == [
        ("plain20", 0.2, "smoke"),
        ("plain56", 0.56, "smoke"),
        ("resnet20", 0.2, "smoke"),
    ]
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| MODEL | model | budget | test_accuracy |" in table and "56.00%" in table
    assert (tmp_path / "out" / "results.png").stat().st_size > 10_000
    assert len(list((tmp_path / "out" / "notebooks").glob("*.ipynb"))) == 3


def test_a_notebook_that_records_nothing_is_a_clear_error(tmp_path):
    nb = toy_notebook(tmp_path / "toy.ipynb", record=False)
    with pytest.raises(RuntimeError, match="wrote no result"):
        run_sweep(nb, {"MODEL": ["resnet20"]}, tmp_path / "out")


@pytest.mark.parametrize(
    "grid, message",
    [
        (
            {"MODEL": ["resnet20", "resnet56", "resnt110"]},
            "-p MODEL: unknown model 'resnt110'. Did you mean 'resnet110'?",
        ),
        ({"MODEL": ["resnet20"], "EPOCH": [1]}, "has no parameter EPOCH; its parameters: MODEL, EPOCHS, SEED"),
        ({"BUDGET": ["quick"]}, "-p BUDGET: the sweep sets BUDGET itself"),
        ({"SEED": [0, "one"]}, "-p SEED 'one': expected a value of the default's type (int, default 0)"),
    ],
)
def test_the_whole_grid_is_checked_before_anything_runs(tmp_path, grid, message):
    nb = toy_notebook(tmp_path / "toy.ipynb")
    with pytest.raises(SweepError) as err:
        run_sweep(nb, grid, tmp_path / "out")
    assert message in str(err.value)
    assert not (tmp_path / "out").exists()


def test_an_earlier_sweep_is_kept_unless_overwrite_and_a_failing_run_keeps_the_finished_ones(tmp_path, capsys):
    nb = toy_notebook(tmp_path / "toy.ipynb", fails_at_depth=56)
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text(json.dumps([{"model": "plain20"}] * 8))
    args = ["sweep", str(nb), "-p", "MODEL", "resnet20", "resnet56", "--out", str(out)]
    assert main(args) == 2
    assert "already holds a sweep of 8 runs: replace it with --overwrite" in capsys.readouterr().err
    assert len(json.loads((out / "results.json").read_text())) == 8

    assert main([*args, "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("--overwrite: deleted a sweep of 8 runs")
    failure = err.splitlines()[-1]
    assert len(err.splitlines()) == 2
    assert failure.startswith("error: run 2/2 (MODEL resnet56) failed: MemoryError: out of memory. See ")
    assert failure.endswith(f"the 1 finished runs are in {out / 'results.md'}")
    assert [r["model"] for r in json.loads((out / "results.json").read_text())] == ["resnet20"]
    assert (out / "results.png").exists() and "resnet20" in (out / "results.md").read_text()


def test_an_interrupted_sweep_exits_130_and_frees_its_folder(tmp_path, monkeypatch, capsys):
    import cnnbook.book.sweep

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cnnbook.book.sweep, "run_sweep", interrupted)
    nb, out = toy_notebook(tmp_path / "toy.ipynb"), tmp_path / "out"
    assert main(["sweep", str(nb), "-p", "MODEL", "resnet20", "--out", str(out)]) == 130
    assert capsys.readouterr().err == (
        f"interrupted: the finished runs' results, if any, are in {out / 'results.md'}; --resume keeps them\n"
    )
    assert list(out.iterdir()) == []  # no lock left behind


def test_resume_keeps_the_finished_runs_and_runs_only_the_others(tmp_path, monkeypatch, capsys):
    import papermill

    import cnnbook.book.sweep

    nb, out = toy_notebook(tmp_path / "toy.ipynb"), tmp_path / "out"
    args = ["sweep", str(nb), "-p", "MODEL", "plain20", "plain56", "resnet20", "--out", str(out)]
    assert main(args) == 0
    (out / "json" / "plain56.json").unlink()  # as if the sweep had been interrupted during plain56
    executed = []
    real = papermill.execute_notebook

    def counted(*args, **kwargs):
        executed.append(kwargs["parameters"])
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", counted)
    assert main([*args, "--resume"]) == 0
    assert [p["MODEL"] for p in executed] == ["plain56"]
    rows = json.loads((out / "results.json").read_text())
    assert [(r["MODEL"], r["test_accuracy"]) for r in rows] == [("plain20", 0.2), ("plain56", 0.56), ("resnet20", 0.2)]
    assert all(r["notebook_minutes"] >= 0 for r in rows)
    assert "run 1/3 (MODEL plain20): finished before, kept" in capsys.readouterr().out
    done = out / "json" / "plain20.json", out / "notebooks" / "toy-plain20.ipynb"
    assert cnnbook.book.sweep._finished(*done, "smoke")["test_accuracy"] == 0.2
    assert cnnbook.book.sweep._finished(*done, "quick") is None  # a result of another budget is never kept
