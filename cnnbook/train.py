"""Training and evaluation: ``fit`` returns a :class:`History`, ``evaluate`` a dict.

The loop keeps the hot path free of host syncs: losses and accuracies accumulate on the
device and are read once per epoch (plus a cheap finiteness check every few steps). Where the
hardware computes bfloat16 natively, convolutions run under bf16 autocast (``precision``).
"""

from __future__ import annotations

import math
import os
import random
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import Split, normalize

# The names moved to .device stay importable from here (`X as X` marks a re-export).
from .device import PRECISIONS as PRECISIONS
from .device import autocast, configure_backends, default_device, resolve_precision
from .device import native_bf16 as native_bf16
from .models.base import evaluation_mode

SCHEDULES = ("onecycle", "cosine", "constant")
# Evaluation batch: on 2-core CPUs batches of 100 classify 1.3x (AMD EPYC with AVX-512, benchmarks/ablations.py)
# to 1.8-2x (EPYC without AVX-512) as fast as batches of 1,000, whose activations no longer fit the caches.
EVAL_BATCH = 100
# History keys that depend only on the seed (the rest are timings).
DETERMINISTIC_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def set_seed(seed: int) -> None:
    """Seed Python, and torch on every device, for reproducible runs."""
    random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class History:
    """Per-epoch records: ``history["val_acc"]`` is a list over epochs."""

    records: list[dict] = field(default_factory=list)

    def append(self, record: dict) -> None:
        self.records.append(record)

    def __getitem__(self, key: str) -> list:
        return [r[key] for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def last(self) -> dict:
        return self.records[-1]

    def to_dict(self) -> dict:
        return {"records": self.records}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(list(d["records"]))


def make_optimizer(
    model: nn.Module, lr: float, momentum: float = 0.9, weight_decay: float = 5e-4, nesterov: bool = True
) -> torch.optim.SGD:
    """SGD (Nesterov momentum by default) with weight decay on every parameter."""
    return torch.optim.SGD(
        model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov and momentum > 0
    )


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: str, lr: float, total_steps: int):
    """Per-step learning-rate schedule (multiplies ``lr``): one-cycle, cosine, or constant.

    One-cycle: linear warm-up from ``lr / 20`` over the first quarter of the steps, then a
    cosine decay to ``lr / 1000``. Works for any number of steps, even one.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
    warmup = max(1, round(0.25 * total_steps)) if schedule == "onecycle" else 0

    def factor(step: int) -> float:
        if schedule == "constant":
            return 1.0
        if step < warmup:
            return 0.05 + 0.95 * step / warmup
        t = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 1e-3 + (1 - 1e-3) * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def fit(
    model: nn.Module,
    train: Split,
    val: Split | None = None,
    *,
    epochs: int,
    batch_size: int = 256,
    lr: float = 0.4,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    nesterov: bool = True,
    label_smoothing: float = 0.1,
    schedule: str = "onecycle",
    augment: bool = True,
    seed: int = 0,
    device: torch.device | str | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    check_every: int = 20,
    precision: str = "auto",
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    callbacks: Iterable[Callable[[History], None]] = (),
) -> History:
    """Train ``model`` on ``train`` for ``epochs``, validating on ``val`` after each epoch.

    ``transform`` maps uint8 batches to model inputs (default: CIFAR normalisation).
    Each callback gets the history after every epoch; one returning True stops training.
    With ``checkpoint``, the state is saved atomically after every epoch; ``resume=True``
    continues from it and ends with the same history as an uninterrupted run (same seed, CPU).
    Under ``torchrun`` each process trains on its share of every batch (see :mod:`cnnbook.distributed`).
    ``precision``: "auto" (bf16 autocast where native, see :func:`native_bf16`), "bf16" or "fp32".
    """
    _check_positive(epochs=epochs, batch_size=batch_size, lr=lr)
    if len(train) == 0:
        raise ValueError("the training split is empty")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
    ctx = distributed.context()
    device = distributed.local_device(torch.device(device) if device is not None else default_device())
    precision = resolve_precision(precision, device)
    configure_backends(device, precision)
    model.to(device, memory_format=torch.channels_last)
    replica = model
    if ctx.enabled:
        device_ids = [device.index] if device.type == "cuda" else None
        replica = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    train, val = train.to(device), (val.to(device) if val is not None else None)
    _check_inputs(model, transform, training=train, validation=val)
    steps = train.num_batches(batch_size, drop_last=True)
    optimizer = make_optimizer(model, lr, momentum, weight_decay, nesterov)
    scheduler = make_scheduler(optimizer, schedule, lr, epochs * steps)
    run_config = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "schedule": schedule,
        "train_size": len(train),
        "weight_decay": weight_decay,
        "label_smoothing": label_smoothing,
        "precision": precision,
    }
    history, start = History(), 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        history, start = _restore(checkpoint, model, optimizer, scheduler, run_config)
    for epoch in range(start, epochs):
        torch.manual_seed(seed * 100_003 + epoch)  # dropout etc.: same stream on resume
        model.train()
        t0 = time.perf_counter()
        batches = train.batches(
            batch_size,
            shuffle=True,
            augment=augment,
            seed=seed * 100_003 + epoch,
            drop_last=True,
            transform=transform,
            shard=ctx.shard,
        )
        sums = _train_epoch(
            replica,
            batches,
            steps,
            optimizer,
            scheduler,
            f"epoch {epoch + 1}/{epochs}",
            label_smoothing,
            check_every,
            progress and ctx.is_main,
            checkpoint,
            precision,
        )
        seconds = time.perf_counter() - t0
        record = {
            "epoch": epoch + 1,
            "train_loss": sums["loss"],
            "train_acc": sums["acc"],
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": seconds,
            "images": sums["n"],
            "images_per_s": sums["n"] / seconds,
        }
        if val is not None:
            distributed.sync_buffers(model)
            metrics = evaluate(model, val, transform=transform, precision=precision)
            record.update(val_loss=metrics["loss"], val_acc=metrics["accuracy"])
        history.append(record)
        if checkpoint is not None and ctx.is_main:
            save_checkpoint(
                checkpoint,
                model,
                optimizer_state=optimizer.state_dict(),
                scheduler_state=scheduler.state_dict(),
                epoch=epoch + 1,
                history=history.to_dict(),
                run_config=run_config,
            )
        if progress and ctx.is_main:
            print(_summary(record, epochs), flush=True)
        if any([callback(history) for callback in callbacks]):
            break  # a callback returned True: stop early
    return history


def _train_epoch(
    model, batches, steps, optimizer, scheduler, desc, label_smoothing, check_every, progress, checkpoint, precision
) -> dict:
    device = next(model.parameters()).device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    first_bad = torch.full((), -1, device=device, dtype=torch.long)
    n = 0
    bar = _progress_bar(steps, desc, progress)
    for step, (x, y) in enumerate(batches):
        with autocast(device, precision):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        detached = loss.detach()
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(detached), step, first_bad)
        loss_sum += detached * len(y)
        correct += (logits.argmax(1) == y).sum()
        n += len(y)
        if bar is not None:
            bar.update()
        if (step + 1) % check_every == 0:
            _raise_if_diverged(first_bad, desc, optimizer, checkpoint)
    if bar is not None:
        bar.close()
    _raise_if_diverged(first_bad, desc, optimizer, checkpoint)
    totals = distributed.all_reduce(
        torch.stack([loss_sum, correct.to(loss_sum.dtype), torch.tensor(float(n), device=device)])
    )
    loss_total, correct_total, n_total = totals.tolist()
    return {"loss": loss_total / n_total, "acc": correct_total / n_total, "n": int(n_total)}


def _raise_if_diverged(first_bad: torch.Tensor, desc: str, optimizer, checkpoint) -> None:
    step = int(distributed.all_reduce(first_bad.clone(), op="max"))
    if step >= 0:
        kept = (
            f"The last good checkpoint, {checkpoint}, is kept (it was written before this epoch)."
            if checkpoint is not None and Path(checkpoint).exists()
            else "No checkpoint was written."
        )
        raise TrainingDiverged(
            f"the training loss became NaN/inf at {desc}, step {step + 1} "
            f"(learning rate {optimizer.param_groups[0]['lr']:.3g}). {kept} "
            "Lower the learning rate (e.g. divide it by 10) and train again."
        )


def _restore(checkpoint, model, optimizer, scheduler, run_config) -> tuple[History, int]:
    ckpt = load_checkpoint(checkpoint, model, resumable=True)
    saved = ckpt.get("run_config", {})
    changed = {k: (saved.get(k), v) for k, v in run_config.items() if saved.get(k) != v}
    if changed:
        details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise CheckpointError(f"cannot resume from {checkpoint}: the run's settings differ ({details})")
    optimizer.load_state_dict(ckpt["optimizer_state"])
    scheduler.load_state_dict(ckpt["scheduler_state"])
    return History.from_dict(ckpt["history"]), int(ckpt["epoch"])


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    split: Split,
    batch_size: int = EVAL_BATCH,
    transform=None,
    precision: str = "auto",
    predictions: bool = False,
    flip: bool = False,
) -> dict:
    """Mean cross-entropy and accuracy of ``model`` on ``split`` (no augmentation), and with
    ``predictions=True`` the predicted class of every image (a CPU tensor), from the same pass.
    ``flip=True`` also classifies every image mirrored and averages the two logits (test-time
    augmentation, twice the cost).

    Under ``torchrun`` each process evaluates its share and the results are combined.
    """
    ctx = distributed.context()
    if predictions and ctx.world_size > 1:
        raise ValueError("predictions=True needs a single process: under torchrun each one sees only its share")
    preds, labels, loss_sum = _predict(model, split, batch_size, transform, precision, ctx.shard, flip)
    totals = distributed.all_reduce(
        torch.stack(
            [
                loss_sum,
                (preds == labels).sum().to(loss_sum.dtype),
                torch.tensor(float(len(labels)), device=loss_sum.device),
            ]
        )
    )
    loss_total, correct, n = totals.tolist()
    result = {"loss": loss_total / n, "accuracy": correct / n}
    if predictions:
        result["predictions"] = preds.cpu()
    return result


@torch.inference_mode()
def predict(
    model: nn.Module, split: Split, batch_size: int = EVAL_BATCH, transform=None, precision: str = "auto"
) -> torch.Tensor:
    """Predicted class of every image in ``split`` (a CPU tensor)."""
    return _predict(model, split, batch_size, transform, precision)[0].cpu()


def _predict(
    model: nn.Module,
    split: Split,
    batch_size: int,
    transform,
    precision,
    shard: tuple[int, int] = (0, 1),
    flip: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Predictions, labels and summed loss over ``split`` (this process's ``shard`` of it); ``flip``
    averages the logits of each image and its mirror image."""
    device = next(model.parameters()).device
    precision = resolve_precision(precision, device)
    split = split.to(device)
    _check_inputs(model, transform, evaluated=split)
    preds, labels, loss_sum = [], [], torch.zeros((), device=device)
    with evaluation_mode(model):
        for x, y in split.batches(batch_size * shard[1], transform=transform, shard=shard):
            with autocast(device, precision):
                logits = model(x)
                if flip:
                    logits = (logits + model(x.flip(-1))) / 2
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
            preds.append(logits.argmax(1))
            labels.append(y)
    return torch.cat(preds), torch.cat(labels), loss_sum


