"""Training checkpoints: a model's weights with its registry name and class count, and the state a run
resumes from, written atomically and read without executing pickled code (:mod:`cnnbook.storage`)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..storage import CheckpointError, atomic_save, safe_load

FORMAT = "cnnbook-checkpoint"
FORMAT_VERSION = 1
CORE_KEYS = ("model_name", "num_classes", "model_state")
TRAINING_KEYS = ("optimizer_state", "scheduler_state", "epoch", "history", "run_config")


def save_checkpoint(path: str | Path, model: nn.Module, half: bool = False, **state) -> Path:
    """Save ``model``'s weights (with ``half``, its floating-point tensors in 16-bit floats: half the
    file, and loading casts them back), its registry name and class count, and any extra ``state``."""
    weights = model.state_dict()
    if half:
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_name": getattr(model, "registry_name", type(model).__name__),
        "num_classes": _num_classes(model),
        "model_state": weights,
        **state,
    }
    return atomic_save(payload, path)


def load_checkpoint(path: str | Path, model: nn.Module | None = None, *, resumable: bool = False) -> dict:
    """Read a cnnbook checkpoint; with ``model``, check it matches and load its weights.

    ``resumable=True`` also requires the training state :func:`cnnbook.training.loop.fit` resumes from.
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
