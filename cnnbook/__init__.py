"""cnnbook: the helper package of the executable book on ResNet, Inception and DenseNet."""

from .budgets import Budget, get_budget
from .chapter import class_transfer_experiment, side_runs, start_chapter, train_chapter_model
from .data import load_cifar10
from .device import default_device
from .evaluation import evaluate, predict
from .history import History
from .models import count_parameters, get_model, list_models
from .recipe import Recipe
from .train import fit, set_seed, train_model

__version__ = "0.1.0"
__all__ = [
    "Budget",
    "History",
    "Recipe",
    "class_transfer_experiment",
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
    "side_runs",
    "start_chapter",
    "train_chapter_model",
    "train_model",
]
