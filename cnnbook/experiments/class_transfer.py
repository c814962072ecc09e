"""Transfer learning without downloads: pretrain on six CIFAR-10 classes, learn the other four.

The experiment shows what a pretrained backbone buys, with data we have. A ResNet learns the
six *source* classes from all their training images; the four *target* classes then get only
``shots`` labelled images each, and three learners get the same small budget:

* ``frozen``: the pretrained body as a fixed feature extractor (features computed once) and a
  new linear head trained on them;
* ``fine-tune``: the whole pretrained network with a new head, at a lower learning rate;
* ``scratch``: the same architecture from random weights.

Test accuracy is measured on all 4,000 test images of the target classes.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..data import CIFAR10, Split
from ..training.evaluation import EVAL_BATCH, evaluate
from ..training.history import History
from ..training.loop import fit, fit_head, set_seed, train_model
from ..training.recipe import Recipe
from .finetune import head_inputs

SOURCE_CLASSES = (0, 1, 2, 3, 4, 5)  # airplane, automobile, bird, cat, deer, dog
TARGET_CLASSES = (6, 7, 8, 9)  # frog, horse, ship, truck


@dataclass(frozen=True)
class FewShot:
    """The target task's budget, the same for the three learners."""

    shots: int = 100  # labelled training images per target class
    epochs: int = 30
    batch_size: int = 50
    finetune_lr: float = 0.02
    scratch_lr: float = 0.1
    head_lr: float = 0.01


def classes_of(split: Split, classes: tuple[int, ...]) -> Split:
    """The images of ``classes``, relabelled ``0 .. len(classes) - 1`` in that order."""
    labels = split.labels
    keep = torch.isin(labels, torch.tensor(classes, device=labels.device))
    relabel = torch.full((int(labels.max()) + 1,), -1, dtype=labels.dtype, device=labels.device)
    relabel[list(classes)] = torch.arange(len(classes), dtype=labels.dtype, device=labels.device)
    return Split(split.images[keep], relabel[labels[keep]])


def few_shot(split: Split, shots: int, seed: int = 0) -> Split:
    """``shots`` random images of every class of ``split`` (a balanced subset)."""
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    labels = split.labels.cpu()[order]
    picked = torch.cat([order[labels == c][:shots] for c in labels.unique()])
    counts = torch.bincount(split.labels.cpu()[picked])
    if int(counts.min()) < shots:
        raise ValueError(f"a class has only {int(counts.min())} images, fewer than shots={shots}")
    return Split(split.images[picked], split.labels[picked])


def pretrain(
    name: str, recipe: Recipe, data: CIFAR10, *, seed: int = 0, device=None, **fit_options
) -> tuple[nn.Module, History]:
    """Registry model ``name`` trained with ``recipe`` on the source classes only."""
    return train_model(
        name,
        recipe,
        classes_of(data.train, SOURCE_CLASSES),
        val=classes_of(data.val, SOURCE_CLASSES),
        num_classes=len(SOURCE_CLASSES),
        seed=seed,
        device=device,
        **fit_options,
    )


def body_features(model: nn.Module, split: Split, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """The pooled features a ResNet's ``fc`` head reads, for every image of ``split``."""
    return head_inputs(model, "fc", split, batch_size)


def compare(
    pretrained: nn.Module,
    name: str,
    data: CIFAR10,
    settings: FewShot,
    *,
    seed: int = 0,
    device=None,
    progress: bool = False,
) -> list[dict]:
    """Frozen features, fine-tuning and training from scratch on the few-shot target task (with
    ``progress``, one line as each of them starts)."""
    train = few_shot(classes_of(data.train, TARGET_CLASSES), settings.shots, seed)
    test = classes_of(data.test, TARGET_CLASSES)
    k = len(TARGET_CLASSES)
    recipe = Recipe(epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.scratch_lr)
    rows = []

    step = f"{settings.shots} images per class, {settings.epochs} epochs"
    _announce(progress, f"few-shot stage ({step}): frozen features + linear head")
    set_seed(seed)
    head = nn.Linear(pretrained.fc.in_features, k)
    fit_head(head, body_features(pretrained, train), train.labels.cpu(), epochs=settings.epochs,
             batch_size=settings.batch_size, lr=settings.head_lr, seed=seed)  # fmt: skip
    with torch.no_grad():
        correct = (head(body_features(pretrained, test)).argmax(1) == test.labels.cpu()).float().mean()
    rows.append(_row("frozen features + linear head", head, float(correct), train))

    _announce(progress, "few-shot stage: fine-tuning the whole network")
    set_seed(seed)
    tuned = copy.deepcopy(pretrained).cpu()
    tuned.fc = nn.Linear(tuned.fc.in_features, k)
    fit(tuned, train, None, recipe.with_(lr=settings.finetune_lr), seed=seed, device=device, progress=False)
    rows.append(_row("fine-tune the whole network", tuned, evaluate(tuned, test)["accuracy"], train))

    _announce(progress, f"few-shot stage: {name} from scratch")
    scratch, _ = train_model(name, recipe, train, num_classes=k, seed=seed, device=device, progress=False)
    rows.append(_row("from scratch (random weights)", scratch, evaluate(scratch, test)["accuracy"], train))
    return rows


def _announce(progress: bool, step: str) -> None:
    if progress:
        print(step, flush=True)


def _row(way: str, trained: nn.Module, accuracy: float, train: Split) -> dict:
    return {
        "learner": way,
        "trained parameters": sum(p.numel() for p in trained.parameters()),
        "labelled images": len(train),
        "test accuracy": accuracy,
    }


def settings_dict(settings: FewShot) -> dict:
    """The settings as stored with a reference run (and hashed into its fingerprint)."""
    return asdict(settings)
