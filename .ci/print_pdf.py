#!/usr/bin/env python3
"""Print the book's single-page build (jupyter-book build . --builder singlehtml) to one PDF with headless Chromium.

The page is served over http://127.0.0.1 and opened as .ci/check_site.py opens pages (every image loaded, MathJax
done), the exercise solutions are unfolded (paper cannot be clicked), and Chromium prints it on A4 itself (DevTools'
printToPDF through Selenium: no LaTeX, no browser download). Then check_pdf compares the PDF with the page: each
chapter's title is in the PDF's text, each chapter's pages draw at least as many raster images as the chapter has
raster <img>, and the words of each SVG diagram (which Chromium prints as vector drawings with real text) are in its
pages' text.

Sphinx writes the single page under the root document's name (book/intro.html) with links relative to the site root,
so it is printed from a copy at the root (print.html).

Usage: .venv/bin/python .ci/print_pdf.py _build/singlehtml _build/cnnbook.pdf
Exit status: 0 printed and complete, 1 an image did not load or the PDF misses a chapter or figure, 2 no browser/site.
"""

import argparse
import base64
import re
import shutil
import sys
import time
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

from check_site import CHROMEDRIVER, CHROMIUM, IMAGES_JS, browser, serve, settle
from pypdf import PdfReader

# A4 with 1.5 cm margins (DevTools measures in inches); backgrounds kept, so code cells keep their shading.
PRINT = {"paperWidth": 21 / 2.54, "paperHeight": 29.7 / 2.54, "printBackground": True}
PRINT |= dict.fromkeys(("marginTop", "marginBottom", "marginLeft", "marginRight"), 1.5 / 2.54)
HEADING = re.compile(r"h[1-6]")


class Documents(HTMLParser):
    """The single page's documents in order, as [title, raster <img> srcs, SVG <img> srcs] (the root first).

    Only <article> counts (the header's launch-button logos are not printed). Sphinx's singlehtml marks where each
    document starts with <span id="document-NAME">; the first heading after it is the document's title."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.docs, self.heading, self.depth = [], None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "article":
            self.depth += 1
        if not self.depth:
            return
        if not self.docs or (tag == "span" and (attrs.get("id") or "").startswith("document-")):
            self.docs.append(["", [], []])
        if HEADING.fullmatch(tag) and not self.docs[-1][0]:
            self.heading = []
        elif tag == "img" and attrs.get("src"):
            self.docs[-1][2 if attrs["src"].lower().endswith(".svg") else 1].append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "article" and self.depth:
            self.depth -= 1
        if self.heading is not None and HEADING.fullmatch(tag):
            self.docs[-1][0] = "".join(self.heading).strip().rstrip("#¶").strip()
            self.heading = None

    def handle_data(self, data):
        if self.heading is not None:
            self.heading.append(data)


def documents(page: Path) -> list[list]:
    parser = Documents()
    parser.feed(page.read_text(encoding="utf-8"))
    return [doc for doc in parser.docs if doc[0]]


def squash(text: str) -> str:
    """Text without whitespace (PDF text extraction breaks lines where the layout did) or ligatures (ﬁ, ﬃ)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def svg_words(svg: Path) -> str:
    """The longest <text> of an SVG diagram (its most telling words), or '' if it has none."""
    texts = re.findall(r"<text\b[^>]*>([^<]+)</text>", svg.read_text(encoding="utf-8"))
    return max((squash(t) for t in texts), key=len, default="")


def check_pdf(pdf: Path, page: Path) -> tuple[list[str], list[str]]:
    """Compare ``pdf`` with the single ``page`` it was printed from; return its problems and a note per document.

    A document starts on the first page after the previous document's start that begins with its title (the book's
    print CSS starts each on a new sheet), else on the first from that start on that contains it; its pages run to the
    next document's start."""
    reader = PdfReader(pdf)
    texts = [squash(p.extract_text() or "") for p in reader.pages]
    drawn = [len(p.images) for p in reader.pages]
    docs, problems, spans, after = documents(page), [], [], 0
    for title, _, _ in docs:
        key = squash(title)
        start = next((i for i in range(after + 1, len(texts)) if texts[i].startswith(key)), None)
        top = start is not None
        start = start if top else next((i for i in range(after, len(texts)) if key in texts[i]), None)
        if start is None:
            problems.append(f"missing chapter {title!r}: its title is not in the PDF's text")
        else:
            after = start
        spans.append((start, top))
    notes = []
    for i, ((title, raster, svgs), (start, _)) in enumerate(zip(docs, spans)):
        if start is None:
            continue
        # To the next document's start; a document that starts mid-page shares that page with this one.
        end = next((s + (not top) for s, top in spans[i + 1 :] if s is not None), len(texts))
        images, text = sum(drawn[start:end]), "".join(texts[start:end])
        if images < len(raster):
            problems.append(
                f"figures missing in {title!r}: {images} raster images drawn, {len(raster)} <img> on the page"
            )
        absent = [src for src in svgs if svg_words(page.parent / src) not in text]
        problems += [f"diagram missing in {title!r}: the words of {src} are not in its pages" for src in absent]
        notes.append(
            f"{title}: pages {start + 1}-{end}, {images} raster images drawn for {len(raster)} <img>, "
            f"{len(svgs) - len(absent)}/{len(svgs)} SVG diagrams"
        )
    return problems, notes


def single_page(site: Path) -> Path:
    """A copy of the single page at the site root, where its links resolve (index.html is etoc's redirect to it)."""
    index = site / "index.html"
    target = re.search(r'url=([^"]+)"', index.read_text(encoding="utf-8"))
    if not target:
        return index
    page = site / "print.html"
    shutil.copyfile(site / target[1], page)
    return page


def print_pdf(site: Path, page: Path, out: Path) -> list[str]:
    """Print ``page`` (at the root of ``site``) to ``out``; return the images that did not load."""
    server, base = serve(site)
    driver = browser()
    try:
        driver.get(f"{base}/{page.name}")
        driver.execute_script("document.querySelectorAll('details.sd-dropdown').forEach(d => d.open = true)")
        settle(driver)
        broken = [f"image not loaded: {src}" for src, loaded, _ in driver.execute_script(IMAGES_JS) if not loaded]
        # DevTools' own command: WebDriver's print timed out on the whole book here ("from renderer: 10.000").
        pdf = driver.execute_cdp_cmd("Page.printToPDF", PRINT)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(pdf["data"]))
    finally:
        driver.quit()
        server.shutdown()
    return broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the singlehtml build folder, e.g. _build/singlehtml")
    parser.add_argument("out", type=Path, help="the PDF to write, e.g. _build/cnnbook.pdf")
    args = parser.parse_args()
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing or not (args.site / "index.html").exists():
        print(f"print_pdf: missing {', '.join(missing) or args.site / 'index.html'}", file=sys.stderr)
        return 2
    started = time.monotonic()
    page = single_page(args.site)
    problems = print_pdf(args.site, page, args.out)
    more, notes = check_pdf(args.out, page)
    problems += more
    print("".join(f"  {note}\n" for note in notes), end="")
    print("".join(f"print_pdf: FAIL {problem}\n" for problem in problems), end="")
    print(
        f"print_pdf: {args.out}: {len(PdfReader(args.out).pages)} pages, {args.out.stat().st_size / 1e6:.1f} MB, "
        f"{len(notes)} documents, printed and checked in {time.monotonic() - started:.0f} s"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
