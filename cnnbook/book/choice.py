"""Which run a page shows: your own run, the stored reference run, or one trained here.

The one place the chapters, their side experiments and the transfer experiment decide this;
:mod:`cnnbook.book.shown` presents what was decided and :mod:`cnnbook.book.chapter` acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..runs import yours
from ..runs.budgets import Budget
from ..runs.record import RunRecord
from ..runs.reference import RunSpec, matching_reference


@dataclass(frozen=True)
class Choice:
    """What a chapter does for one run: show your own run, show the stored reference run, or train."""

    shown: RunRecord | None  # the run to show; None: train it here
    yours: bool  # ``shown`` is your run (cnnbook.runs.yours), not a stored reference
    why: str  # the reference's summary, or why the run trains ("TRAIN = True", or why no reference matches)
    reference: RunRecord | None  # the matching stored reference run, drawn beside yours


def choose(spec: RunSpec, budget: str, train: bool = False, train_name: str = "TRAIN") -> Choice:
    """Unless ``train``: your own run of exactly ``spec`` if you trained one, else the stored
    reference run that matches it; with neither (or ``train``, the parameter ``train_name``), train it
    here."""
    reference, why = matching_reference(spec, budget)
    if train:
        return Choice(None, False, f"{train_name} = True", reference)
    kept = yours.find(spec, budget)
    if kept is not None:
        return Choice(kept, True, why, reference)
    return Choice(reference, False, why, reference)


def budget_showing_most(specs_at, budgets: list[Budget]) -> Budget:
    """Of ``budgets``, the one whose runs ``specs_at(budget)`` a page can show the most of without
    training (yours or stored); on a tie of stored runs, ``full`` (longer training) first, else the first."""

    def rank(budget: Budget) -> tuple[int, bool]:
        shown = sum(choose(spec, budget.name).shown is not None for spec in specs_at(budget))
        return shown, shown > 0 and budget.name == "full"

    return max(budgets, key=rank)
