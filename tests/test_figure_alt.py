"""A figure's alt text travels from the plot function through the kernel (output metadata) to the page's
<img alt> (book/_ext/output_alt.py), where Sphinx would otherwise write the image's file path."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def test_a_figure_drawn_in_a_kernel_reaches_the_built_page_with_its_alt_text(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Figures"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nfrom cnnbook import viz"),
        nbformat.v4.new_code_cell(
            'viz.plot_curves([4, 8], {"standard": [10, 20]}, "layers", "memory (MiB)")\nplt.show()'
        ),
        nbformat.v4.new_code_cell("plt.plot([0, 1])\nplt.show()"),  # a figure of no plot function: no alt text
        nbformat.v4.new_code_cell(
            'viz.plot_curves([1, 2], {"a": [1, 2]}, "x", "y")\nplt.show()',
            metadata={"mystnb": {"image": {"alt": "the cell's own alt text"}}},
        ),  # fmt: skip
    ]
    source = tmp_path / "src"
    source.mkdir()
    nbformat.write(nb, tmp_path / "in.ipynb")
    command = [sys.executable, "-m", "papermill", tmp_path / "in.ipynb", source / "page.ipynb", "-k", "python3"]
    ran = subprocess.run(command, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-2000:]
    alt = "Memory (MiB) against layers: standard from 10 at 4 to 20 at 8."
    outputs = nbformat.read(source / "page.ipynb", as_version=4).cells[2].outputs
    assert [o.metadata["image/png"]["alt"] for o in outputs if "image/png" in o.get("data", {})] == [alt]

    (source / "conf.py").write_text(f'import sys\nsys.path.insert(0, "{ROOT / "book" / "_ext"}")\n'
                                    'extensions = ["myst_nb", "output_alt"]\nnb_execution_mode = "off"\n')  # fmt: skip
    (source / "index.md").write_text("# Book\n\n```{toctree}\npage\n```\n")
    built = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", source, tmp_path / "html"],
                           capture_output=True, text=True)  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    images = re.findall(r'<img alt="([^"]*)" src="([^"]*)"', (tmp_path / "html" / "page.html").read_text())
    assert [a for a, _ in images] == [alt, images[1][1], "the cell's own alt text"]  # Sphinx's default: the path
