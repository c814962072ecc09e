""".ci/check_site.py on a tiny fixture site: each kind of broken page fails (low-contrast text in light or dark mode
too), external CDN failures only warn."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "check_site.py"
needs_chromium = pytest.mark.skipif(
    not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()),
    reason="needs apt-get install chromium chromium-driver",
)


# The theme's dark mode in small: pydata-sphinx-theme's <head> script copies localStorage's choice onto <html>.
THEME = """<script>document.documentElement.dataset.theme = localStorage.getItem("theme") || "light"</script>
<style>html[data-theme=dark] body { background: #121212; color: #ced6dd }</style>"""


def make_site(root: Path, pages: dict[str, str]) -> Path:
    site = root / "html"
    for name, body in pages.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(f"<!doctype html><html><head><title>t</title>{THEME}</head><body>{body}</body></html>")
    for folder in {(site / name).parent for name in pages}:
        Image.new("RGB", (64, 48), (30, 30, 200)).save(folder / "fig.png")
    shutil.copytree(ROOT / "book" / "_static" / "mathjax", site / "_static" / "mathjax")  # the book's own copy
    return site


def check(site: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, site, *args], capture_output=True, text=True, timeout=120)


def report(out: str, page: str) -> list[str]:
    """The lines check_site printed for ``page``: its status line, then its problems."""
    lines = iter(out.splitlines())
    block = [next(line for line in lines if line[5:].startswith(f"{page}  "))]
    for line in lines:
        if not line.startswith("       - "):
            break
        block.append(line.strip())
    return block


GOOD = {
    "index.html": '<main><img src="fig.png" alt="blue"><pre>| a |\n|---|</pre><p>a | b, c---d</p></main>',
    "external.html": '<script src="https://cdn.example.invalid/x.js"></script><p>offline CDN</p>',
    "notebooks/ch.html": '<main><h1>Chapter</h1><img src="fig.png" alt="blue"><div style="height:3000px"></div></main>',
    # A white output box keeps its dark text in dark mode: readable.
    "output.html": '<main><div style="background: #fff; color: #222"><pre>loss 0.79</pre></div></main>',
    "math.html": '<script defer src="_static/mathjax/tex-chtml.js"></script><main><p>\\(y = F(x) + x\\)</p></main>',
    "_static/ignored.html": '<img src="nope.png">',
    "search.html": '<img src="nope.png">',
}


@needs_chromium
def test_good_site_passes_and_external_failures_only_warn(tmp_path):
    result = check(make_site(tmp_path, GOOD))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK   external.html  images 0/0" in result.stdout
    assert "OK   notebooks/ch.html  images 1/1" in result.stdout
    assert "warning: 1 failed request(s) to external host cdn.example.invalid" in result.stdout
    assert "OK   math.html" in result.stdout  # typeset by the MathJax served with the book
    assert "OK   output.html" in result.stdout
    assert "5 pages, 5 OK, 0 failed" in result.stdout  # _static/ and search.html are skipped
    for name in ("ch.png", "ch-dark.png"):
        shot = tmp_path / "screenshots" / name
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert Image.open(shot).size[1] > 3000  # the whole page, not just the window
    light, dark = (Image.open(tmp_path / "screenshots" / n).convert("RGB") for n in ("ch.png", "ch-dark.png"))
    assert light.getpixel((5, 2000)) == (255, 255, 255) and dark.getpixel((5, 2000)) == (18, 18, 18)


@needs_chromium
def test_broken_pages_fail(tmp_path):
    site = make_site(
        tmp_path,
        {
            **GOOD,
            "broken.html": '<img src="missing.png">',
            "boom.html": '<script>throw new Error("boom")</script>',
            "notebooks/nofig.html": "<main><h1>No figures</h1></main>",
            "rawmath.html": "<main><p>\\(y = F(x) + x\\) without MathJax</p></main>",
            "rawdollar.html": "<main><p>$y = \\mathrm{ReLU}(F(x)</p><ul><li>x)$ read as a list</li></ul></main>",
            "rawtable.html": "<main><p>| model | accuracy |\n|---|---|\n| resnet20 | 85% |</p></main>",
            "leaks.html": "<main><div class=\"cell_output\"><pre>CIFAR10(source='/work/shared/data/cifar10')\n"
            'Downloading: "https://download.pytorch.org/models/resnet50.pth" to /root/.cache/torch\n'
            "URLError: &lt;urlopen error [Errno -2] Name or service not known&gt;</pre></div></main>",
            "wide.html": '<main><p>fits</p><div class="table" style="width: 800px">wider than a phone</div></main>',
        },
    )
    result = check(site, "--screenshots", str(tmp_path / "shots"))
    assert result.returncode == 1
    out = result.stdout
    assert "FAIL broken.html  images 0/1" in out and "image not loaded: missing.png" in out
    assert "local request failed: /missing.png" in out
    assert "FAIL boom.html" in out and "Uncaught Error: boom" in out
    assert "FAIL notebooks/nofig.html" in out and "no figures" in out
    assert "FAIL rawtable.html" in out and "Markdown table shown as text" in out
    assert "FAIL rawmath.html" in out and "math shown as TeX source" in out
    assert "FAIL rawdollar.html" in out
    assert "FAIL leaks.html" in out and "an output shows an absolute path of the build machine: '/work/shared'" in out
    assert "an output shows a download progress line: 'Downloading:'" in out
    assert "an output shows a Python traceback or raw network error: 'URLError'" in out
    assert "FAIL wide.html" in out and "at 390 px wide the page scrolls sideways by" in out and "div.table" in out
    assert "OK   notebooks/ch.html" in out and "13 pages, 5 OK, 8 failed" in out
    assert out.count("local request failed: /missing.png") == 1  # the dark-mode reload's repeat is not listed again
    shots = ["ch-dark.png", "ch.png", "nofig-dark.png", "nofig.png"]
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == shots


