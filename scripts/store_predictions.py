"""Store the test-set predictions of stored reference runs that keep weights but have none yet
(runs made before predictions were stored), and check them against each run's recorded accuracy.

    CNNBOOK_DATA=../shared/data python scripts/store_predictions.py [--budgets quick full] [--only resnet20 ...]

Runs trained from now on store their predictions themselves (``reproduce``).
"""

from __future__ import annotations

import argparse

import cnnbook
from cnnbook.runs.budgets import get_budget
from cnnbook.runs.record import PREDICTIONS, write_predictions
from cnnbook.runs.reference import RESULTS, matching_reference, reference_runs
from cnnbook.training.evaluation import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", default=["quick", "full"])
    parser.add_argument("--only", nargs="+", help="run ids (default: every run that keeps weights)")
    args = parser.parse_args()
    data = cnnbook.load_cifar10()
    for budget in args.budgets:
        for spec in reference_runs(get_budget(budget)):
            ref, _ = matching_reference(spec, budget)
            if ref is None or not (ref.path / "checkpoint.pt").exists() or (ref.path / PREDICTIONS).exists():
                continue
            if ref.path.parent.parent != RESULTS:  # one that reproduce stored outside the package
                continue
            if "num_classes" in spec.builder or (args.only and spec.run_id not in args.only):
                continue  # num_classes: the class-transfer model, not a ten-class classifier
            result = evaluate(ref.model(), data.test, precision="fp32", predictions=True)
            write_predictions(ref.path, result["predictions"], data.test.labels)
            accuracy = f"{result['accuracy']:.2%} (fp32 here) against {ref.test['accuracy']:.2%} recorded"
            print(f"{budget}/{spec.folder}: stored {len(result['predictions']):,} predictions; {accuracy}", flush=True)


if __name__ == "__main__":
    main()
