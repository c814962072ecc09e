"""The JupyterLab the requirements install renders the chapters' MyST markup (exercise dropdowns,
citations): JupyterLab loads its jupyterlab-myst extension instead of marking it incompatible."""

import re
import subprocess
import sys
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def myst_extension(listing: str) -> str:
    """What ``jupyter labextension list`` says of jupyterlab-myst: "OK", "incompatible" or "missing"."""
    listing = ANSI.sub("", listing)
    line = next((x for x in listing.splitlines() if x.strip().startswith("jupyterlab-myst v")), None)
    if line is None:
        return "missing"
    if "is not compatible" in listing or not re.search(r"enabled\s+OK", line):
        return "incompatible"
    return "OK"


def test_jupyterlab_loads_the_myst_extension():
    jupyter = Path(sys.executable).with_name("jupyter")
    done = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True, text=True)
    assert myst_extension(done.stdout + done.stderr) == "OK", done.stdout + done.stderr


def test_the_check_catches_an_extension_jupyterlab_will_not_load():
    incompatible = """JupyterLab v4.6.6
/venv/share/jupyter/labextensions
        jupyterlab-myst v2.7.0 \x1b[32menabled\x1b[0m \x1b[31m X\x1b[0m (python, jupyterlab_myst)

"jupyterlab-myst@2.7.0" is not compatible with the current JupyterLab
Conflicting Dependencies:
JupyterLab    Extension         Package
>=4.0.0-b1 <5.0.0>=3.0.0 <4.0.0    @jupyter/ydoc
"""
    assert myst_extension(incompatible) == "incompatible"
    assert myst_extension("JupyterLab v4.5.11\n") == "missing"
