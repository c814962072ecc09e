"""Drive a chapter through JupyterLab's own menus in headless Chromium, as a learner would: open it,
Run > Run All Cells, then Kernel > Restart Kernel and Run All Cells, and report every cell that ran
silent (no new output) for longer than ``--silent`` seconds, and every warning or error it printed.
Before running, it reads the page as opened: markdown cells that jupyterlab-myst did not render
(empty, or MyST syntax shown raw) and extensions that JupyterLab loaded with the wrong version of a
shared module (the browser console's "Unsatisfied version" warnings: ipywidgets' manager, say).

    python scripts/drive_jupyterlab.py notebooks/04_comparison.ipynb --budget smoke --json report.json

Run before each release (it needs jupyterlab, chromium and chromedriver; it is not part of CI).
The chapter runs in a copy of the repository's notebooks folder, with an empty runs folder of its
own, so neither the notebook file nor the learner's runs change. Exit status 1 if a cell was silent
too long or wrote to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")

# Every cell's state, read from the page: its prompt ("[*]:" running, "[ ]:" queued, "[3]:" done),
# a hash of its outputs (any change is progress: a progress bar that advances keeps its length) and
# the stderr it shows.
CELLS_JS = """
const digest = text => { let h = 0; for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
                         return text.length + ':' + h; };
return Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell')).map(cell => ({
  prompt: (cell.querySelector('.jp-InputPrompt') || {}).textContent || '',
  code: ((cell.querySelector('.jp-InputArea-editor') || {}).textContent || '').slice(0, 80),
  output: digest((cell.querySelector('.jp-OutputArea') || {innerHTML: ''}).innerHTML),
  stderr: Array.from(cell.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]'))
          .map(e => e.textContent.slice(0, 300)),
}));
"""


# The markdown cells as the page shows them: rendered by jupyterlab-myst (class "myst") or not, and
# any MyST syntax left raw in the rendered text (a role or directive the renderer did not know).
MARKDOWN_JS = """
return Array.from(document.querySelectorAll('.jp-Notebook .jp-MarkdownCell')).map(cell => {
  const out = cell.querySelector('.myst') || cell.querySelector('.jp-RenderedMarkdown');
  const text = out ? out.innerText : '';
  return {myst: !!cell.querySelector('.myst'), text: text.slice(0, 80),
          raw: (text.match(/\\{[a-z:-]+\\}`|^:::|```\\{/m) || [''])[0],
          source: ((cell.querySelector('.jp-InputArea-editor') || {}).textContent || '').slice(0, 80)};
});
"""
VERSION_WARNINGS = ("Unsatisfied version", "No satisfying version")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(folder: Path, port: int, env: dict) -> subprocess.Popen:
    settings = folder / ".lab-settings"
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))  # every cell in the page, not only the visible ones
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
               "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={folder}",
               f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={folder / '.lab-workspaces'}"]  # fmt: skip
    lab = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1)
            return lab
        except OSError:
            time.sleep(0.5)
    lab.kill()
    raise RuntimeError("JupyterLab did not start within 60 s")


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


def menu(driver: webdriver.Chrome, top: str, item: str) -> None:
    """Click ``top`` in JupyterLab's menu bar, then ``item`` in the menu it opens."""
    bar = driver.find_elements(By.CSS_SELECTOR, "#jp-MainMenu .lm-MenuBar-itemLabel")
    next(e for e in bar if e.text == top).click()
    time.sleep(0.5)
    items = driver.find_elements(By.CSS_SELECTOR, ".lm-Menu .lm-Menu-itemLabel")
    next(e for e in items if e.text.startswith(item)).click()


def watch(driver: webdriver.Chrome, timeout: float) -> dict:
    """Poll the cells until every one has run; for the cell that runs (the first ``[*]``: queued cells
    show it too) the longest stretch without new output."""
    start = time.monotonic()
    silent, stderr, started = {}, {}, False
    running, since, size = None, start, None
    while time.monotonic() - start < timeout:
        cells = driver.execute_script(CELLS_JS)
        now = time.monotonic()
        stderr |= {i: c["stderr"] for i, c in enumerate(cells) if c["stderr"]}
        busy = next((i for i, c in enumerate(cells) if "*" in c["prompt"]), None)
        started |= busy is not None
        if busy is not None:
            if busy != running or cells[busy]["output"] != size:
                running, since, size = busy, now, cells[busy]["output"]
            silent[busy] = max(silent.get(busy, 0.0), now - since)
        if started and busy is None and all(c["prompt"].strip("[]: \n").isdigit() for c in cells):
            break
        time.sleep(0.5)
    cells = driver.execute_script(CELLS_JS)
    return {
        "seconds": round(time.monotonic() - start, 1),
        "finished": started and all(c["prompt"].strip("[]: \n").isdigit() for c in cells),
        "silent": {f"cell {i + 1}: {cells[i]['code']}": round(s, 1) for i, s in silent.items()},
        "stderr": {f"cell {i + 1}: {cells[i]['code']}": texts for i, texts in stderr.items()},
    }


def read_page(driver: webdriver.Chrome) -> dict:
    """The opened notebook's markdown as rendered (once rendering has settled: every cell there and the
    rendered count unchanged for 15 s, at most 90 s), and the console's module-version warnings."""
    cells, settled, deadline = [], None, time.monotonic() + 90
    while time.monotonic() < deadline:
        cells = driver.execute_script(MARKDOWN_JS)
        state = (len(cells), sum(c["myst"] for c in cells))
        if cells and state[0] == state[1]:
            break  # jupyterlab-myst rendered every markdown cell
        if cells and state == (settled or (None,))[0]:
            if time.monotonic() - settled[1] >= 15:
                break
        else:
            settled = (state, time.monotonic())
        time.sleep(0.5)
    console = [e["message"] for e in driver.get_log("browser")]
    return {
        "markdown cells": len(cells),
        "not rendered by myst": [c["source"] for c in cells if not c["myst"] and c["source"].strip()],
        "raw myst": [f"{c['raw']} in: {c['text']}" for c in cells if c["raw"]],
        "version warnings": sorted({m.split('"')[1] for m in console if any(w in m for w in VERSION_WARNINGS)}),
    }


def drive(notebook: Path, budget: str, timeout: float, run: bool = True) -> dict:
    work = Path(tempfile.mkdtemp(prefix="cnnbook-lab-"))
    try:
        for folder in ("notebooks", "book"):  # the chapters and the figures they show
            shutil.copytree(ROOT / folder, work / folder)
        env = {**os.environ, "CNNBOOK_BUDGET": budget, "CNNBOOK_RUNS": str(work / "runs")}
        env.pop("MPLBACKEND", None)
        port = free_port()
        lab = start_lab(work, port, env)
        driver = browser()
        try:
            driver.get(f"http://127.0.0.1:{port}/lab/tree/notebooks/{notebook.name}")
            time.sleep(8)  # the page, the notebook and its kernel start
            page = read_page(driver)
            if not run:
                return {"notebook": notebook.name, "page": page}
            menu(driver, "Run", "Run All Cells")
            first = watch(driver, timeout)
            menu(driver, "Kernel", "Restart Kernel and Run All Cells")
            time.sleep(1)
            driver.find_element(By.CSS_SELECTOR, ".jp-Dialog-button.jp-mod-accept").click()
            second = watch(driver, timeout)
        finally:
            driver.quit()
            lab.terminate()
            try:
                lab.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a kernel still shutting down
                lab.kill()
        return {"notebook": notebook.name, "budget": budget, "page": page, "run all": first,
                "restart and run all": second}  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--budget", default="smoke")
    parser.add_argument("--silent", type=float, default=10.0, help="longest acceptable stretch without output (s)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per Run All")
    parser.add_argument("--json", type=Path, help="write the report here too")
    parser.add_argument("--open-only", action="store_true", help="only read the opened page; run nothing")
    args = parser.parse_args()
    reports, bad = [], False
    for notebook in args.notebooks:
        report = drive(notebook, args.budget, args.timeout, run=not args.open_only)
        reports.append(report)
        page = report["page"]
        print(f"{notebook.name}, as opened: {page['markdown cells']} markdown cells")
        for problem in ("not rendered by myst", "raw myst", "version warnings"):
            bad |= bool(page[problem])
            for item in page[problem]:
                print(f"  {problem}: {item[:200]!r}")
        for stage in ("run all", "restart and run all") if not args.open_only else ():
            result = report[stage]
            long = {cell: s for cell, s in result["silent"].items() if s > args.silent}
            bad |= bool(long) or bool(result["stderr"]) or not result["finished"]
            print(f"{notebook.name}, {stage}: {result['seconds']} s, finished {result['finished']}")
            for cell, seconds in long.items():
                print(f"  silent {seconds} s: {cell}")
            for cell, texts in result["stderr"].items():
                print(f"  stderr: {cell}: {texts[0][:200]!r}")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
