"""Claims of Chapter 2, Inception networks (notebooks/02_inception.ipynb)."""

from . import Runs, claim

WITH, WITHOUT = "aux-on-googlenet_cifar", "aux-off-googlenet_cifar"


def final_train_loss(record) -> float:
    """The main classifier's training loss in the last epoch (the heads' losses are kept apart)."""
    return record.history.last["train_loss"]


def _aux_accuracy_unresolved(runs: Runs) -> bool:
    gap = runs.accuracy_difference(WITH, WITHOUT)
    return gap.paired and not gap.resolved


@claim(
    "02_inception",
    "At this budget three seeds cannot tell the network with auxiliary classifiers from the one "
    "without, in test accuracy or in training loss",
)
def aux_heads_not_resolved(runs: Runs) -> bool:
    return _aux_accuracy_unresolved(runs) and not runs.difference(WITH, WITHOUT, final_train_loss).resolved


@claim(
    "02_inception",
    "On this batch-normalised network, at this budget, three seeds cannot tell the accuracy with "
    "them from the accuracy without",
)
def aux_heads_accuracy_not_resolved(runs: Runs) -> bool:
    return _aux_accuracy_unresolved(runs)
