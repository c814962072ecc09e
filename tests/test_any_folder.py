"""The README's commands work from any folder: a clone whose path has spaces and non-ASCII letters
(as on many laptops: "My Documents", "Google Drive") and is reached through a symbolic link."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture
def odd_clone(tmp_path, cifar):
    """The repository's tracked files in ``My Books ü/cnn book``, reached through ``link to the book``,
    using the running virtual environment (its install stamp kept newer than the requirements)."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    clone = tmp_path / "My Books ü" / "cnn book"
    for name in files:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)
    (clone / ".venv").symlink_to(Path(sys.prefix))
    for name in ("requirements.txt", "pyproject.toml"):  # older than .venv/.installed: make does not reinstall
        os.utime(clone / name, (0, 0))
    link = tmp_path / "link to the book"
    link.symlink_to(clone)
    return link


def make(folder: Path, *targets: str, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "CNNBOOK_BUDGET": "smoke", **env}
    return subprocess.run(["make", *targets], cwd=folder, env=environment, capture_output=True, text=True)


def test_make_book_check_site_and_sweep_work_in_a_folder_with_spaces_reached_through_a_link(odd_clone):
    book = make(odd_clone, "book")
    assert book.returncode == 0, book.stdout[-3000:] + book.stderr[-3000:]
    assert (odd_clone / "_build" / "html" / "notebooks" / "01_resnet.html").exists()
    if Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists():
        site = make(odd_clone, "check-site")
        assert site.returncode == 0, site.stdout[-3000:] + site.stderr[-3000:]
    sweep = make(odd_clone, "sweep", SWEEP_MODELS="resnet20")
    assert sweep.returncode == 0, sweep.stdout[-3000:] + sweep.stderr[-3000:]
    assert (odd_clone / "runs" / "sweep-smoke" / "results.md").exists()
