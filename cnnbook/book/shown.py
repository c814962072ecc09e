"""A run as a chapter shows it (:class:`ChapterRun`), made whole from the record it comes from:
a stored reference run with its other stored seeds, or your run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..analysis.spread import Spread
from ..data import CIFAR10, Split
from ..models import count_parameters
from ..runs import yours
from ..runs.budgets import Budget
from ..runs.record import RunRecord
from ..runs.reference import RunSpec, best_trained, with_other_seeds
from ..storage import write_json
from ..training.evaluation import evaluate, evaluate_with_flip, predict
from ..training.history import History


@dataclass
class ChapterRun:
    """A trained model as a chapter shows it: from a stored reference run or trained on the page."""

    spec: RunSpec  # which run: model, recipe, seed
    budget: str
    model: nn.Module
    history: History
    minutes: float
    source: str  # e.g. "reference run (quick, AMD EPYC, bf16, 16.1 min)" or "your run (smoke, cpu, 0.4 min)"
    reference: RunRecord | None = None
    seeds: list[History] = field(default_factory=list)  # every seed's history (stored, or this run's)
    seed_tests: list[float] = field(default_factory=list)  # the stored seeds' test accuracies
    folder: Path | None = None  # where your run is kept (cnnbook.runs.yours); None for a stored reference
    records: list[RunRecord] = field(default_factory=list)  # the run record of every seed shown

    def __post_init__(self) -> None:
        self.seeds = self.seeds or [self.history]

    @property
    def name(self) -> str:
        """The registry name of the run's model, e.g. ``"resnet20"``."""
        return self.spec.model

    def for_figures(self, reference: bool = False) -> tuple[nn.Module, str]:
        """The model the chapter's figures show, with its label: the run shown above (yours, if you
        trained it), or with ``reference=True`` a stored reference of the same run that trained longer."""
        if self.reference is not None or not reference:
            return self.model, self.source
        model, label = best_trained(self.model, self.history, self.spec.run_id, self.budget)
        return model, (self.source if model is self.model else label)

    def evaluate_and_record(self, data: CIFAR10, result_file: str | None = None, predictions: bool = False) -> dict:
        """Evaluate the model on the test set, single view and with its mirror image
        (:func:`~cnnbook.training.evaluation.evaluate_with_flip`, with ``predictions``), say in two lines
        which run it is and how it did, and write the result to ``result_file`` (a notebook's
        ``RESULT_FILE``, set by ``make sweep``)."""
        parameters = count_parameters(self.model)
        print(f"{self.name}: {parameters:,} parameters, {len(self.history)} epochs on "
              f"{len(data.train):,} images: {self.source}", flush=True)  # fmt: skip
        test = evaluate_with_flip(self.model, data.test, predictions=predictions)
        print(
            f"  accuracy on the {len(data.test):,} held-out test images: {test['accuracy']:.1%}, "
            f"{test['flip_accuracy']:.1%} averaged with each image's mirror image"
        )
        record_result(
            result_file,
            model=self.name,
            budget=self.budget,
            epochs=len(self.history),
            train_images=len(data.train),
            parameters=parameters,
            minutes=round(self.minutes, 2),
            final_train_loss=round(self.history.last["train_loss"], 4),
            test_accuracy=round(test["accuracy"], 4),
            flip_test_accuracy=round(test["flip_accuracy"], 4),
        )
        if self.folder is not None:
            yours.record_test(self.folder, test)
        return test

    def seed_accuracies(self, test: Split) -> list[float]:
        """Test accuracy at every seed shown: the stored seeds' own, or this run's (:meth:`test_accuracy`)."""
        return self.seed_tests or [self.test_accuracy(test)]

    def accuracy(self, test: Split) -> Spread:
        """Test accuracy at every seed shown (:meth:`seed_accuracies`), with the shown seed's result on
        each image of ``test`` where it is known, so that two runs compare image by image."""
        return Spread.of(self.seed_accuracies(test), self.correct(test))

    def correct(self, test: Split) -> list[bool] | None:
        """Whether the shown seed classifies each image of ``test`` correctly: a stored run's stored
        predictions (None if it has none for these images), else measured here."""
        if self.reference is not None:
            correct = self.reference.correct
            return correct if correct is not None and len(correct) == len(test) else None
        return (predict(self.model, test) == test.labels.cpu()).tolist()

    def test_accuracy(self, test: Split) -> float:
        """Test accuracy: a stored run's own, measured on its budget's test set when it was made
        (the ``test`` split of a chapter at that budget), else measured here on ``test``."""
        if self.reference is not None:
            return self.reference.test["accuracy"]
        return evaluate(self.model, test)["accuracy"]


def record_result(path: str | None, **values) -> None:
    """Write ``values`` as JSON to ``path`` (a notebook's ``RESULT_FILE``, which ``sweep`` gathers);
    nothing when ``path`` is None."""
    if path is not None:
        write_json(path, values)


def stored_run(spec: RunSpec, reference: RunRecord, cfg: Budget, device: torch.device) -> ChapterRun:
    """The stored reference run ``reference`` of ``spec``, with every other stored seed of its run at ``cfg``."""
    p = reference.provenance
    records = with_other_seeds(reference, spec, cfg)
    source = f"reference run ({p['budget']}, {p['device_name']}, {p['precision']}, {p['wall_minutes']:.1f} min)"
    return ChapterRun(spec, p["budget"], reference.model(device), reference.history, p["wall_minutes"], source,
                      reference, seeds=[r.history for r in records], seed_tests=[r.test["accuracy"] for r in records],
                      records=records)  # fmt: skip


def your_run(spec: RunSpec, record: RunRecord, device: torch.device, model: nn.Module | None = None) -> ChapterRun:
    """Your run in ``record`` (``model``: its weights, when it was just trained; else loaded)."""
    p = record.provenance
    model = record.model(device) if model is None else model.to(device).eval()
    return ChapterRun(spec, p["budget"], model, record.history, p["wall_minutes"], your_source(record),
                      folder=record.path, records=[record])  # fmt: skip


def your_source(record: RunRecord) -> str:
    """How a page names your run: "your run of 3 Dec 14:05 (smoke, cpu, 0.4 min)"."""
    p = record.provenance
    return f"your run of {yours.when(p['finished'])} ({p['budget']}, {p['device']}, {p['wall_minutes']:.1f} min)"
