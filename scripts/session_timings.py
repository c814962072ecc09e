"""The timings of one GPU session (scripts/gpu_session.sh) as JSON on stdout.

The `full` reference set: wall time of the parallel reproduce, and each run's minutes and test
accuracy from its stored files. ResNet-18: the epoch and minutes at which it first reached 94 %
validation accuracy, and its final test accuracy (from history.json, or from the last
checkpoint when its time limit stopped it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cnnbook.runs.reference import RESULTS
from cnnbook.training.checkpoint import load_checkpoint

TARGET = 0.94


def reference_runs(results: Path) -> dict:
    runs = {}
    for provenance in sorted(results.glob("full/*/provenance.json")):
        record = json.loads(provenance.read_text())
        history = json.loads((provenance.parent / "history.json").read_text())
        runs[provenance.parent.name] = {
            "wall_minutes": record.get("wall_minutes"),
            "precision": record.get("precision"),
            "epochs": len(history["records"]),
            "test_accuracy": history["test"]["accuracy"],
        }
    return runs


def time_to_target(run: Path) -> dict:
    if (run / "history.json").exists():
        record = json.loads((run / "history.json").read_text())
        records, test = record["records"], record["test"]["accuracy"]
    elif (run / "checkpoint.pt").exists():
        records, test = load_checkpoint(run / "checkpoint.pt")["history"]["records"], None
    else:
        return {"finished": False, "epochs": 0}
    elapsed, reached = 0.0, None
    for r in records:
        elapsed += r["seconds"]
        if reached is None and r.get("val_acc", 0) >= TARGET:
            reached = {"epoch": r["epoch"], "minutes": round(elapsed / 60, 2)}
    return {
        "finished": test is not None,
        "epochs": len(records),
        "train_minutes": round(elapsed / 60, 2),
        "best_val_accuracy": max((r.get("val_acc", 0) for r in records), default=None),
        "test_accuracy": test,
        f"first_val_{TARGET:.0%}": reached,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reproduce-seconds", type=float, required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--resnet18", type=Path, required=True, help="the ResNet-18 run's --out folder")
    parser.add_argument("--resnet18-seconds", type=float, required=True)
    args = parser.parse_args()
    timings = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "reproduce_full": {
            "jobs": args.jobs,
            "wall_minutes": round(args.reproduce_seconds / 60, 2),
            "runs": reference_runs(RESULTS),
        },
        "resnet18": {"wall_minutes": round(args.resnet18_seconds / 60, 2), **time_to_target(args.resnet18)},
    }
    print(json.dumps(timings, indent=1))


if __name__ == "__main__":
    main()