def per_class_accuracy(preds: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Accuracy for each class (a tensor of ``num_classes`` values)."""
    labels = labels.cpu()
    hits = torch.bincount(labels[preds == labels], minlength=num_classes).float()
    return hits / torch.bincount(labels, minlength=num_classes).clamp(min=1).float()


def _check_inputs(model: nn.Module, transform, **splits: Split | None) -> None:
    """One clear line, before any work, for data ``model`` cannot take: an empty split, inputs of
    another dtype than its weights, labels beyond its outputs (a model with more outputs than the
    labels use gets a warning: it trains, but not what was meant)."""
    weights = next(model.parameters())
    for role, split in splits.items():
        if split is None:
            continue
        if len(split) == 0:
            raise ValueError(f"the {role} split is empty")
        x = (transform or normalize)(split.images[:2].to(weights.device))
        if not (x.is_floating_point() and x.dtype == weights.dtype):
            raise TypeError(
                f"the transform gives {x.dtype} inputs but the model's weights are {weights.dtype}: "
                f"end the transform with .to({weights.dtype})"
            )
        with torch.no_grad(), evaluation_mode(model):
            outputs = model(x).shape[-1]
        classes = int(split.labels.max()) + 1
        if classes > outputs:
            raise ValueError(
                f"the {role} labels need {classes} classes but the model has {outputs} outputs: "
                f"build it with num_classes={classes}"
            )
        if outputs > classes:
            warnings.warn(
                f"the model has {outputs} outputs but the {role} labels use {classes} classes: "
                f"build it with num_classes={classes} unless the other classes are meant to stay unused",
                stacklevel=3,
            )


def _check_positive(**values) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive, got {value!r}")


def _progress_bar(total: int, desc: str, enabled: bool):
    # tqdm's own TQDM_DISABLE does not reach its notebook widget; `make book` sets it for static pages.
    if not enabled or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true"):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, unit="batch")


def _summary(r: dict, epochs: int) -> str:
    val = f"  val loss {r['val_loss']:.3f} acc {100 * r['val_acc']:.1f}%" if "val_acc" in r else ""
    return (
        f"epoch {r['epoch']:>3}/{epochs}  train loss {r['train_loss']:.3f} "
        f"acc {100 * r['train_acc']:.1f}%{val}  lr {r['lr']:.3g}  "
        f"{r['seconds']:.0f} s ({r['images_per_s']:.0f} img/s)"
    )
