"""Claims: every result a chapter states in prose, registered with a check over the stored runs.

A chapter's sentence that states a result (a ranking, a "larger", a mechanism) and is not printed by
code is registered here, in the module of its chapter, with a function that tests it on the stored
reference runs::

    @claim("01_resnet", "Plain-56 ends above Plain-20 in training error")
    def plain_degrades(runs: Runs) -> bool:
        return runs.difference("side-plain56", "side-plain20", final_train_error).delta > 0

``make test`` evaluates every claim at the book's default budget (``tests/test_claims.py``): when new
runs change what the data say, it fails naming the sentence. A claim's sentence must appear, word
for word, in its chapter's Markdown.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...analysis.spread import Difference, Spread, difference
from ...runs.record import RunRecord
from ...runs.reference import RESULTS, stored_seeds


@dataclass(frozen=True)
class Claim:
    """A sentence of a chapter and the check that it holds on the stored runs."""

    chapter: str  # the notebook's name without .ipynb, e.g. "01_resnet"
    sentence: str  # as it stands in the chapter's Markdown
    check: Callable[[Runs], bool]

    def holds(self, runs: Runs) -> bool:
        return bool(self.check(runs))


class Runs:
    """The stored reference runs at one budget, as claims read them."""

    def __init__(self, budget: str = "quick", results: Path = RESULTS) -> None:
        self.budget, self.results = budget, results

    def seeds(self, run_id: str) -> list[RunRecord]:
        """Every stored seed of ``run_id`` that matches the code; a claim without them cannot hold."""
        found = stored_seeds(run_id, self.budget, self.results)
        if not found:
            raise LookupError(f"no stored run of {run_id} at budget {self.budget!r} in {self.results}")
        return found

    def spread(self, run_id: str, metric: Callable[[RunRecord], float]) -> Spread:
        """``metric`` of every stored seed of ``run_id``."""
        return Spread.of([metric(r) for r in self.seeds(run_id)])

    def difference(self, a: str, b: str, metric: Callable[[RunRecord], float]) -> Difference:
        """``metric`` of run ``a`` minus run ``b`` over their seeds (no test-set term: for training figures)."""
        return difference(self.spread(a, metric), self.spread(b, metric))

    def accuracy(self, run_id: str) -> Spread:
        """Test accuracy of every stored seed of ``run_id``, with seed 0's per-image results where stored."""
        seeds = self.seeds(run_id)
        return Spread.of([r.test["accuracy"] for r in seeds], seeds[0].correct)

    def accuracy_difference(self, a: str, b: str) -> Difference:
        """Test accuracy of run ``a`` minus run ``b``, paired on seed 0's stored predictions where both have them."""
        return difference(self.accuracy(a), self.accuracy(b), test_images=_test_images(self.seeds(a)[0]))


def final_train_error(record: RunRecord) -> float:
    """Training error in the last epoch (on the augmented batches, as He et al. plot it)."""
    return 1 - record.history.last["train_acc"]


def test_accuracy(record: RunRecord) -> float:
    return record.test["accuracy"]


CLAIMS: list[Claim] = []


def claim(chapter: str, sentence: str) -> Callable[[Callable[[Runs], bool]], Callable[[Runs], bool]]:
    """Register the decorated check as the claim that ``sentence`` of ``chapter`` makes."""

    def register(check: Callable[[Runs], bool]) -> Callable[[Runs], bool]:
        CLAIMS.append(Claim(chapter, sentence, check))
        return check

    return register


def all_claims() -> list[Claim]:
    """Every registered claim: each module of this package (one per chapter) imported."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return list(CLAIMS)


def failing(runs: Runs) -> list[str]:
    """One line for every claim that does not hold on ``runs`` (or cannot be checked), naming its sentence."""
    lines = []
    for c in all_claims():
        try:
            ok = c.holds(runs)
        except LookupError as missing:
            ok, why = False, str(missing)
        else:
            why = "the stored runs say otherwise"
        if not ok:
            lines.append(f'{c.chapter}: "{c.sentence}": {why}')
    return lines


def _test_images(record: RunRecord) -> int:
    """The test images a run was measured on: its stored predictions' number, else CIFAR-10's 10,000."""
    return len(record.correct or []) or 10_000
