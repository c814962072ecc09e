"""The book's model zoo: ``get_model(name)``, ``list_models()``, ``model_meta(name)``."""

from . import densenet, inception, resnet  # noqa: F401  (register the DenseNet, GoogLeNet and ResNet families)
from .base import ImageClassifier, check_input
from .registry import ModelMeta, count_parameters, get_builder, get_model, list_models, model_meta, register_model

__all__ = [
    "ImageClassifier",
    "ModelMeta",
    "check_input",
    "count_parameters",
    "get_builder",
    "get_model",
    "list_models",
    "model_meta",
    "register_model",
]
