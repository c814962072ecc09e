"""Files written atomically and read without executing pickled code: the one writer every part uses.

:func:`atomic_write` writes to a temporary file beside the target and renames it over the target,
so a crash, an interrupt or a full disk leaves the old file or the new one, never half of one.
:func:`write_bytes`, :func:`write_json` and :func:`atomic_save` (``torch.save``) are built on it.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import torch


class CheckpointError(RuntimeError):
    """A file could not be written, or a checkpoint is not usable."""


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None], needed_bytes: int = 0) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``.

    ``needed_bytes`` (about the file's size) lets a failure on a full disk say how much is missing.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CheckpointError(f"cannot write {path}: {exc.strerror or exc}. Choose a writable folder.") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        free = shutil.disk_usage(path.parent).free
        if isinstance(exc, (OSError, RuntimeError)) and free < needed_bytes + 2**20:
            # torch reports a full disk as "[enforce fail at inline_container.cc] unexpected pos ..."
            raise CheckpointError(
                f"cannot write {path}: the disk holding {path.parent} is full ({free / 2**20:.1f} MB free, "
                f"the file needs about {needed_bytes / 2**20:.1f} MB). The previous file, if any, is intact; "
                "free disk space or choose another folder."
            ) from None
        if isinstance(exc, OSError):
            raise CheckpointError(
                f"cannot write {path}: {exc.strerror or exc}. The previous file, if any, is intact; "
                "free disk space or choose another folder."
            ) from None
        raise
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(data), len(data))


def write_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return write_bytes(path, json.dumps(obj, indent=1).encode())


def atomic_save(obj, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically."""
    return atomic_write(path, lambda f: torch.save(obj, f), tensor_bytes(obj))


def tensor_bytes(obj) -> int:
    """The bytes of every tensor in ``obj`` (nested dicts, lists and tuples): about its size on disk."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def safe_load(path: str | Path):
    """``torch.load(..., weights_only=True)`` on CPU with errors that say what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} holds objects other than tensors and plain containers; refusing to unpickle "
            f"it (weights_only=True). Details: {str(exc).splitlines()[0]}"
        ) from None
    except Exception as exc:  # torch.load fails in many ways on foreign bytes (RuntimeError, EOFError, KeyError...)
        raise CheckpointError(
            f"{path} is truncated, corrupt or not a PyTorch file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no details'})"
        ) from None
