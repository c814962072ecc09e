"""Claims of Chapter 3, DenseNet (notebooks/03_densenet.ipynb)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

from ...models import get_model
from ...models.densenet import feature_reuse_by_block, reads_by_kind
from ...training.loop import set_seed
from . import Runs, claim

CHAPTER = "03_densenet"
MODEL = "densenet_cifar"


@cache
def _maps(budget: str, results: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Section 5's reuse maps at initialisation (seed 0) and of the stored seed-0 run with the batch
    norms' scales folded in (the only seed stored with its weights)."""
    set_seed(0)
    untrained = feature_reuse_by_block(get_model(MODEL))
    trained = Runs(budget, results).seeds(MODEL)[0].model()
    return untrained, feature_reuse_by_block(trained, fold_bn=True)


def reuse_maps(runs: Runs) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    return _maps(runs.budget, runs.results)


def weakest(maps: dict[str, torch.Tensor]) -> float:
    """The weakest read in any block: a group's weight as a fraction of its reader's strongest."""
    return min(heat.nan_to_num(1).min().item() for heat in maps.values())


@claim(
    CHAPTER,
    "Training leaves every earlier map in use: no layer reads any group with less than a third of "
    "the weight of its most-read one.",
)
def every_map_read(runs: Runs) -> bool:
    return weakest(reuse_maps(runs)[1]) >= 1 / 3


@claim(
    CHAPTER,
    "But the untrained map is flat too, and flatter: that layers read early maps is built into the "
    "initialisation, not learned.",
)
def untrained_flatter(runs: Runs) -> bool:
    untrained, trained = reuse_maps(runs)
    return weakest(trained) < weakest(untrained) and weakest(untrained) >= 1 / 3


def no_preference(runs: Runs) -> bool:
    """Training moves no block average by more than 0.25, and the three kinds rank differently across blocks."""
    untrained, trained = reuse_maps(runs)
    moved = max(
        abs(reads_by_kind(trained[name])[kind] - before)
        for name in untrained
        for kind, before in reads_by_kind(untrained[name]).items()
    )
    orders = {tuple(sorted((r := reads_by_kind(heat)), key=r.get)) for heat in trained.values()}
    return moved <= 0.25 and len(orders) > 1


claim(
    CHAPTER,
    "Training moved the averages by at most a quarter, and no order of the three holds in all three "
    "blocks, so at this budget the weights show no systematic preference for maps from far back.",
)(no_preference)


@claim(
    CHAPTER,
    "The trained weights read every earlier map, but so do the untrained ones: at this budget they "
    "show no systematic preference for maps from far back.",
)
def summary_reuse(runs: Runs) -> bool:
    return every_map_read(runs) and untrained_flatter(runs) and no_preference(runs)


@claim(
    CHAPTER,
    "At the `quick` budget three seeds cannot tell the test accuracy of `densenet_cifar` from that of ResNet-20",
)
def accuracy_not_resolved(runs: Runs) -> bool:
    return not runs.accuracy_difference(MODEL, "resnet20").resolved
