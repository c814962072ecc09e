"""The training loop: :func:`fit` trains a model with a :class:`~cnnbook.training.recipe.Recipe`, and
:func:`train_model` builds a registry model and fits it.

The loop keeps the hot path free of host syncs: losses and accuracies accumulate on the
device and are read once per epoch (plus a cheap finiteness check every ``CHECK_EVERY`` steps).
Where the hardware computes bfloat16 natively, convolutions run under bf16 autocast (the
recipe's ``precision``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import settings
from ..data import CIFAR10, Split
from ..models import get_model
from ..models.inception import InceptionOutputs
from . import distributed
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .device import autocast, configure_backends, default_device, resolve_precision
from .evaluation import check_inputs, evaluate
from .history import History
from .optim import make_optimizer, make_scheduler
from .recipe import Recipe, recipe_for

Scheduler = torch.optim.lr_scheduler.LRScheduler

# Bump when the loop changes what a recipe trains (augmentation, loss, update order): every stored
# run's fingerprint then stops matching and `make test` lists the references to rerun.
LOOP_VERSION = 1
# Szegedy et al.'s discount on the auxiliary classifiers' losses (a network returning
# InceptionOutputs in training mode): loss = main + AUX_WEIGHT * sum of the auxiliary losses.
AUX_WEIGHT = 0.3
CHECK_EVERY = 20  # steps between checks that the loss is still finite (each one syncs with the device)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def set_seed(seed: int) -> None:
    """Seed Python, and torch on every device, for reproducible runs."""
    random.seed(seed)
    torch.manual_seed(seed)


def fit(
    model: nn.Module,
    train: Split,
    val: Split | None,
    recipe: Recipe,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    callbacks: Iterable[Callable[[History], bool | None]] = (),
    optimizer_hook: Callable[[torch.optim.Optimizer], None] | None = None,
    scheduler_factory: Callable[[torch.optim.Optimizer, str, int], Scheduler] = make_scheduler,
) -> History:
    """Train ``model`` on ``train`` (a random ``recipe.subset`` of it, if set) as ``recipe`` says,
    validating on ``val`` (or None) after each epoch.

    ``transform`` maps uint8 batches to model inputs (default: CIFAR normalisation).
    Each callback gets the history after every epoch; one returning True stops training.
    Experiments change the loop through hooks, not by replacing this module's functions:
    ``optimizer_hook`` gets the optimiser once it is built (to register step hooks, e.g. weight
    averages), ``scheduler_factory`` builds the schedule instead of :func:`make_scheduler`.
    With ``checkpoint``, the state is saved atomically after every epoch; ``resume=True``
    continues from it and ends with the same history as an uninterrupted run (same seed, CPU).
    Under ``torchrun`` each process trains on its share of every batch (see :mod:`cnnbook.training.distributed`).
    """
    if len(train) == 0:
        raise ValueError("the training split is empty")
    if recipe.subset is not None and recipe.subset < len(train):
        train = train.take(recipe.subset, seed=seed)
    ctx = distributed.context()
    device = distributed.local_device(torch.device(device) if device is not None else default_device())
    precision = resolve_precision(recipe.precision, device)
    configure_backends(device, precision)
    model.to(device, memory_format=torch.channels_last)
    replica = distributed.wrap(model, device)
    train, val = train.to(device), (val.to(device) if val is not None else None)
    check_inputs(model, transform, training=train, validation=val)
    steps = train.num_batches(recipe.batch_size, drop_last=True)
    optimizer = make_optimizer(model.parameters(), recipe.optimizer, lr=recipe.lr, momentum=recipe.momentum,
                               weight_decay=recipe.weight_decay)  # fmt: skip
    if optimizer_hook is not None:
        optimizer_hook(optimizer)
    scheduler = scheduler_factory(optimizer, recipe.schedule, recipe.epochs * steps)
    run_config = {**recipe.as_dict(), "precision": precision, "seed": seed, "train_size": len(train)}
    history, start = History(), 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        history, start = _restore(checkpoint, model, optimizer, scheduler, run_config)
    if recipe.small_epochs:  # every plot of the run shades them
        history.small_epochs, history.small_size = recipe.small_epochs, recipe.small_size
    for epoch in range(start, recipe.epochs):
        order = seed * 100_003 + epoch
        torch.manual_seed(order)  # dropout etc.: same stream on resume
        model.train()
        t0 = time.perf_counter()
        size = recipe.image_size(epoch)
        batches = train.batches(recipe.batch_size, shuffle=True, augment=recipe.augment, seed=order,
                                drop_last=True, transform=transform, shard=ctx.shard,
                                size=size)  # fmt: skip
        desc = f"epoch {epoch + 1}/{recipe.epochs}" + (f" at {size} px" if size else "")
        kept = (
            f"The last good checkpoint, {checkpoint}, is kept (it was written before this epoch)."
            if checkpoint is not None and Path(checkpoint).exists()
            else "No checkpoint was written."
        )
        sums = train_epoch(replica, batches, optimizer=optimizer, scheduler=scheduler,
                           label_smoothing=recipe.label_smoothing, precision=precision, steps=steps, desc=desc,
                           progress=progress and ctx.is_main, kept=kept)  # fmt: skip
        record = epoch_record(epoch, sums, optimizer, time.perf_counter() - t0)
        if val is not None:
            distributed.sync_buffers(model)
            metrics = evaluate(model, val, transform=transform, precision=precision)
            record.update(val_loss=metrics["loss"], val_acc=metrics["accuracy"])
        history.append(record)
        if checkpoint is not None and ctx.is_main:
            save_checkpoint(checkpoint, model, optimizer_state=optimizer.state_dict(),
                            scheduler_state=scheduler.state_dict(), epoch=epoch + 1, history=history.to_dict(),
                            run_config=run_config)  # fmt: skip
        if progress and ctx.is_main:
            print(_summary(record, recipe.epochs), flush=True)
        if any([callback(history) for callback in callbacks]):
            break  # a callback returned True: stop early
    return history


def train_model(
    name: str,
    recipe: Recipe,
    data: CIFAR10 | Split,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    val: Split | None = None,
    num_classes: int = 10,
    **fit_options,
) -> tuple[nn.Module, History]:
    """Build registry model ``name`` (seeded) and :func:`fit` it with ``recipe`` (and the settings
    the architecture prefers, :func:`~cnnbook.training.recipe.recipe_for`) on ``data``.

    ``data`` is a :class:`CIFAR10` (train on its training split, validate on its validation
    split unless ``val`` is given) or a training :class:`Split`. ``fit_options`` are the
    run's mechanics, not its recipe: ``checkpoint``, ``resume``, ``progress``, ``callbacks``,
    ``transform``.
    """
    if isinstance(data, CIFAR10):
        train, val = data.train, data.val if val is None else val
    else:
        train = data
    set_seed(seed)
    model = get_model(name, num_classes=num_classes)
    history = fit(model, train, val, recipe_for(name, recipe), seed=seed, device=device, **fit_options)
    return model, history


def fit_head(
    head: nn.Module,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor | None = None,
    val_y: torch.Tensor | None = None,
    *,
    epochs: int = 30,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> History:
    """Train ``head`` (a linear classifier) on cached features ``train_x`` with AdamW at a constant
    learning rate: the epoch loop of :func:`fit`, fed by a seeded shuffle of the features (nothing to
    augment or resize); the history has :func:`fit`'s keys."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = make_optimizer(head.parameters(), "adamw", lr=lr, momentum=0.9, weight_decay=weight_decay)
    history = History()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        head.train()
        order = torch.randperm(len(train_y), generator=generator)
        batches = ((train_x[i], train_y[i]) for i in order.split(batch_size))
        sums = train_epoch(head, batches, optimizer=optimizer, desc=f"head epoch {epoch + 1}/{epochs}")
        record = epoch_record(epoch, sums, optimizer, time.perf_counter() - t0)
        if val_x is not None:
            with torch.no_grad():
                head.eval()
                logits = head(val_x)
                record.update(val_loss=F.cross_entropy(logits, val_y).item(),
                              val_acc=(logits.argmax(1) == val_y).float().mean().item())  # fmt: skip
        history.append(record)
    return history


