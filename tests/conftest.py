import os

import pytest
import torch

from cnnbook.data import DataNotFoundError, Split, load_cifar10


@pytest.fixture(scope="session")
def cifar():
    """Real CIFAR-10 (from CNNBOOK_DATA); skipped locally when absent, an error in CI."""
    try:
        return load_cifar10(download=False)
    except DataNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("CIFAR-10 not available (set CNNBOOK_DATA)")


@pytest.fixture
def tiny_split():
    """64 random 32x32 uint8 images with labels 0..9 (no files needed)."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=g)
    return Split(images, torch.arange(64) % 10)


@pytest.fixture(autouse=True)
def own_runs_folder(tmp_path_factory, monkeypatch):
    """Every test keeps "your runs" (cnnbook.runs.yours) and reproduce's fallback folder in fresh
    folders of its own, so a run one test made is never shown to another, and the user's folders
    are never touched."""
    monkeypatch.setenv("CNNBOOK_RUNS", str(tmp_path_factory.mktemp("your-runs")))
    monkeypatch.setenv("CNNBOOK_RESULTS", str(tmp_path_factory.mktemp("user-results")))  # reproduce's fallback
