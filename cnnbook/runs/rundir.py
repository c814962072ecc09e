"""Output folders owned by one run: no finished work is replaced unasked, nothing is left half written.

:func:`claim` makes ``--out`` a run's own folder for as long as the run writes: it refuses a path
that cannot be a folder, a folder holding another run (unless the run resumes it or was told to
overwrite it), and a folder another live process is writing (a lock file holding its pid).
Files in it are replaced atomically (:mod:`cnnbook.storage`). A training run writes its
``checkpoint.pt`` after every epoch and its ``history.json`` last, so a folder with a
``history.json`` holds a finished run whose checkpoint is its final state.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK = ".cnnbook.lock"
RUN_FILES = ("history.json", "checkpoint.pt")


class RunDirError(RuntimeError):
    """An output folder cannot be used for this run; the message says why and what to do."""


@contextmanager
def claim(
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    outputs: tuple[str, ...] = RUN_FILES,
    option: str = "--out",
    notice: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Own ``out`` for one run: create it, lock it, and release the lock when the block ends.

    A folder holding any of ``outputs`` holds another run: it is refused unless ``resume``
    (which requires a ``checkpoint.pt`` there) or ``overwrite`` (which deletes those files
    first and says what it replaced through ``notice``, default stderr).
    ``option`` names the command-line option in messages.
    """
    notice = notice or _to_stderr
    out = Path(out).expanduser()
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite contradict each other: choose one")
    if resume:
        _require_resumable(out, option)
    make_folder(out, option)
    lock = acquire_lock(out, notice)
    try:
        present = [name for name in outputs if (out / name).exists()]
        if present and not resume:
            what = describe(out)
            if not overwrite:
                unfinished = present == ["checkpoint.pt"]
                fix = "continue it with --resume, " if unfinished else ""
                raise RunDirError(
                    f"{out} already holds {what}: {fix}replace it with --overwrite, or choose another {option}"
                )
            for name in present:  # history.json first: a checkpoint alone reads as an unfinished run
                (out / name).unlink()
            notice(f"--overwrite: deleted {what} in {out} ({', '.join(present)})")
        yield out
    finally:
        release_lock(lock)


def make_folder(out: Path, option: str = "--out") -> None:
    """Create ``out`` (and its parents), or raise one line saying why it cannot be a folder."""
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{option} {out} is a file, not a folder: choose a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), out)
        raise RunDirError(f"{option} {out} cannot be a folder: {blocker} is a file. Choose another path") from None
    except OSError as exc:
        raise RunDirError(
            f"{option} {out} cannot be created ({exc.strerror or exc}): choose a writable folder"
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise RunDirError(f"{option} {out} is not writable: choose a writable folder")


def acquire_lock(out: Path, notice: Callable[[str], None] | None = None) -> Path:
    """Create ``out/.cnnbook.lock`` holding this pid and host; a lock left by a process that no
    longer runs (on this host) is taken over with a notice."""
    notice = notice or _to_stderr
    lock = out / LOCK
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _lock_owner(lock)
            if _alive(*owner) if owner is not None else _just_created(lock):
                who = f"process {owner[0]} on {owner[1]}" if owner else "a process starting up"
                raise RunDirError(
                    f"{out} is being written by another run ({who}): wait for it to finish or choose another "
                    f"folder; if no run writes there, delete {lock}"
                ) from None
            if _take_over(lock, owner):
                whose = f"process {owner[0]}" if owner else "a process that died while writing it"
                notice(f"{out}: taking over the lock of {whose}, which no longer runs")
            continue
        except OSError as exc:
            raise RunDirError(f"cannot lock {out} ({exc.strerror or exc}): choose a writable folder") from None
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()} {socket.gethostname()}\n")
        return lock
    raise RunDirError(f"{out} is being claimed by several runs at once: start one run per folder")


def release_lock(lock: Path) -> None:
    """Remove ``lock`` if this process holds it."""
    if _lock_owner(lock) == (os.getpid(), socket.gethostname()):
        lock.unlink(missing_ok=True)


def describe(out: Path) -> str:
    """What ``out`` holds, in words: a finished or unfinished run, or a sweep."""
    history, checkpoint, results = out / "history.json", out / "checkpoint.pt", out / "results.json"
    if history.exists():
        try:
            record = json.loads(history.read_text())
            test = f", test accuracy {100 * record['test']['accuracy']:.2f}%" if "test" in record else ""
            return f"a finished {record.get('model', '?')} run ({len(record['records'])} epochs{test})"
        except (ValueError, KeyError, TypeError):
            return "a finished run (its history.json is unreadable)"
    if checkpoint.exists():
        from ..training.checkpoint import CheckpointError, load_checkpoint

        try:
            ckpt = load_checkpoint(checkpoint)
            return f"an unfinished {ckpt['model_name']} run ({ckpt.get('epoch', '?')} epochs done)"
        except (CheckpointError, KeyError):
            return "a checkpoint.pt that cannot be read as a cnnbook checkpoint"
    if results.exists():
        try:
            return f"a sweep of {len(json.loads(results.read_text()))} runs"
        except ValueError:
            return "a sweep (its results.json is unreadable)"
    return "earlier results"


def _require_resumable(out: Path, option: str) -> None:
    if not out.is_dir():
        raise RunDirError(f"nothing to resume: {option} {out} does not exist. Check the path, or drop --resume")
    if not (out / "checkpoint.pt").is_file():
        raise RunDirError(
            f"nothing to resume: {out} has no checkpoint.pt. Check the path, or drop --resume to start anew"
        )


def _lock_owner(lock: Path) -> tuple[int, str] | None:
    """The pid and host a lock file names (None: unreadable, or not written yet)."""
    try:
        pid, host = lock.read_text().split()
        return int(pid), host
    except (OSError, ValueError):
        return None


def _just_created(lock: Path, seconds: float = 10.0) -> bool:
    """A lock without a pid yet: its creator may be about to write it."""
    try:
        return time.time() - lock.stat().st_mtime < seconds
    except FileNotFoundError:
        return False


def _alive(pid: int, host: str) -> bool:
    """Whether process ``pid`` runs; assumed so where that cannot be checked (another host, Windows)."""
    if host != socket.gethostname() or sys.platform == "win32":  # on Windows os.kill(pid, 0) would kill it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _take_over(lock: Path, stale_owner: tuple[int, str] | None) -> bool:
    """Move a stale lock aside; False (nothing done) if it changed hands meanwhile."""
    aside = lock.with_name(f"{LOCK}.stale-{os.getpid()}")
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return False  # another run took it over first
    if _lock_owner(aside) != stale_owner:  # a live run's fresh lock: put it back
        try:
            os.link(aside, lock)
        except FileExistsError:
            pass
        aside.unlink(missing_ok=True)
        return False
    aside.unlink(missing_ok=True)
    return True


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
