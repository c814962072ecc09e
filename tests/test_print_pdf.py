""".ci/print_pdf.py on a tiny single-page site laid out as Sphinx's singlehtml lays out the book: it prints a PDF,
and the check finds every chapter, raster figure and SVG diagram in it, or names what is missing."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "print_pdf.py"
needs_chromium = pytest.mark.skipif(
    not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()),
    reason="needs apt-get install chromium chromium-driver",
)
SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="300" height="80">
<text x="10" y="30" font-size="14">x</text><text x="10" y="60" font-size="14">{words}</text></svg>"""
CHAPTERS = """<span id="document-ch1"></span><section><h2>First chapter<a class="headerlink">#</a></h2>
<p>Text.</p><img src="_images/plot.png"><img src="_images/shortcut.svg"></section>
<span id="document-ch2"></span><section><h2>Second chapter</h2><p>More.</p><img src="_images/{second}"></section>"""


def load():
    sys.path.insert(0, str(SCRIPT.parent))  # print_pdf imports check_site from beside it
    try:
        spec = importlib.util.spec_from_file_location("print_pdf", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SCRIPT.parent))


def make_site(root: Path, second: str = "curve.png") -> Path:
    """index.html redirects to book/intro.html, whose links are relative to the site root (as singlehtml writes)."""
    site = root / "singlehtml"
    (site / "book").mkdir(parents=True)
    (site / "_images").mkdir()
    (site / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />')
    head = '<link rel="stylesheet" href="_static/cnnbook.css">'  # the book's print CSS: a sheet per document
    header = '<header><img src="_images/logo.png"></header>'  # outside <article>: not one of the book's figures
    body = f"<article><h1>A tiny book</h1><p>Intro.</p>{CHAPTERS.format(second=second)}</article>"
    (site / "book" / "intro.html").write_text(
        f"<!doctype html><html><head>{head}</head><body>{header}{body}</body></html>"
    )
    (site / "_static").mkdir()
    shutil.copy(ROOT / "book" / "_static" / "cnnbook.css", site / "_static")
    for name, colour in (("plot.png", (200, 30, 30)), ("curve.png", (30, 160, 30)), ("logo.png", (0, 0, 0))):
        Image.new("RGB", (120, 90), colour).save(site / "_images" / name)
    (site / "_images" / "shortcut.svg").write_text(SVG.format(words="identity shortcut"))
    return site


def print_pdf(site: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, site, out], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pdf")
    site = make_site(root)
    return site, root / "book.pdf", print_pdf(site, root / "book.pdf")


@needs_chromium
def test_the_single_page_prints_with_every_chapter_and_figure(printed):
    site, pdf, result = printed
    assert result.returncode == 0, result.stdout + result.stderr
    # The book's print CSS starts each document on a new sheet.
    assert "First chapter: pages 2-2, 1 raster images drawn for 1 <img>, 1/1 SVG diagrams" in result.stdout
    assert "Second chapter: pages 3-3, 1 raster images drawn for 1 <img>, 0/0 SVG diagrams" in result.stdout
    assert "3 documents" in result.stdout and "FAIL" not in result.stdout
    assert (site / "print.html").exists()  # the copy at the root, where the page's links resolve
    pages = PdfReader(pdf).pages
    assert "A tiny book" in pages[0].extract_text() and "identity shortcut" in pages[1].extract_text()  # SVG text


@needs_chromium
def test_the_check_names_a_missing_chapter_figure_and_diagram(printed):
    site, pdf, _ = printed
    page, chapters = site / "variant.html", CHAPTERS.format(second="curve.png")  # beside _images/, as print.html
    third = '<span id="document-ch3"></span><section><h2>Third chapter</h2><img src="_images/plot.png"></section>'
    page.write_text(f"<article><h1>A tiny book</h1>{chapters}{third}</article>")
    problems, _ = load().check_pdf(pdf, page)
    assert problems == ["missing chapter 'Third chapter': its title is not in the PDF's text"]
    (site / "other.svg").write_text(SVG.format(words="dense block"))
    page.write_text(f'<article><h1>A tiny book</h1>{chapters}<img src="other.svg"><img src="x.png"></article>')
    problems, _ = load().check_pdf(pdf, page)
    assert problems == [
        "figures missing in 'Second chapter': 1 raster images drawn, 2 <img> on the page",
        "diagram missing in 'Second chapter': the words of other.svg are not in its pages",
    ]


@needs_chromium
def test_a_figure_that_does_not_load_fails(tmp_path):
    result = print_pdf(make_site(tmp_path, second="gone.png"), tmp_path / "book.pdf")
    assert result.returncode == 1
    # Chromium prints its broken-image icon, which the image count cannot tell from a figure: the browser can.
    assert "print_pdf: FAIL image not loaded: _images/gone.png" in result.stdout


def test_missing_browser_exits_2(tmp_path, monkeypatch, capsys):
    print_pdf_module = load()
    monkeypatch.setattr(print_pdf_module, "CHROMEDRIVER", tmp_path / "no-chromedriver")
    monkeypatch.setattr(sys, "argv", ["print_pdf.py", str(tmp_path), str(tmp_path / "book.pdf")])
    assert print_pdf_module.main() == 2
    assert "no-chromedriver" in capsys.readouterr().err
