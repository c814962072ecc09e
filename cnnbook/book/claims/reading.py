"""Claims of the page "Reading the results" (notebooks/00_reading_results.ipynb)."""

from ...analysis.spread import Spread, difference
from . import Runs, claim

PAIRS = (("googlenet_cifar", "resnet20"), ("resnet20", "densenet_cifar"))


@claim("00_reading_results", "The paired interval is the narrower one")
def paired_is_narrower(runs: Runs) -> bool:
    for a, b in PAIRS:
        paired = runs.accuracy_difference(a, b)
        unpaired = difference(Spread.of(paired.a.values), Spread.of(paired.b.values), paired.test_images)
        if not (paired.paired and paired.noise < unpaired.noise):
            return False
    return True
