"""The book's model zoo: ``get_model(name)``, ``list_models()``."""

from . import densenet, inception, resnet  # noqa: F401  (register the DenseNet, GoogLeNet and ResNet families)
from .base import ImageClassifier, check_input
from .registry import count_parameters, get_builder, get_model, list_models, register_model

__all__ = [
    "ImageClassifier",
    "check_input",
    "count_parameters",
    "get_builder",
    "get_model",
    "list_models",
    "register_model",
]
