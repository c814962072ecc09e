"""Chapter 1's ResNet-18 with the source text's own recipe (SGD at lr 0.001, no schedule, no
augmentation) for as many epochs as the chapter recipe, beside its chapter-recipe run: once (seed
0), and only its curves are shown, so it keeps no weights."""

from __future__ import annotations

from .chapter import SOURCE_MODEL
from .registry import Study, register_study

SOURCE_RECIPE = dict(
    batch_size=64,
    lr=0.001,
    optimizer="sgd-classic",
    weight_decay=0.0,
    label_smoothing=0.0,
    schedule="constant",
    augment=False,
    small_epochs=0,
)
SOURCE = register_study(
    Study(
        "source", (), "chapter", overrides=SOURCE_RECIPE, once=(SOURCE_MODEL,), weights=False, label="textbook recipe"
    )
)