def train_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    optimizer: torch.optim.Optimizer,
    scheduler: Scheduler | None = None,
    label_smoothing: float = 0.0,
    precision: str = "fp32",
    steps: int | None = None,
    desc: str = "",
    progress: bool = False,
    kept: str = "No checkpoint was written.",
) -> dict:
    """One pass over ``batches``, an optimiser (and scheduler) step per batch: mean loss ``loss`` and
    accuracy ``acc`` of the (main) classifier, images ``n``, summed over every process, and for a
    GoogLeNet with auxiliary classifiers their summed loss ``aux_loss`` (weighted :data:`AUX_WEIGHT`).
    Raises :class:`TrainingDiverged` (its message ends with ``kept``, what survives) when the loss
    stops being finite."""
    device = next(model.parameters()).device
    loss_sum = torch.zeros((), device=device)
    aux_sum, has_aux = torch.zeros((), device=device), False  # the auxiliary classifiers' losses, if any
    correct = torch.zeros((), device=device, dtype=torch.long)
    first_bad = torch.full((), -1, device=device, dtype=torch.long)
    n = 0
    bar = progress_bar(steps, desc, progress)
    for step, (x, y) in enumerate(batches):
        with autocast(device, precision):
            output = model(x)
        logits, aux = (output.logits, output.aux) if isinstance(output, InceptionOutputs) else (output, ())
        main = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
        side = sum(F.cross_entropy(a.float(), y, label_smoothing=label_smoothing) for a in aux)
        loss = main + AUX_WEIGHT * side if aux else main
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), step, first_bad)
        loss_sum += main.detach() * len(y)
        if aux:
            aux_sum += side.detach() * len(y)
            has_aux = True
        correct += (logits.argmax(1) == y).sum()
        n += len(y)
        bar.update()
        if (step + 1) % CHECK_EVERY == 0:
            _raise_if_diverged(first_bad, desc, optimizer, kept)
    bar.close()
    _raise_if_diverged(first_bad, desc, optimizer, kept)
    totals = distributed.all_reduce(
        torch.stack([loss_sum, aux_sum, correct.to(loss_sum.dtype), torch.tensor(float(n), device=device)])
    )
    loss_total, aux_total, correct_total, n_total = totals.tolist()
    sums = {"loss": loss_total / n_total, "acc": correct_total / n_total, "n": int(n_total)}
    return {**sums, "aux_loss": aux_total / n_total} if has_aux else sums


