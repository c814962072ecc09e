"""What a chapter tells the terminal of a book build, and its progress bars in a live kernel."""

from __future__ import annotations

from .. import settings
from ..training.loop import progress_bar


def progress(items, what: str):
    """``items`` one by one, with a progress bar in a live kernel that names the current one, and each
    step in a book build's log; no bar on the static pages (``TQDM_DISABLE``, which ``make book`` sets)."""
    items = list(items)
    bar = progress_bar(len(items), what, enabled=True, unit="it")
    for item in items:
        build_log(f"{what}: {item}")
        bar.set_postfix_str(str(item))
        yield item
        bar.update()
    bar.close()


def build_log(message: str) -> None:
    """Tell the terminal of a book build what runs now: ``make book`` sets ``CNNBOOK_BUILD_LOG`` to a
    file it shows as it grows (the kernel's own output would land on the page)."""
    if path := settings.current().build_log:
        with open(path, "a") as log:
            log.write(f"    cnnbook: {message}\n")


def epoch_log(name: str, epochs: int):
    """A ``fit`` callback that logs every finished epoch of ``name`` to the build log."""

    def callback(history) -> bool:
        build_log(f"{name}: epoch {len(history)}/{epochs} done")
        return False

    return callback
