"""cnnbook: the helper package of the executable book on ResNet, Inception and DenseNet.

The package reads as its data flow, and each layer imports only the layers before it
(``tests/test_layers.py`` checks)::

    settings, storage, models, data -> training -> analysis, experiments -> runs -> book -> cli

What the chapters call is re-exported here. The book layer (``start_chapter``, ``viz``, ...) and the
learner's modules (``probe``, ``finetune``, ...) are imported on first use, so the command line,
``torchrun`` workers and ``reproduce --jobs`` children never load matplotlib.
"""

from importlib import import_module

from .data import load_cifar10
from .models import count_parameters, get_model, list_models
from .runs.budgets import Budget, get_budget
from .training.device import default_device
from .training.evaluation import evaluate, predict
from .training.history import History
from .training.loop import fit, fit_head, set_seed, train_model
from .training.recipe import Recipe

__version__ = "0.1.0"
BOOK_LAYER = (
    "aux_runs",
    "class_transfer_experiment",
    "progress",
    "resnet18_runs",
    "side_runs",
    "start_chapter",
    "train_chapter_model",
)
# The modules a learner reaches as ``cnnbook.<name>`` (``from cnnbook import viz``), where they live.
MODULES = {
    "viz": "book.viz",
    "probe": "analysis.probe",
    "cam": "analysis.cam",
    "cost": "analysis.cost",
    "spread": "analysis.spread",
    "branches": "analysis.branches",
    "finetune": "experiments.finetune",
    "class_transfer": "experiments.class_transfer",
    "reference": "runs.reference",
    "evaluation": "training.evaluation",
}
__all__ = [
    "Budget",
    "History",
    "Recipe",
    *BOOK_LAYER,
    *MODULES,
    "count_parameters",
    "default_device",
    "evaluate",
    "fit",
    "fit_head",
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
        return getattr(import_module(".book.chapter", __name__), name)
    if name in MODULES:
        return import_module(f".{MODULES[name]}", __name__)
    raise AttributeError(f"module 'cnnbook' has no attribute {name!r}")
