import json

import nbformat
import pytest

from cnnbook.cli import main, parse_grid
from cnnbook.sweep import grid_points, record_result, run_sweep


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


def toy_notebook(path, record=True):
    """A notebook with a parameters cell whose 'test accuracy' is a function of the depth in MODEL."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('MODEL = "resnet20"\nBUDGET = None\nRESULT_FILE = None')
    params.metadata["tags"] = ["parameters"]
    body = "import re\nfrom cnnbook import sweep\ndepth = int(re.findall(r'\\d+', MODEL)[0])\n" + (
        "sweep.record_result(RESULT_FILE, model=MODEL, budget=BUDGET, test_accuracy=depth / 100,\n"
        "                    final_train_loss=1 / depth)"
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
