"""cnnbook: the helper package of the executable book on ResNet, Inception and DenseNet.

The book layer (what the chapters call: ``start_chapter``, ``train_chapter_model``, ...) is imported
on first use, so the command line, ``torchrun`` workers and ``reproduce --jobs`` children never
load matplotlib.
"""

from .budgets import Budget, get_budget
from .data import load_cifar10
from .device import default_device
from .evaluation import evaluate, predict
from .history import History
from .models import count_parameters, get_model, list_models
from .recipe import Recipe
from .train import fit, set_seed, train_model

__version__ = "0.1.0"
BOOK_LAYER = ("class_transfer_experiment", "side_runs", "start_chapter", "train_chapter_model")
__all__ = [
    "Budget",
    "History",
    "Recipe",
    *BOOK_LAYER,
    "count_parameters",
    "default_device",
    "evaluate",
    "fit",
    "get_budget",
    "get_model",
    "list_models",
    "load_cifar10",
    "predict",
    "set_seed",
    "train_model",
]


def __getattr__(name: str):
    if name in BOOK_LAYER:
        from . import chapter

        return getattr(chapter, name)
    raise AttributeError(f"module 'cnnbook' has no attribute {name!r}")
