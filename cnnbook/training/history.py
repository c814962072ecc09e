"""A training run's per-epoch records: what :func:`cnnbook.training.loop.fit` returns and the plots read."""

from __future__ import annotations

from dataclasses import dataclass, field

# History keys that depend only on the seed (the rest are timings).
DETERMINISTIC_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")


@dataclass
class History:
    """Per-epoch records: ``history["val_acc"]`` is a list over epochs."""

    records: list[dict] = field(default_factory=list)

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