def epoch_record(epoch: int, sums: dict, optimizer: torch.optim.Optimizer, seconds: float) -> dict:
    """One history record (0-based ``epoch``) from :func:`train_epoch`'s sums: the keys every loop writes."""
    record = {"epoch": epoch + 1, "train_loss": sums["loss"], "train_acc": sums["acc"],
              "lr": optimizer.param_groups[0]["lr"], "seconds": seconds, "images": sums["n"],
              "images_per_s": sums["n"] / seconds}  # fmt: skip
    return {**record, "train_aux_loss": sums["aux_loss"]} if "aux_loss" in sums else record


def _raise_if_diverged(first_bad: torch.Tensor, desc: str, optimizer, kept: str) -> None:
    step = int(distributed.all_reduce(first_bad.clone(), op="max"))
    if step >= 0:
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


def progress_bar(total: int | None, desc: str, enabled: bool, unit: str = "batch"):
    """A tqdm bar over ``total`` steps; a silent one (every call a no-op) unless ``enabled``, and on a
    book build's static pages: `make book` sets TQDM_DISABLE, which tqdm's notebook widget ignores."""
    from tqdm.auto import tqdm

    shown = enabled and settings.current().progress_bars
    return tqdm(total=total, desc=desc, leave=False, unit=unit, disable=not shown)


def _summary(r: dict, epochs: int) -> str:
    val = f"  val loss {r['val_loss']:.3f} acc {100 * r['val_acc']:.1f}%" if "val_acc" in r else ""
    return (
        f"epoch {r['epoch']:>3}/{epochs}  train loss {r['train_loss']:.3f} "
        f"acc {100 * r['train_acc']:.1f}%{val}  lr {r['lr']:.3g}  "
        f"{r['seconds']:.0f} s ({r['images_per_s']:.0f} img/s)"
    )
