"""Run-to-run noise: a result over several seeds, and whether two results differ by more than their noise.

The book's one rule (explained on its page "Reading the results"): a difference between two means
is given with its 95 % confidence interval, ``delta ± t * se``, and counts as *resolved* when that
interval leaves out zero. ``se`` adds two sources of noise:

- the seeds: ``sd**2 / n`` for each side (training noise: initialisation, batch order, augmentation);
- for accuracies on a fixed test set, the test set's own sampling error. Two models scored on the
  *same* images are compared image by image (a paired comparison): the variance of the difference is
  ``(d - delta0**2) / images``, where ``d`` is the fraction of images exactly one of the two gets
  right. It is measured on seed 0's predictions (the seeds that keep weights, and every run from now
  on, store them) and used for the mean of the seeds too, where it is an upper bound. Without
  predictions the two sides count as independent, ``p (1 - p) / images`` each: wider.

``t`` is Student's quantile for the Welch-Satterthwaite degrees of freedom of that sum (the seed
terms have ``n - 1`` each; the test-set term counts as known): with three seeds a side it is about
2.8, not the normal 1.96. A difference that is not resolved is not "the same": three seeds could not
tell the two apart.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

LEVEL = 0.95  # the confidence level of every interval in the book


@dataclass(frozen=True, eq=False)
class Spread:
    """A result over seeds: the values, their mean and sample standard deviation, and optionally
    ``correct``, whether seed 0 classified each test image correctly (for paired comparisons)."""

    values: tuple[float, ...]
    correct: tuple[bool, ...] | None = None

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a spread needs at least one value")
        if not all(math.isfinite(v) for v in self.values):
            raise ValueError(f"a spread's values must be finite numbers, got {self.values}")

    @classmethod
    def of(cls, values: Sequence[float], correct: Sequence[bool] | None = None) -> Spread:
        return cls(tuple(float(v) for v in values), None if correct is None else tuple(bool(c) for c in correct))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        """The sample standard deviation (0 for a single value, whose spread is unknown)."""
        return statistics.stdev(self.values) if self.n > 1 else 0.0

    def format(self, scale: float = 100, digits: int = 1) -> str:
        """``"84.5 ± 0.2"`` (mean ± sd over the seeds, times ``scale``); one value alone as ``"84.5 (1 seed)"``."""
        if self.n == 1:
            return f"{self.mean * scale:.{digits}f} (1 seed)"
        return f"{self.mean * scale:.{digits}f} ± {self.sd * scale:.{digits}f}"

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """The ``level`` confidence interval of the mean over the seeds (Student's t, ``n - 1`` degrees of
        freedom); needs two seeds or more."""
        if self.n < 2:
            raise ValueError("an interval over seeds needs at least two seeds")
        half = stats.t.ppf(0.5 + level / 2, self.n - 1) * self.sd / math.sqrt(self.n)
        return self.mean - half, self.mean + half


@dataclass(frozen=True)
class Difference:
    """``a - b`` of two spreads, with the standard error of that difference and its interval."""

    a: Spread
    b: Spread
    test_images: int | None = None  # accuracies measured on this many fixed test images

    @property
    def delta(self) -> float:
        return self.a.mean - self.b.mean

    @property
    def paired(self) -> bool:
        """True when both sides carry seed 0's per-image results on the same ``test_images`` images."""
        a, b = self.a.correct, self.b.correct
        return bool(self.test_images) and a is not None and b is not None and len(a) == len(b) == self.test_images

    def _terms(self) -> list[tuple[float, float]]:
        """``(variance, degrees of freedom)`` of each noise source (``math.inf``: known exactly)."""
        terms = [(s.sd**2 / s.n, s.n - 1) for s in (self.a, self.b) if s.n > 1]
        if self.test_images:
            if self.paired:
                d = sum(x != y for x, y in zip(self.a.correct, self.b.correct)) / self.test_images
                delta0 = (sum(self.a.correct) - sum(self.b.correct)) / self.test_images
                terms.append((max(d - delta0**2, 0.0) / self.test_images, math.inf))
            else:
                terms.append((sum(s.mean * (1 - s.mean) for s in (self.a, self.b)) / self.test_images, math.inf))
        return terms

    @property
    def noise(self) -> float:
        """Standard error of the difference: seed spread (sides with 2+ seeds) plus test-set sampling."""
        return math.sqrt(sum(v for v, _ in self._terms()))

    @property
    def dof(self) -> float:
        """Welch-Satterthwaite degrees of freedom of :attr:`noise` (``math.inf`` when only the test set counts)."""
        terms = self._terms()
        total = sum(v for v, _ in terms)
        denominator = sum(v**2 / df for v, df in terms if math.isfinite(df))
        return math.inf if denominator == 0 else total**2 / denominator

    @property
    def seed_spread_known(self) -> bool:
        return self.a.n > 1 and self.b.n > 1

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """The ``level`` confidence interval of :attr:`delta`."""
        quantile = stats.norm.ppf(0.5 + level / 2) if math.isinf(self.dof) else stats.t.ppf(0.5 + level / 2, self.dof)
        half = quantile * self.noise
        return self.delta - half, self.delta + half

    @property
    def resolved(self) -> bool:
        """True when the interval leaves out zero (never when the noise is unknown)."""
        if self.noise == 0:
            return False
        low, high = self.interval()
        return low > 0 or high < 0

    def verdict(self, scale: float = 100, digits: int = 1) -> str:
        """``"95 % interval 1.1 to 3.1: resolved"`` or ``"... -0.4 to 2.0: not resolved by 3 seeds"``."""
        if self.noise == 0:
            return "noise unknown: one run each"
        low, high = (v * scale for v in self.interval())
        seeds = min(self.a.n, self.b.n)
        if self.resolved:
            outcome = "resolved"
        else:
            outcome = f"not resolved by {seeds} seed{'s' * (seeds > 1)}" if self.seed_spread_known else "not resolved"
        if not self.seed_spread_known:
            outcome += "; one seed, so test-set sampling only"
        elif self.test_images and not self.paired:
            outcome += "; test images counted as independent"
        return f"95 % interval {low:.{digits}f} to {high:.{digits}f}: {outcome}"

    def describe(
        self,
        name_a: str,
        name_b: str,
        *,
        higher: str = "higher than",
        lower: str = "lower than",
        unit: str = " points",
        scale: float = 100,
        digits: int = 1,
    ) -> str:
        """One clause: ``"resnet56 is 2.1 points lower than resnet20 (95 % interval -3.1 to -1.1: resolved)"``."""
        direction = higher if self.delta > 0 else lower
        size = f"{abs(self.delta) * scale:.{digits}f}{unit}"
        return f"{name_a} is {size} {direction} {name_b} ({self.verdict(scale, digits)})"


def difference(a: Sequence[float] | Spread, b: Sequence[float] | Spread, test_images: int | None = None) -> Difference:
    """The :class:`Difference` ``a - b`` of two results over seeds (``test_images``: for accuracies)."""
    return Difference(_spread(a), _spread(b), test_images)


def rank(
    results: dict[str, Sequence[float] | Spread], test_images: int | None = None, higher_is_better: bool = True
) -> list[tuple[int, str, Spread]]:
    """``(place, name, spread)`` best first; a result not resolved from the one above it shares its place."""
    spreads = {name: _spread(v) for name, v in results.items()}
    order = sorted(spreads, key=lambda n: spreads[n].mean, reverse=higher_is_better)
    ranked, place = [], 0
    for i, name in enumerate(order):
        if i == 0 or difference(spreads[order[i - 1]], spreads[name], test_images).resolved:
            place = i + 1
        ranked.append((place, name, spreads[name]))
    return ranked


def _spread(values: Sequence[float] | Spread) -> Spread:
    return values if isinstance(values, Spread) else Spread.of(values)
