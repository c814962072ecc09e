"""Notebooks are committed clean and carry what papermill and the book need."""

import ast
import importlib
import json
import re
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


CHAPTERS = [p for p in NOTEBOOKS if not p.name.startswith(("00", "04"))]  # the pages with exercises
ARCHITECTURES = [p for p in CHAPTERS if "depth" not in p.name]  # the chapters that build and show a network


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_exercise_has_a_worked_solution_behind_a_toggle(path):
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]
    exercises = next(text for text in cells if text.startswith("## Exercises"))
    numbered = [line for line in exercises.splitlines() if line.startswith("**") and ". " in line[:6]]
    assert len(numbered) >= 3
    assert exercises.count(":::{dropdown} Solution") == len(numbered)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapters_caption_their_key_figures(path):
    cells = json.loads(path.read_text())["cells"]
    names = [c["metadata"]["mystnb"]["figure"]["name"] for c in cells if "mystnb" in c.get("metadata", {})]
    assert len(names) >= 2 and len(set(names)) == len(names)


@pytest.mark.parametrize("path", ARCHITECTURES, ids=lambda p: p.name)
def test_architecture_chapters_show_grad_cam(path):
    cells = json.loads(path.read_text())["cells"]
    assert any("grad_cam(" in "".join(c["source"]) for c in cells if c["cell_type"] == "code")


def python_snippets(path: Path) -> list[tuple[str, str]]:
    """(kind, code) for every code cell and every ```python block of the Markdown (the solutions)."""
    snippets = []
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            snippets.append(("cell", source))
        else:
            snippets += [("solution", code) for code in re.findall(r"```python\n(.*?)```", source, re.S)]
    return snippets


def resolve(dotted: str):
    """The object ``cnnbook.a.b...`` names, importing submodules as ``import cnnbook.a`` would."""
    obj = importlib.import_module("cnnbook")
    parts = dotted.split(".")[1:]
    for i, part in enumerate(parts):
        if not hasattr(obj, part) and hasattr(obj, "__path__"):  # a package: the part may be a submodule
            importlib.import_module(".".join(["cnnbook", *parts[: i + 1]]))
        assert hasattr(obj, part), f"{dotted}: {'.'.join(['cnnbook', *parts[:i]])} has no {part!r}"
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_code_and_solutions_name_only_what_cnnbook_has(path):
    """The build never runs the solutions: they must at least parse, and every budget field
    (``cfg.x``) and ``cnnbook.x.y`` they or the cells use must exist."""
    from cnnbook import get_budget

    budget = get_budget("smoke")
    for kind, code in python_snippets(path):
        if kind == "solution":
            ast.parse(code)
        for name in re.findall(r"\bcfg\.(\w+)", code):
            assert hasattr(budget, name), f"{path.name}: a {kind} uses cfg.{name}, which a Budget does not have"
        for dotted in re.findall(r"\bcnnbook(?:\.\w+)+", code):
            resolve(dotted)  # raises naming the missing attribute or module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_code_cell_a_reader_sees_is_longer_than_30_lines(path):
    lengths = [len(code.splitlines()) for kind, code in python_snippets(path) if kind == "cell"]
    assert max(lengths) <= 30, f"{path.name}: code cells of {sorted(n for n in lengths if n > 30)} lines"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_worked_solution_runs_after_its_chapter(path, cifar, monkeypatch):
    """The build never runs the solutions, so each chapter is executed here at the smoke budget with
    its solutions appended as cells, in order, in the chapter's own kernel: a solution that calls a
    renamed function or a variable the chapter no longer defines fails with its traceback."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    solutions = [code for kind, code in python_snippets(path) if kind == "solution"]
    nb.cells += [nbformat.v4.new_code_cell(code) for code in solutions]
    for name, value in {"CNNBOOK_BUDGET": "smoke", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}.items():
        monkeypatch.setenv(name, value)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    ran = [c for c in nb.cells[-len(solutions) :] if c.get("execution_count")]
    assert len(ran) == len(solutions) >= 3
