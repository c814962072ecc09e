"""Training budgets: how much compute a notebook or command spends.

``smoke`` is CI's (each notebook in about a minute on 2 CPU cores), ``quick`` the default
on a CPU (a chapter model trains in 12-34 min on 2 cores), ``full`` the default on a GPU (40
epochs; the papers train 164 to 300).
``CNNBOOK_BUDGET`` picks one; a notebook's parameters override single values of the chapter
recipe. A budget is made of :class:`~cnnbook.training.recipe.Recipe` values, one per scale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import torch

from .. import settings
from ..experiments.class_transfer import FewShot
from ..training.device import default_device
from ..training.recipe import Recipe


@dataclass(frozen=True)
class Budget:
    """The recipes of one budget and the sizes of its evaluation and transfer-learning runs."""

    name: str
    chapter: Recipe  # each chapter's model
    side: Recipe  # short side experiments: degradation, block and architecture comparisons
    ablation: Recipe  # Chapter 2's auxiliary classifiers on and off (fp32: the arms differ by little)
    pretrain: Recipe  # the class-transfer experiment's pretraining (cnnbook.experiments.class_transfer)
    few_shot: FewShot  # and its few-shot stage (cnnbook.experiments.class_transfer)
    transfer: Recipe  # fine-tuning torchvision's ImageNet models (cnnbook.experiments.finetune.fine_tune)
    val_subset: int | None  # validation images checked after every epoch (None: all 5,000)
    test_subset: int | None  # test images for the final evaluation (None: all 10,000)
    transfer_subset: int  # images for fine-tuning torchvision's ImageNet models
    transfer_size: int  # their input resolution
    seeds: int = 1  # seeds of every stored reference run (0, 1, ...): pages show their mean and spread

    def __post_init__(self) -> None:
        for name in ("transfer_subset", "transfer_size", "seeds"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"budget {self.name!r}: {name} must be a positive integer, got {value!r}")
        for name in ("val_subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"budget {self.name!r}: {name} must be a positive integer or None, got {value!r}")

    def as_dict(self) -> dict:
        """The budget's values, each recipe as :meth:`Recipe.as_dict` records it."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**asdict(self), **{name: v.as_dict() for name, v in values.items() if isinstance(v, Recipe)}}


# Fine-tuning a network pretrained on ImageNet: small steps, small batches, no label smoothing.
FINE_TUNE = Recipe(epochs=2, batch_size=32, lr=0.01, weight_decay=1e-4, label_smoothing=0.0)

# quick's chapter recipe trains its first 10 of 14 epochs on images scaled to 24 px: 0.63 of the
# time of 15 epochs at 32 px for 0.6-0.8 points of test accuracy (README, Performance).
BUDGETS = {
    "smoke": Budget(
        "smoke",
        chapter=Recipe(epochs=1, subset=2048, batch_size=128, lr=0.2),
        side=Recipe(epochs=1, subset=512, batch_size=128, lr=0.2),
        ablation=Recipe(epochs=1, subset=512, batch_size=128, lr=0.2, precision="fp32"),
        pretrain=Recipe(epochs=1, subset=1024, batch_size=128, lr=0.2),
        few_shot=FewShot(shots=20, epochs=3),
        transfer=FINE_TUNE.with_(epochs=1),
        val_subset=500,
        test_subset=500,
        transfer_subset=64,
        transfer_size=64,
    ),
    "quick": Budget(
        "quick",
        chapter=Recipe(epochs=14, batch_size=256, lr=0.4, small_epochs=10),
        side=Recipe(epochs=20, subset=2000, batch_size=64, lr=0.1),
        ablation=Recipe(epochs=14, subset=10_000, batch_size=128, lr=0.2, small_epochs=10, precision="fp32"),
        pretrain=Recipe(epochs=6, batch_size=256, lr=0.4),
        few_shot=FewShot(),
        transfer=FINE_TUNE,
        val_subset=None,
        test_subset=None,
        transfer_subset=1000,
        transfer_size=112,
        seeds=3,
    ),
    "full": Budget(
        "full",
        chapter=Recipe(epochs=40, batch_size=256, lr=0.4),
        side=Recipe(epochs=30, batch_size=128, lr=0.2),
        ablation=Recipe(epochs=40, batch_size=256, lr=0.4, precision="fp32"),
        pretrain=Recipe(epochs=30, batch_size=256, lr=0.4),
        few_shot=FewShot(),
        transfer=FINE_TUNE.with_(epochs=3),
        val_subset=None,
        test_subset=None,
        transfer_subset=10000,
        transfer_size=224,
        seeds=3,
    ),
}


# GPUs from this compute capability on train the full budget in minutes per model; older ones in hours.
FULL_BUDGET_CAPABILITY = (8, 0)


def default_budget_for(device: torch.device | str) -> tuple[str, str]:
    """The budget a run on ``device`` defaults to, and why in one line: ``full`` only on a GPU of
    compute capability 8.0+, ``quick`` on older GPUs, Apple GPUs and CPUs, where ``full`` takes hours."""
    device = torch.device(device)
    if device.type == "cuda":
        capability = torch.cuda.get_device_capability(device)
        version = ".".join(map(str, capability))
        if capability >= FULL_BUDGET_CAPABILITY:
            return "full", f"full: a CUDA GPU of compute capability {version} (8.0+) trains it in minutes per model"
        return "quick", f"quick: a CUDA GPU of compute capability {version} (below 8.0) would train full for hours"
    if device.type == "mps":
        return "quick", "quick: an Apple GPU (MPS) would train full for hours"
    return "quick", f"quick: a {device.type.upper()} would train full for hours"


def default_budget_name() -> str:
    """``CNNBOOK_BUDGET`` if set, else what :func:`default_budget_for` picks for the
    default device: ``full`` on a recent GPU, ``quick`` elsewhere."""
    return settings.current().budget or default_budget_for(default_device())[0]


def get_budget(name: str | None = None, **overrides) -> Budget:
    """The named budget (default :func:`default_budget_name`), with non-None ``overrides`` of its
    chapter recipe applied (``epochs``, ``subset``, ``batch_size``, ``lr``, ...), each checked by the
    recipe's own rule (a :class:`~cnnbook.training.recipe.RecipeError` naming the field and value)."""
    name = name or default_budget_name()
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}; valid budgets: {', '.join(BUDGETS)}")
    budget = BUDGETS[name]
    return replace(budget, chapter=budget.chapter.with_(**overrides))
