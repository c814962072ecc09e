"""Each chapter's model trained with the chapter recipe; the source's ResNet-18 too, once (seed 0)."""

from __future__ import annotations

from dataclasses import dataclass

from .registry import Study, register_study

CHAPTER_MODELS = ("resnet20", "googlenet_cifar", "densenet_cifar")
# Chapter 1's ResNet-18, the source text's model: an epoch takes 11x resnet20's time, so it trains
# once, at seed 0, after every other run.
SOURCE_MODEL = "resnet18"


@dataclass(frozen=True)
class ChapterStudy(Study):
    """A chapter run is named after its model alone: ``resnet20``."""

    def run_id(self, model: str) -> str:
        return model


CHAPTER = register_study(
    ChapterStudy("chapter", CHAPTER_MODELS, "chapter", once=(SOURCE_MODEL,), label="chapter recipe")
)