@needs_chromium
def test_low_contrast_text_fails_in_the_mode_that_has_it(tmp_path):
    dark_text = "html[data-theme=dark] .out { color: #eee }"
    site = make_site(
        tmp_path,
        {
            **GOOD,
            # Output text the dark theme lightens, left on the white box the output draws.
            "whitebox.html": f'<style>{dark_text}</style><main><div style="background: #fff">'
            '<pre class="out">loss 0.79</pre></div></main>',
            # Text coloured for the light page, unreadable on the dark one.
            "dim.html": '<main><figcaption style="color: #333">Fig. 1 the dim caption</figcaption></main>',
            "pale.html": '<main><p style="color: #ccc">pale in light mode</p></main>',
            "nodark.html": '<script>document.documentElement.dataset.theme = "light"</script><main><p>x</p></main>',
        },
    )
    result = check(site)
    assert result.returncode == 1
    whitebox, dim, pale = (report(result.stdout, page) for page in ("whitebox.html", "dim.html", "pale.html"))
    assert whitebox == [
        "FAIL whitebox.html  images 0/0",
        "- dark mode: contrast 1.16:1 < 3:1 for <pre.out> 'loss 0.79' (rgb(238, 238, 238) on rgb(255, 255, 255))",
    ]
    assert dim[1] == (
        "- dark mode: contrast 1.48:1 < 3:1 for <figcaption> 'Fig. 1 the dim caption' "
        "(rgb(51, 51, 51) on rgb(18, 18, 18))"
    )
    assert pale[1].startswith("- light mode: contrast 1.61:1 < 3:1 for <p> 'pale in light mode'") and len(pale) == 2
    assert (
        report(result.stdout, "nodark.html")[1] == "- dark mode: the page did not switch (no <html data-theme='dark'>)"
    )
    assert "9 pages, 5 OK, 4 failed" in result.stdout


@needs_chromium
def test_a_printed_line_wider_than_its_column_fails_unless_the_books_css_wraps_it(tmp_path):
    line = "resnet20 is 0.5 points above densenet_cifar, within its noise; " * 5
    output = f'<main><div class="cell_output"><div class="output stream"><pre>{line}</pre></div></div></main>'
    book_css = '<link rel="stylesheet" href="_static/cnnbook.css">'
    site = make_site(tmp_path, {"cut.html": output, "wrapped.html": book_css + output})
    shutil.copy(ROOT / "book" / "_static" / "cnnbook.css", site / "_static")
    result = check(site)
    cut = report(result.stdout, "cut.html")
    assert cut[1].startswith("- at 1280 px wide a printed line is ") and cut[1].endswith(
        "px wider than its column: 'resnet20 is 0.5 points above densenet_cifar, within its nois'"
    )
    assert cut[2].startswith("- at 390 px wide a printed line is ")  # (then: the page scrolls sideways there)
    assert "OK   wrapped.html" in result.stdout and "2 pages, 1 OK, 1 failed" in result.stdout


@needs_chromium
def test_an_image_whose_alt_text_is_missing_or_a_file_name_fails(tmp_path):
    site = make_site(
        tmp_path,
        {
            "notebooks/noalt.html": '<main><img src="fig.png"></main>',
            "notebooks/path.html": '<main><img src="fig.png" alt="../_images/0a1b2c.png"></main>',
            "notebooks/said.html": '<main><img src="fig.png" alt="Training error by epoch of plain20"></main>',
            "decorative.html": '<main><img src="fig.png" alt=""></main>',  # an empty alt: nothing to say
        },
    )
    out = check(site).stdout
    assert report(out, "notebooks/noalt.html")[1:] == ["- image without alt text: fig.png"]
    assert report(out, "notebooks/path.html")[1:] == ["- image alt text is a file name: '../_images/0a1b2c.png'"]
    assert "OK   notebooks/said.html" in out and "OK   decorative.html" in out


def test_missing_browser_exits_2(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("check_site", SCRIPT)
    check_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_site)
    monkeypatch.setattr(check_site, "CHROMEDRIVER", tmp_path / "no-chromedriver")
    monkeypatch.setattr(sys, "argv", ["check_site.py", str(tmp_path)])
    assert check_site.main() == 2
    assert "apt-get install chromium chromium-driver" in capsys.readouterr().err


@needs_chromium
def test_an_explorer_must_change_its_picture_from_the_keyboard_in_both_modes(tmp_path):
    import re

    import torch

    from cnnbook import get_model
    from cnnbook.book import viz

    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    model, classes = get_model("resnet20").eval(), list("abcdefghij")  # one name for each of its 10 outputs
    shown = viz.explorer(model, images, [0, 1, 2], classes, ["stem", "stages.2"], "stages.2")
    working = shown._repr_html_()
    dead = re.sub(r"<script>.*?</script>", "", working, flags=re.S)  # the controls without the script behind them
    site = make_site(
        tmp_path, {"notebooks/ok.html": f"<main>{working}</main>", "notebooks/dead.html": f"<main>{dead}</main>"}
    )
    out = check(site).stdout
    assert "OK   notebooks/ok.html" in out
    assert report(out, "notebooks/dead.html")[1:] == [
        "- light mode: explorer 1: choosing another layer did not change the picture",
        "- light mode: explorer 1: choosing another image did not change the picture",
        "- dark mode: explorer 1: choosing another layer did not change the picture",
        "- dark mode: explorer 1: choosing another image did not change the picture",
    ]
