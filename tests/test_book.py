"""A notebook that raises must fail both the book build and the nbmake run."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).parent.parent
BIN = Path(sys.executable).parent


def failing_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Broken"),
            nbformat.v4.new_code_cell("raise ValueError('this chapter is broken')"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.skipif(shutil.which("jupyter-book", path=str(BIN)) is None, reason="jupyter-book not installed")
def test_book_build_fails_when_a_notebook_raises(tmp_path):
    config = (ROOT / "_config.yml").read_text().replace("  - book/references.bib", "  - references.bib")
    (tmp_path / "_config.yml").write_text(config)
    (tmp_path / "references.bib").write_text((ROOT / "book" / "references.bib").read_text())
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext")  # the config's local extension
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: broken\n")
    (tmp_path / "intro.md").write_text("# Intro\n")
    failing_notebook(tmp_path / "broken.ipynb")
    result = subprocess.run([str(BIN / "jupyter-book"), "build", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "this chapter is broken" in result.stdout + result.stderr


def test_nbmake_fails_when_a_notebook_raises(tmp_path):
    nb = failing_notebook(tmp_path / "broken.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", str(nb), "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "this chapter is broken" in result.stdout
