"""A training run's per-epoch records: what :func:`cnnbook.training.loop.fit` returns and the plots read."""

from __future__ import annotations

from dataclasses import dataclass, field

# History keys that depend only on the seed (the rest are timings).
DETERMINISTIC_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")


@dataclass
class History:
    """Per-epoch records: ``history["val_acc"]`` is a list over epochs.

    ``small_epochs`` and ``small_size`` say how many first epochs trained on images scaled down to how
    many pixels (:attr:`~cnnbook.training.recipe.Recipe.small_epochs`), so that every plot of the run
    shades them; :func:`~cnnbook.training.loop.fit` and a stored run's record set them from the recipe."""

    records: list[dict] = field(default_factory=list)
    small_epochs: int = 0
    small_size: int = 0

    def append(self, record: dict) -> None:
        self.records.append(record)

    def __getitem__(self, key: str) -> list:
        return [r[key] for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def last(self) -> dict:
        return self.records[-1]

    def to_dict(self) -> dict:
        return {"records": self.records}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(list(d["records"]))
