#!/usr/bin/env python3
"""Check a built static site (the Jupyter Book's _build/html) in headless Chromium.

Every HTML page (except Sphinx's _static/, _sources/, _images/, genindex.html and search.html) is served over
http://127.0.0.1 (not file://, so URLs resolve as on a real host) and opened in Chromium via Selenium. A page fails if

* an <img> did not load (a broken path, or a figure file missing from the build);
* the browser log has a JavaScript error (a SEVERE entry from 'javascript', or any 'Uncaught' message);
* a request to the local server failed (a broken local link or asset);
* it is a chapter page (--chapters glob) with no loaded <img> inside <main>/<article> (the notebook lost its figures);
* its prose shows a Markdown table as text (a `|---|---|` line outside <pre>/<code>: a table output was not rendered);
* its prose shows TeX delimiters \\( or \\[, or a $ before a TeX command, once MathJax has finished (math that was
  never typeset, e.g. a line break inside $...$ that Markdown read as a list item);
* some visible text in <main>/<article> (prose, table cells, cell outputs, captions, code) has a contrast ratio under
  3:1 against the background it is drawn on (the first opaque background among its ancestors), in the theme's light
  mode or its dark mode (<html data-theme="dark">, chosen through localStorage as the theme's switch does): light text
  left on a white output box, or dark text on the dark page; or the page did not switch to dark mode;
* a printed cell output (a `pre` in .cell_output) has a line wider than its column, in the desktop window or at a
  phone's width (text cut off behind a scrollbar): the check names the line;
* an <img> in <main>/<article> has no alt text, or one that is a file name or path (what Sphinx writes when a
  notebook's figure came without one: the book's figures carry their own, see book/_ext/output_alt.py);
* a feature-map explorer on it (cnnbook.book.explorer), in light or dark mode, does not change its picture when another
  layer is chosen or the image slider is moved, both from the keyboard.

Failed requests to external hosts (CDN-hosted require.js, widget managers) are only warnings, counted per host: CI runs
without internet, so they say nothing about the site. Full-page PNGs of each chapter page, light and dark
(<name>.png, <name>-dark.png), are saved to --screenshots.

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
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SKIP_DIRS = {"_static", "_sources", "_images"}
SKIP_PAGES = {"genindex.html", "search.html"}
WIDTH, HEIGHT, MAX_HEIGHT = 1280, 2000, 16000
MAX_REPORTED = 8  # low-contrast elements listed per page
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
# Text in <main> whose contrast against its background is under MIN_CONTRAST: [ratio, element, text, colour,
# background]. Each element with its own visible text counts; its background is the first opaque one up its ancestors
# (translucent ones are blended on the way), or the canvas's white; translucent text is blended onto that. A canvas
# pixel turns any CSS colour (rgb, color(srgb ...), oklch, ...) into RGBA bytes.
MIN_CONTRAST = 3.0
CONTRAST_JS = """const minimum = arguments[0];
    const pixel = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
    const rgba = css => {
      pixel.clearRect(0, 0, 1, 1); pixel.fillStyle = css; pixel.fillRect(0, 0, 1, 1);
      const [r, g, b, a] = pixel.getImageData(0, 0, 1, 1).data; return [r, g, b, a / 255];
    };
    const over = (top, base) => [0, 1, 2].map(i => top[i] * top[3] + base[i] * (1 - top[3])).concat(1);
    const linear = v => v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    const luminance = c => [0.2126, 0.7152, 0.0722].reduce((sum, w, i) => sum + w * linear(c[i] / 255), 0);
    function background(el) {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      return layers.reduceRight((base, top) => over(top, base), [255, 255, 255, 1]);
    }
    function hidden(el) {
      for (let e = el; e; e = e.parentElement) {
        const style = getComputedStyle(e);
        if (Number(style.opacity) === 0 || style.visibility === 'hidden') return true;
      }
      return el.getClientRects().length === 0;
    }
    const root = document.querySelector('main, article') || document.body;
    const low = [];
    for (const el of [root, ...root.querySelectorAll('*')]) {
      const text = Array.from(el.childNodes, n => n.nodeType === Node.TEXT_NODE ? n.textContent : '').join('').trim();
      if (!text || ['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName) || hidden(el)) continue;
      const bg = background(el), fg = rgba(getComputedStyle(el).color);
      if (fg[3] === 0) continue;
      const [a, b] = [luminance(over(fg, bg)), luminance(bg)];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < minimum) {
        const name = el.tagName.toLowerCase() + Array.from(el.classList, c => '.' + c).join('');
        low.push([Math.round(ratio * 100) / 100, name, text.slice(0, 40), getComputedStyle(el).color,
                  `rgb(${bg.slice(0, 3).map(Math.round).join(', ')})`]);
      }
    }
    return low;"""
RAW_MATH = re.compile(r"\\\(|\\\[|\$[^$]{0,80}?\\[A-Za-z]")  # \( \[ or $ ... \command left as text
RAW_TABLE = re.compile(r"\|\s*:?(?:-{3,}|[\u2013\u2014]+):?\s*\|")  # Sphinx turns --- into an em dash
# What a cell's output must never show a reader: the build machine's folders, a download in progress, a raw
# Python error. (A message that names an error on purpose says it in words.)
OUTPUTS_JS = """return Array.from(document.querySelectorAll('.cell_output')).map(e => e.textContent).join('\\n');"""
LEAKS = {
    "an absolute path of the build machine": re.compile(
        r"(?<![\w:/.])/(?:root|home|tmp|work|Users|var|opt|mnt|srv|usr)/[\w.-]+|\b[A-Z]:\\[\w.-]+"
    ),
    "a download progress line": re.compile(r"^\s*Downloading:? ", re.MULTILINE),
    "a Python traceback or raw network error": re.compile(
        r"Traceback \(most recent call last\)|<urlopen error|URLError"
    ),
}


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


def settle(driver: webdriver.Chrome) -> None:
    """Wait for the open page: loaded, its images finished (lazy ones made eager), MathJax done."""
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    # Lazy images below the window would never load: make them eager, then give all images time to finish.
    driver.execute_script("document.querySelectorAll('img[loading=lazy]').forEach(img => img.loading = 'eager')")
    with contextlib.suppress(TimeoutException):
        WebDriverWait(driver, 10).until(
            lambda d: d.execute_script("return [...document.images].every(i => i.complete)")
        )
    driver.execute_async_script(MATHJAX_JS)


def low_contrast(driver: webdriver.Chrome, mode: str) -> list[str]:
    """The open page's text under MIN_CONTRAST, as problems (the first MAX_REPORTED, then a count)."""
    low = driver.execute_script(CONTRAST_JS, MIN_CONTRAST)
    problems = [
        f"{mode} mode: contrast {ratio}:1 < {MIN_CONTRAST:g}:1 for <{name}> {text!r} ({fg} on {bg})"
        for ratio, name, text, fg, bg in low[:MAX_REPORTED]
    ]
    if len(low) > MAX_REPORTED:
        problems.append(f"{mode} mode: {len(low) - MAX_REPORTED} more elements with low contrast")
    return problems


def check_page(
    driver: webdriver.Chrome, base: str, rel: str, chapter: bool, external: Counter, shot: Path | None = None
) -> tuple[list, str]:
    """Open one page in light, then dark mode (screenshots to ``shot`` and its -dark twin); return its problems and
    an 'images loaded/total' note. Counts external failures."""
    driver.get(f"{base}/{rel}")
    settle(driver)
    images = driver.execute_script(IMAGES_JS)
    problems = [f"image not loaded: {src}" for src, loaded, _ in images if not loaded]
    if chapter and not any(loaded and in_main for _, loaded, in_main in images):
        problems.append("no figures (no loaded <img> in main/article)")
    prose = driver.execute_script(PROSE_JS)
    if RAW_TABLE.search(prose):
        problems.append("a Markdown table shown as text (an unrendered table output)")
    if RAW_MATH.search(prose):
        problems.append("math shown as TeX source (MathJax did not typeset it)")
    outputs = driver.execute_script(OUTPUTS_JS)
    for what, pattern in LEAKS.items():
        if found := pattern.search(outputs):
            problems.append(f"an output shows {what}: {found.group(0).strip()!r}")
    problems += check_alt_text(driver)
    problems += check_output_width(driver)
    problems += low_contrast(driver, "light")
    problems += check_explorers(driver, "light")
    if shot:
        screenshot(driver, shot)
    problems += check_phone(driver)
    problems += check_dark(driver, shot and shot.with_name(f"{shot.stem}-dark.png"))
    # Leave the page before reading the log: an entry that arrives late (a 404 logged after the image's error event)
    # is then counted for this page instead of the next one.
    driver.get("about:blank")
    # The dark-mode reload repeats the page's requests and scripts: each failure counts once.
    for message, source in dict.fromkeys(
        (e["message"], e["source"]) for e in driver.get_log("browser") if e["level"] == "SEVERE"
    ):
        if source == "network":
            if message.startswith(f"{base}/favicon.ico "):
                continue  # requested by the browser itself, not by the page
            host = urlsplit(message.split(" ", 1)[0]).netloc
            if f"http://{host}" == base:
                problems.append(f"local request failed: {message.replace(base, '')}")
            else:
                external[host or message] += 1
        elif source == "javascript" or "Uncaught" in message:
            problems.append(f"JavaScript error: {message.replace(base, '')}")
    return problems, f"images {sum(loaded for _, loaded, _ in images)}/{len(images)}"


def check_explorers(driver: webdriver.Chrome, mode: str) -> list[str]:
    """Use every feature-map explorer on the open page as a keyboard user would: the arrow keys on its layer menu
    must change the maps, on its slider the image. Leaves each explorer as it found it."""
    problems = []
    for number, root in enumerate(driver.find_elements(By.CSS_SELECTOR, ".cnnbook-explorer"), 1):
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", root)
        for control, picture, what in (("select", ".cnnbook-maps", "another layer"),
                                       ("input[type=range]", ".cnnbook-input", "another image")):  # fmt: skip
            element, shown = root.find_element(By.CSS_SELECTOR, control), root.find_element(By.CSS_SELECTOR, picture)
            before = shown.get_attribute("src")
            element.send_keys(Keys.ARROW_DOWN if control == "select" else Keys.ARROW_RIGHT)
            if shown.get_attribute("src") == before:
                problems.append(f"{mode} mode: explorer {number}: choosing {what} did not change the picture")
            element.send_keys(Keys.ARROW_UP if control == "select" else Keys.ARROW_LEFT)
    return problems


# [alt or null, src] of every <img> in <main>/<article>.
ALT_JS = """const root = document.querySelector('main, article') || document.body;
    return Array.from(root.querySelectorAll('img'), img => [img.getAttribute('alt'), img.getAttribute('src')]);"""
FILE_NAME = re.compile(r"^\S*\.(?:png|jpe?g|gif|svg|webp)$|^\S*/\S*$", re.IGNORECASE)


def check_alt_text(driver: webdriver.Chrome) -> list[str]:
    """Every image in the open page's <main>/<article> says what it shows: an alt text that is not a file name
    or path (an empty alt, a decorative image's, is allowed)."""
    problems = []
    for alt, src in driver.execute_script(ALT_JS):
        if alt is None:
            problems.append(f"image without alt text: {src[:80]}")
        elif FILE_NAME.match(alt.strip()) or alt.strip() == src:
            problems.append(f"image alt text is a file name: {alt[:80]!r}")
    return problems


# [how many px too wide, the longest line] of every visible printed output in <main>/<article> whose text is wider
# than its box (it would scroll sideways, or run past the column).
OUTPUT_WIDTH_JS = """const root = document.querySelector('main, article') || document.body;
    return Array.from(root.querySelectorAll('.cell_output pre'))
      .filter(pre => pre.getClientRects().length && pre.scrollWidth > pre.clientWidth + 1)
      .map(pre => [pre.scrollWidth - pre.clientWidth,
                   pre.textContent.split('\\n').reduce((a, b) => b.length > a.length ? b : a, '').trim()]);"""


def check_output_width(driver: webdriver.Chrome) -> list[str]:
    """No printed output line of the open page is wider than its column, in the desktop window and at a phone's
    width (the page is reloaded at that width, then restored)."""

    def too_wide(width: int) -> list[str]:
        return [f"at {width} px wide a printed line is {extra} px wider than its column: {line[:60]!r}"
                for extra, line in driver.execute_script(OUTPUT_WIDTH_JS)[:MAX_REPORTED]]  # fmt: skip

    problems = too_wide(WIDTH)
    driver.set_window_size(PHONE_WIDTH, HEIGHT)
    try:
        driver.refresh()
        settle(driver)
        problems += too_wide(PHONE_WIDTH)
    finally:
        driver.set_window_size(WIDTH, HEIGHT)
        driver.refresh()
        settle(driver)
    return problems


PHONE_WIDTH = 390  # CSS pixels of a common phone's viewport (iPhone 12-15)
# How far the page reaches beyond the viewport, and the widest elements that stick out (outside
# anything that scrolls by itself, such as code blocks and the theme's table containers).
OVERFLOW_JS = """
const width = document.documentElement.clientWidth;
const scrolls = e => { for (; e; e = e.parentElement) { const o = getComputedStyle(e).overflowX;
  if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; } return false; };
const wide = Array.from(document.querySelectorAll('main *'))
  .filter(e => e.getBoundingClientRect().right > width + 1 && !scrolls(e.parentElement))
  .map(e => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' +
       e.className.split(' ')[0] : '') + ' ' + Math.round(e.getBoundingClientRect().right - width) + ' px');
return [document.documentElement.scrollWidth - width, wide.slice(0, 3)];
"""


def check_phone(driver: webdriver.Chrome) -> list[str]:
    """Reload the open page at a phone's width: nothing may scroll the page sideways."""
    driver.set_window_size(PHONE_WIDTH, HEIGHT)
    try:
        driver.refresh()
        settle(driver)
        extra, wide = driver.execute_script(OVERFLOW_JS)
    finally:
        driver.set_window_size(WIDTH, HEIGHT)
        driver.refresh()
        settle(driver)
    if extra > 0:
        return [f"at {PHONE_WIDTH} px wide the page scrolls sideways by {extra} px ({', '.join(wide) or '?'})"]
    return []


def check_dark(driver: webdriver.Chrome, shot: Path | None) -> list[str]:
    """Reload the open page in the theme's dark mode, set as its switch sets it; return its problems there.
    Leaves the browser in the theme's default mode."""
    driver.execute_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark')")
    try:
        driver.refresh()
        settle(driver)
        if driver.execute_script("return document.documentElement.dataset.theme") != "dark":
            return ["dark mode: the page did not switch (no <html data-theme='dark'>)"]
        problems = low_contrast(driver, "dark") + check_explorers(driver, "dark")
        if shot:
            screenshot(driver, shot)
        return problems
    finally:
        driver.execute_script("localStorage.removeItem('mode'); localStorage.removeItem('theme')")


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
