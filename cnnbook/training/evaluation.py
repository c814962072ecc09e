"""Evaluation: loss, accuracy and predictions of a model on a split, in batches, under ``torchrun`` too."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split, normalize
from ..models.base import evaluation_mode
from . import distributed
from .device import autocast, resolve_precision

# Evaluation batch: on 2-core CPUs batches of 100 classify 1.3x (AMD EPYC with AVX-512, benchmarks/ablations.py)
# to 1.8-2x (EPYC without AVX-512) as fast as batches of 1,000, whose activations no longer fit the caches.
EVAL_BATCH = 100


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
    views = _evaluate(model, split, batch_size, transform, precision, predictions, flip)
    return views["flip" if flip else "single"]


@torch.inference_mode()
def evaluate_with_flip(model: nn.Module, split: Split, precision: str = "auto", predictions: bool = False) -> dict:
    """:func:`evaluate`'s loss, accuracy (and ``predictions``), plus ``flip_accuracy``: the accuracy
    when every image is also classified mirrored and the two logits are averaged, from the same
    pass. The training images were flipped at random, so the mirror image is an input the network knows."""
    views = _evaluate(model, split, EVAL_BATCH, None, precision, predictions, flip=True)
    return {**views["single"], "flip_accuracy": views["flip"]["accuracy"]}


def _evaluate(model, split, batch_size, transform, precision, predictions: bool, flip: bool) -> dict[str, dict]:
    """``{"single": result}``, and with ``flip`` also ``{"flip": result}``, each a :func:`evaluate` result."""
    ctx = distributed.context()
    if predictions and ctx.world_size > 1:
        raise ValueError("predictions=True needs a single process: under torchrun each one sees only its share")
    labels, views = _predict(model, split, batch_size, transform, precision, ctx.shard, flip)
    results = {}
    for view, (preds, loss_sum) in views.items():
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
        results[view] = {"loss": loss_total / n, "accuracy": correct / n}
        if predictions:
            results[view]["predictions"] = preds.cpu()
    return results


@torch.inference_mode()
def predict(
    model: nn.Module, split: Split, batch_size: int = EVAL_BATCH, transform=None, precision: str = "auto"
) -> torch.Tensor:
    """Predicted class of every image in ``split`` (a CPU tensor)."""
    _, views = _predict(model, split, batch_size, transform, precision)
    return views["single"][0].cpu()


def _predict(
    model: nn.Module,
    split: Split,
    batch_size: int,
    transform,
    precision,
    shard: tuple[int, int] = (0, 1),
    flip: bool = False,
) -> tuple[torch.Tensor, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """Labels over ``split`` (this process's ``shard`` of it), and per view the predictions and summed
    loss: ``"single"``, and with ``flip`` also ``"flip"`` (the logits of each image and its mirror
    image averaged), both from one pass."""
    device = next(model.parameters()).device
    precision = resolve_precision(precision, device)
    split = split.to(device)
    check_inputs(model, transform, evaluated=split)
    names = ("single", "flip") if flip else ("single",)
    preds = {name: [] for name in names}
    losses = {name: torch.zeros((), device=device) for name in names}
    labels = []
    with evaluation_mode(model):
        for x, y in split.batches(batch_size * shard[1], transform=transform, shard=shard):
            with autocast(device, precision):
                logits = {"single": model(x)}
                if flip:
                    logits["flip"] = (logits["single"] + model(x.flip(-1))) / 2
            for name, view in logits.items():
                losses[name] += F.cross_entropy(view.float(), y, reduction="sum")
                preds[name].append(view.argmax(1))
            labels.append(y)
    return torch.cat(labels), {name: (torch.cat(preds[name]), losses[name]) for name in names}


def per_class_accuracy(preds: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Accuracy for each class (a tensor of ``num_classes`` values)."""
    labels = labels.cpu()
    hits = torch.bincount(labels[preds == labels], minlength=num_classes).float()
    return hits / torch.bincount(labels, minlength=num_classes).clamp(min=1).float()


def check_inputs(model: nn.Module, transform, **splits: Split | None) -> None:
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
