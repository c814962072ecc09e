"""Checkpoints written atomically and read without executing pickled code."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

FORMAT = "cnnbook-checkpoint"
FORMAT_VERSION = 1
CORE_KEYS = ("model_name", "num_classes", "model_state")
TRAINING_KEYS = ("optimizer_state", "scheduler_state", "epoch", "history", "run_config")


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or is not usable."""


def atomic_save(obj, path: str | Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename over it.

    A crash, interrupt or full disk leaves either the old file or the new one, never half.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CheckpointError(f"cannot write {path}: {exc.strerror or exc}. Choose a writable folder.") from None
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        needed, free = tensor_bytes(obj), shutil.disk_usage(path.parent).free
        if isinstance(exc, (OSError, RuntimeError)) and free < needed + 2**20:
            # torch reports a full disk as "[enforce fail at inline_container.cc] unexpected pos ..."
            raise CheckpointError(
                f"cannot write {path}: the disk holding {path.parent} is full ({free / 2**20:.1f} MB free, "
                f"the checkpoint needs about {needed / 2**20:.1f} MB). The previous file, if any, is intact; "
                "free disk space or choose another folder."
            ) from None
        if isinstance(exc, OSError):
            raise CheckpointError(
                f"cannot write {path}: {exc.strerror or exc}. The previous file, if any, is intact; "
                "free disk space or choose another folder."
            ) from None
        raise
    return path


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


def save_checkpoint(path: str | Path, model: nn.Module, **state) -> Path:
    """Save ``model``'s weights, its registry name and class count, and any extra ``state``."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_name": getattr(model, "registry_name", type(model).__name__),
        "num_classes": _num_classes(model),
        "model_state": model.state_dict(),
        **state,
    }
    return atomic_save(payload, path)


def load_checkpoint(path: str | Path, model: nn.Module | None = None, *, resumable: bool = False) -> dict:
    """Read a cnnbook checkpoint; with ``model``, check it matches and load its weights.

    ``resumable=True`` also requires the training state :func:`cnnbook.train.fit` resumes from.
    """
    ckpt = safe_load(path)
    if _is_state_dict(ckpt):
        raise CheckpointError(
            f"{path} holds a bare state_dict (torch.save(model.state_dict())), not a cnnbook checkpoint: "
            f"load it with model.load_state_dict(torch.load({str(path)!r}, weights_only=True))"
        )
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a cnnbook checkpoint")
    missing = [key for key in CORE_KEYS if key not in ckpt]
    if missing:
        raise CheckpointError(f"{path} is a damaged cnnbook checkpoint (no {', '.join(missing)}): train anew")
    missing = [key for key in TRAINING_KEYS if key not in ckpt] if resumable else []
    if missing:
        raise CheckpointError(
            f"{path} holds weights without the training state to resume from (no {', '.join(missing)}): "
            "start a new run instead"
        )
    if model is not None:
        name = getattr(model, "registry_name", type(model).__name__)
        if ckpt["model_name"] != name:
            raise CheckpointError(
                f"{path} holds a {ckpt['model_name']!r} model, not {name!r}: build "
                f"get_model({ckpt['model_name']!r}, num_classes={ckpt['num_classes']}) to load it"
            )
        if ckpt["num_classes"] != _num_classes(model):
            raise CheckpointError(
                f"{path} was trained for {ckpt['num_classes']} classes, the model has {_num_classes(model)}"
            )
        try:
            model.load_state_dict(ckpt["model_state"])
        except (RuntimeError, TypeError, ValueError) as exc:
            details = " ".join(str(exc).split())
            raise CheckpointError(f"{path} does not fit this model: {details[:300]}") from None
    return ckpt


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _num_classes(model: nn.Module) -> int | None:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return last[-1].out_features if last else None
