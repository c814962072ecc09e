#!/usr/bin/env python3
"""Check a built static site (the Jupyter Book's _build/html) in headless Chromium.

Every HTML page (except Sphinx's _static/, _sources/, _images/, genindex.html and search.html) is served over
http://127.0.0.1 (not file://, so URLs resolve as on a real host) and opened in Chromium via Selenium. A page fails if

* an <img> did not load (a broken path, or a figure file missing from the build);
* the browser log has a JavaScript error (a SEVERE entry from 'javascript', or any 'Uncaught' message);
* a request to the local server failed (a broken local link or asset);
* it is a chapter page (--chapters glob) with no loaded <img> inside <main>/<article> (the notebook lost its figures);
* its prose shows a Markdown table as text (a `|---|---|` line outside <pre>/<code>: a table output was not rendered);
* its prose shows TeX delimiters \\( or \\[ once MathJax has finished (math that was never typeset).

Failed requests to external hosts (CDN-hosted require.js, widget managers) are only warnings, counted per host: CI runs
without internet, so they say nothing about the site. A full-page PNG of each chapter page is saved to --screenshots.

Usage: .venv/bin/python .ci/check_site.py _build/html [--screenshots _build/screenshots] [--chapters 'notebooks/*.html']
Exit status: 0 all pages OK, 1 some page failed, 2 Chromium/chromedriver missing or no site folder.
"""

import argparse
import contextlib
import fnmatch
import functools
import http.server
import re
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SKIP_DIRS = {"_static", "_sources", "_images"}
SKIP_PAGES = {"genindex.html", "search.html"}
WIDTH, HEIGHT, MAX_HEIGHT = 1280, 2000, 16000
# [src, loaded, inside main/article] for every <img> on the page.
IMAGES_JS = """return Array.from(document.images, img => [img.getAttribute('src') || img.currentSrc,
    img.complete && img.naturalWidth > 0, img.closest('main, article') !== null]);"""
# The text of <main> (or <body>) without code blocks, where an unrendered Markdown table would show its rule line.
PROSE_JS = """const root = (document.querySelector('main, article') || document.body).cloneNode(true);
    root.querySelectorAll('pre, code').forEach(e => e.remove()); return root.textContent;"""
# Resolves when MathJax (if the page loads it) has typeset the page; gives up after 20 s.
MATHJAX_JS = """const done = arguments[arguments.length - 1];
    const deadline = Date.now() + 20000;
    (function wait() {
      const mj = window.MathJax;
      if (mj && mj.startup && mj.startup.promise) { mj.startup.promise.then(() => done(true), () => done(false)); }
      else if (Date.now() > deadline || !document.querySelector('script[src*="mathjax"]')) { done(null); }
      else { setTimeout(wait, 100); }
    })();"""
RAW_MATH = re.compile(r"\\\(|\\\[")
RAW_TABLE = re.compile(r"\|\s*:?(?:-{3,}|[\u2013\u2014]+):?\s*\|")  # Sphinx turns --- into an em dash


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve `site` on a free localhost port in a daemon thread; return the server and its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def pages(site: Path) -> list[str]:
    rels = (p.relative_to(site) for p in site.rglob("*.html"))
    return sorted(r.as_posix() for r in rels if not SKIP_DIRS & set(r.parts) and r.name not in SKIP_PAGES)


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


def check_page(
    driver: webdriver.Chrome, base: str, rel: str, chapter: bool, external: Counter, shot: Path | None = None
) -> tuple[list, str]:
    """Open one page (saving a screenshot to ``shot``); return its problems and an 'images loaded/total' note.
    Counts external failures."""
    driver.get(f"{base}/{rel}")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    # Lazy images below the window would never load: make them eager, then give all images time to finish.
    driver.execute_script("document.querySelectorAll('img[loading=lazy]').forEach(img => img.loading = 'eager')")
    with contextlib.suppress(TimeoutException):
        WebDriverWait(driver, 10).until(
            lambda d: d.execute_script("return [...document.images].every(i => i.complete)")
        )
    images = driver.execute_script(IMAGES_JS)
    problems = [f"image not loaded: {src}" for src, loaded, _ in images if not loaded]
    if chapter and not any(loaded and in_main for _, loaded, in_main in images):
        problems.append("no figures (no loaded <img> in main/article)")
    driver.execute_async_script(MATHJAX_JS)
    prose = driver.execute_script(PROSE_JS)
    if RAW_TABLE.search(prose):
        problems.append("a Markdown table shown as text (an unrendered table output)")
    if RAW_MATH.search(prose):
        problems.append("math shown as TeX source (MathJax did not typeset it)")
    if shot:
        screenshot(driver, shot)
    # Leave the page before reading the log: an entry that arrives late (a 404 logged after the image's error event)
    # is then counted for this page instead of the next one.
    driver.get("about:blank")
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        message = entry["message"]
        if entry["source"] == "network":
            if message.startswith(f"{base}/favicon.ico "):
                continue  # requested by the browser itself, not by the page
            host = urlsplit(message.split(" ", 1)[0]).netloc
            if f"http://{host}" == base:
                problems.append(f"local request failed: {message.replace(base, '')}")
            else:
                external[host or message] += 1
        elif entry["source"] == "javascript" or "Uncaught" in message:
            problems.append(f"JavaScript error: {message.replace(base, '')}")
    return problems, f"images {sum(loaded for _, loaded, _ in images)}/{len(images)}"


def screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """Full-page PNG: grow the window until the viewport holds the whole document (capped), shoot, restore it."""
    height, frame = driver.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
    )
    driver.set_window_size(WIDTH, min(height, MAX_HEIGHT) + frame)  # the window height includes the browser frame
    path.parent.mkdir(parents=True, exist_ok=True)
    if not driver.save_screenshot(str(path)):
        raise RuntimeError(f"could not save {path}")
    driver.set_window_size(WIDTH, HEIGHT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="built site folder, e.g. _build/html")
    parser.add_argument("--screenshots", type=Path, help="where chapter PNGs go (default: <site>/../screenshots)")
    parser.add_argument("--chapters", default="notebooks/*.html", help="glob (relative to site) of chapter pages")
    args = parser.parse_args()
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        print(
            f"check_site: {', '.join(missing)} missing; run: apt-get install chromium chromium-driver", file=sys.stderr
        )
        return 2
    site = args.site.resolve()
    if not site.is_dir():
        print(f"check_site: no site folder {args.site}", file=sys.stderr)
        return 2
    shots = args.screenshots or site.parent / "screenshots"

    server, base = serve(site)
    driver = browser()
    failed, external, checked = [], Counter(), pages(site)
    try:
        for rel in checked:
            chapter = fnmatch.fnmatch(rel, args.chapters)
            shot = shots / f"{Path(rel).stem}.png" if chapter else None
            problems, note = check_page(driver, base, rel, chapter, external, shot)
            print(f"{'FAIL' if problems else 'OK  '} {rel}  {note}" + "".join(f"\n       - {p}" for p in problems))
            if problems:
                failed.append(rel)
    finally:
        driver.quit()
        server.shutdown()

    for host, count in sorted(external.items()):
        print(f"warning: {count} failed request(s) to external host {host} (ignored: CI has no internet)")
    print(
        f"check_site: {len(checked)} pages, {len(checked) - len(failed)} OK, {len(failed)} failed; "
        f"chapter screenshots in {shots}"
    )
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
