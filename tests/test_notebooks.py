"""Notebooks are committed clean and carry what papermill and the book need."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    code = [(i, c) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    dirty = [i for i, c in code if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_parameters_cell_and_a_kernelspec(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "papermill needs exactly one cell tagged 'parameters'"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_every_notebook_is_in_the_table_of_contents():
    toc = (Path(__file__).parent.parent / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in toc


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_first_code_cell_installs_cnnbook_only_where_it_is_missing(path):
    first = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    source = "".join(first["source"])
    assert 'importlib.util.find_spec("cnnbook") is None' in source and "pip" in source


CHAPTERS = [p for p in NOTEBOOKS if not p.name.startswith("04")]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_exercise_has_a_worked_solution_behind_a_toggle(path):
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]
    exercises = next(text for text in cells if text.startswith("## Exercises"))
    numbered = [line for line in exercises.splitlines() if line.startswith("**") and ". " in line[:6]]
    assert len(numbered) >= 3
    assert exercises.count(":::{dropdown} Solution") == len(numbered)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapters_caption_their_key_figures_and_show_grad_cam(path):
    cells = json.loads(path.read_text())["cells"]
    names = [c["metadata"]["mystnb"]["figure"]["name"] for c in cells if "mystnb" in c.get("metadata", {})]
    assert len(names) >= 2 and len(set(names)) == len(names)
    assert any("grad_cam(" in "".join(c["source"]) for c in cells if c["cell_type"] == "code")
