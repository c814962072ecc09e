"""Horizontal-flip test-time augmentation on the stored reference runs: what it adds, what it costs.

Each chapter model's reference checkpoint classifies the test set twice, plainly and with
``evaluate(..., flip=True)`` (the logits of every image and its mirror image averaged), in the
same precision; the passes are interleaved over repeats and median times reported. No training:
the gain is measured on exactly the networks the chapters show.

    python benchmarks/flip_tta.py [--budget quick] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

import cnnbook  # noqa: E402
from cnnbook.runs.reference import CHAPTER_MODELS, load_reference  # noqa: E402


def timed_accuracy(model, split, flip: bool) -> tuple[float, float]:
    """Test accuracy and the seconds the pass took."""
    started = time.perf_counter()
    accuracy = cnnbook.evaluate(model, split, flip=flip)["accuracy"]
    return accuracy, time.perf_counter() - started


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="quick", help="the reference set whose checkpoints are evaluated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    test = cnnbook.load_cifar10().test
    results = {}
    for name in CHAPTER_MODELS:
        reference = load_reference(name, args.budget)
        if reference is None:
            print(f"{name}: no stored {args.budget} reference run; skipped", file=sys.stderr)
            continue
        model = reference.model()
        runs = {False: [], True: []}
        for _ in range(args.repeats):
            for flip in runs:
                runs[flip].append(timed_accuracy(model, test, flip))
        plain, flipped = runs[False][0][0], runs[True][0][0]  # deterministic: every repeat gives the same accuracy
        seconds = {flip: statistics.median(t for _, t in r) for flip, r in runs.items()}
        results[name] = {
            "accuracy": round(plain, 4),
            "accuracy_flip": round(flipped, 4),
            "gain_points": round(100 * (flipped - plain), 2),
            "seconds": round(seconds[False], 2),
            "seconds_flip": round(seconds[True], 2),
            "cost_ratio": round(seconds[True] / seconds[False], 2),
        }
    out = {"machine": machine(), "budget": args.budget, "test_images": len(test), "models": results}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        info = out["machine"]
        print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}; {len(test):,} test images")
        print(f"{'model':<18}{'plain':>8}{'flip TTA':>10}{'gain':>8}{'s plain':>9}{'s flip':>8}{'cost':>7}")
        for name, r in results.items():
            print(
                f"{name:<18}{100 * r['accuracy']:>7.2f}%{100 * r['accuracy_flip']:>9.2f}%{r['gain_points']:>+8.2f}"
                f"{r['seconds']:>9.1f}{r['seconds_flip']:>8.1f}{r['cost_ratio']:>6.2f}x"
            )
    return out


if __name__ == "__main__":
    main()
