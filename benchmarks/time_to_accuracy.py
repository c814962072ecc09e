"""Wall-clock minutes for resnet20 to reach a validation accuracy: book recipe vs source recipe.

Book:   uint8 batches with crop+flip, channels-last, batch 256, SGD Nesterov (wd 5e-4),
        one-cycle to lr 0.4 over 8 epochs (--epochs), label smoothing 0.1, bf16 autocast
        where the CPU has native bf16 (precision="auto").
Source: SGD lr 0.001 momentum 0.9, no augmentation, no schedule, no weight decay, batch 64,
        fp32. Both read the same data the same way; only the recipe differs. The clock includes the
per-epoch validation pass. The source recipe runs for as long as the book needed (or
--minutes) and its accuracy at equal time is reported.

    python benchmarks/time_to_accuracy.py [--target 0.80] [--minutes 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

import cnnbook  # noqa: E402

RECIPES = {
    "book": cnnbook.Recipe(epochs=8),  # --epochs sets the length of its one-cycle schedule
    "source": cnnbook.Recipe(
        epochs=1000,  # no schedule: it runs until the time is up
        batch_size=64,
        lr=0.001,
        optimizer="sgd-classic",
        weight_decay=0.0,
        label_smoothing=0.0,
        schedule="constant",
        augment=False,
        precision="fp32",
    ),
}


def run(recipe: str, data, epochs: int, target: float, minutes: float) -> dict:
    cnnbook.set_seed(0)
    model = cnnbook.get_model("resnet20")
    start = time.perf_counter()
    trace = []

    def clock(history):
        elapsed = (time.perf_counter() - start) / 60
        trace.append({"epoch": len(history), "minutes": round(elapsed, 3), "val_acc": history.last["val_acc"]})
        return history.last["val_acc"] >= target or elapsed >= minutes

    cnnbook.fit(model, data.train, data.val, RECIPES[recipe].with_(epochs=epochs), progress=False, callbacks=[clock])
    reached = next((t for t in trace if t["val_acc"] >= target), None)
    return {
        "recipe": recipe,
        "reached_target": reached is not None,
        "minutes_to_target": reached["minutes"] if reached else None,
        "final_val_acc": trace[-1]["val_acc"],
        "minutes": trace[-1]["minutes"],
        "trace": trace,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.80)
    parser.add_argument("--minutes", type=float, default=15.0, help="time allowed to each recipe")
    parser.add_argument("--epochs", type=int, default=8, help="length of the book's one-cycle schedule")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data = cnnbook.load_cifar10()
    book = run("book", data, args.epochs, args.target, args.minutes)
    allowed = book["minutes_to_target"] or args.minutes
    source = run("source", data, 1000, args.target, allowed)
    out = {"machine": machine(), "target": args.target, "book": book, "source": source}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for r in (book, source):
            if r["reached_target"]:
                minutes = r["minutes_to_target"]
                print(f"{r['recipe']:<7} reached {args.target:.0%} validation accuracy in {minutes:.1f} min")
            else:
                print(
                    f"{r['recipe']:<7} did not reach {args.target:.0%}; {r['final_val_acc']:.1%} after "
                    f"{r['minutes']:.1f} min"
                )
    return out


if __name__ == "__main__":
    main()
