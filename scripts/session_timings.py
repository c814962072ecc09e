"""The timings of one GPU session (scripts/gpu_session.sh) as JSON on stdout: the wall time of the
parallel reproduce, and for every stored reference run trained on a GPU (quick and full) its minutes,
number format, epochs and test accuracy, from its stored files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cnnbook.runs.reference import RESULTS


def gpu_runs(results: Path) -> dict:
    """``{"<budget>/<folder>": {...}}`` for every stored run in ``results`` whose provenance names a CUDA device."""
    runs = {}
    for provenance in sorted(results.glob("*/*/provenance.json")):
        record = json.loads(provenance.read_text())
        if not str(record.get("device", "")).startswith("cuda"):  # "cuda:0"
            continue
        history = json.loads((provenance.parent / "history.json").read_text())
        runs[f"{provenance.parent.parent.name}/{provenance.parent.name}"] = {
            "wall_minutes": record.get("wall_minutes"),
            "precision": record.get("precision"),
            "epochs": len(history["records"]),
            "test_accuracy": history["test"]["accuracy"],
        }
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reproduce-seconds", type=float, required=True)
    parser.add_argument("--jobs", type=int, required=True)
    args = parser.parse_args()
    timings = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "reproduce": {"jobs": args.jobs, "wall_minutes": round(args.reproduce_seconds / 60, 2)},
        "runs": gpu_runs(RESULTS),
    }
    print(json.dumps(timings, indent=1))


if __name__ == "__main__":
    main()
