"""Run-to-run noise: a result over several seeds, and whether two results differ by more than their noise.

A difference between two means counts as real here when it is larger than twice its noise, the
standard error of the difference: the seeds' spread (``sd**2 / n`` for each side) plus, for
accuracies measured on a fixed test set, that set's sampling error (``p (1 - p) / images`` for each
side, which more seeds do not average away). Two standard errors is a rule of thumb, not a
significance test: with three seeds a side it is a little lenient, and the pages say "within
noise" rather than "equal".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

FACTOR = 2.0  # a difference is larger than its noise when it exceeds FACTOR standard errors


@dataclass(frozen=True)
class Spread:
    """A result over seeds: the values, their mean and sample standard deviation."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a spread needs at least one value")
        if not all(math.isfinite(v) for v in self.values):
            raise ValueError(f"a spread's values must be finite numbers, got {self.values}")

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(tuple(float(v) for v in values))

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
        """``"84.5 ± 0.2"`` (mean ± sd, times ``scale``); a single value alone, as ``"84.5 (1 seed)"``."""
        if self.n == 1:
            return f"{self.mean * scale:.{digits}f} (1 seed)"
        return f"{self.mean * scale:.{digits}f} ± {self.sd * scale:.{digits}f}"


@dataclass(frozen=True)
class Difference:
    """``a - b`` of two spreads, with the standard error of that difference."""

    a: Spread
    b: Spread
    test_images: int | None = None  # accuracies measured on this many fixed test images

    @property
    def delta(self) -> float:
        return self.a.mean - self.b.mean

    @property
    def noise(self) -> float:
        """Standard error of the difference: seed spread (sides with 2+ seeds) plus test-set sampling."""
        variance = sum(s.sd**2 / s.n for s in (self.a, self.b) if s.n > 1)
        if self.test_images:
            variance += sum(s.mean * (1 - s.mean) / self.test_images for s in (self.a, self.b))
        return math.sqrt(variance)

    @property
    def seed_spread_known(self) -> bool:
        return self.a.n > 1 and self.b.n > 1

    @property
    def exceeds_noise(self) -> bool:
        """True when ``|delta|`` exceeds :data:`FACTOR` standard errors (never when the noise is unknown)."""
        return self.noise > 0 and abs(self.delta) > FACTOR * self.noise

    def verdict(self, scale: float = 100, digits: int = 1) -> str:
        """``"larger than its noise (± 0.3)"`` or ``"within noise (± 0.3)"``, saying what the noise counts."""
        if self.noise == 0:
            return "noise unknown: one run each"
        noise = f"± {self.noise * scale:.{digits}f}"
        caveat = "" if self.seed_spread_known else ", test-set sampling only: one seed"
        return f"{'larger than' if self.exceeds_noise else 'within'} its noise ({noise}{caveat})"

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
        """One clause: ``"resnet56 is 2.1 points lower than resnet20, larger than its noise (± 0.4)"``."""
        direction = higher if self.delta > 0 else lower
        size = f"{abs(self.delta) * scale:.{digits}f}{unit}"
        return f"{name_a} is {size} {direction} {name_b}, {self.verdict(scale, digits)}"


def difference(a: Sequence[float] | Spread, b: Sequence[float] | Spread, test_images: int | None = None) -> Difference:
    """The :class:`Difference` ``a - b`` of two results over seeds (``test_images``: for accuracies)."""
    return Difference(_spread(a), _spread(b), test_images)


def rank(
    results: dict[str, Sequence[float] | Spread], test_images: int | None = None, higher_is_better: bool = True
) -> list[tuple[int, str, Spread]]:
    """``(place, name, spread)`` best first; a result within noise of the one above it shares its place."""
    spreads = {name: _spread(v) for name, v in results.items()}
    order = sorted(spreads, key=lambda n: spreads[n].mean, reverse=higher_is_better)
    ranked, place = [], 0
    for i, name in enumerate(order):
        if i == 0 or difference(spreads[order[i - 1]], spreads[name], test_images).exceeds_noise:
            place = i + 1
        ranked.append((place, name, spreads[name]))
    return ranked


def _spread(values: Sequence[float] | Spread) -> Spread:
    return values if isinstance(values, Spread) else Spread.of(values)
