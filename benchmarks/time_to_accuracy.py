"""Wall-clock minutes for resnet20 to reach a validation accuracy: book recipe vs source recipe.

With ``--compare``, whole runs of named recipes (of resnet20 or ``--model``) instead (such as the book's ``quick`` and
the recipe it replaced), one after the other: wall time of training with per-epoch validation, then
test accuracy on the 10,000 test images single view and with flip test-time augmentation, each
pass timed, so "minutes to 85 % test accuracy" includes its evaluation.

Book:   uint8 batches with crop+flip, channels-last, batch 256, SGD Nesterov (wd 5e-4),
        one-cycle to lr 0.4 over 8 epochs (--epochs), label smoothing 0.1, bf16 autocast
        where the CPU has native bf16 (precision="auto").
Source: SGD lr 0.001 momentum 0.9, no augmentation, no schedule, no weight decay, batch 64,
        fp32. Both read the same data the same way; only the recipe differs. The clock includes the
per-epoch validation pass. The source recipe runs for as long as the book needed (or
--minutes) and its accuracy at equal time is reported.

    python benchmarks/time_to_accuracy.py [--target 0.80] [--minutes 15] [--json]
    python benchmarks/time_to_accuracy.py --compare quick-before quick [--model resnet20] [--target 0.85] [--json]
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
from cnnbook.runs.studies.source import SOURCE_RECIPE  # noqa: E402

RECIPES = {
    "book": cnnbook.Recipe(epochs=8),  # --epochs sets the length of its one-cycle schedule
    # the textbook recipe, with no schedule: it runs until the time is up
    "source": cnnbook.Recipe(epochs=1000, precision="fp32").with_(**SOURCE_RECIPE),
    # the chapters' recipe: 14 epochs, the first 10 on images scaled to 24 px (0.56 of the pixels)
    "quick": cnnbook.get_budget("quick").chapter,
    "quick-before": cnnbook.Recipe(epochs=15),  # the quick recipe until small early epochs: 15 at 32 px
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


def whole_run(recipe: str, data, target: float, model_name: str) -> dict:
    """Train ``model_name`` with RECIPES[recipe] to the end, then test it plainly and with flip, each timed."""
    cnnbook.set_seed(0)
    model = cnnbook.get_model(model_name)
    start = time.perf_counter()

    def report(history):
        r = history.last
        print(f"{recipe} epoch {r['epoch']}: val {r['val_acc']:.4f}, {r['seconds']:.0f} s", file=sys.stderr, flush=True)

    history = cnnbook.fit(model, data.train, data.val, RECIPES[recipe], progress=False, callbacks=[report])
    train_minutes = (time.perf_counter() - start) / 60
    out = {"model": model_name, "recipe": recipe, "settings": RECIPES[recipe].as_dict()}
    out["train_minutes"] = round(train_minutes, 2)
    for view, flip in (("single", False), ("flip", True)):
        started = time.perf_counter()
        accuracy = cnnbook.evaluate(model, data.test, flip=flip)["accuracy"]
        minutes = train_minutes + (time.perf_counter() - started) / 60
        out[view] = {"test_acc": round(accuracy, 4), "minutes": round(minutes, 2), "reached_target": accuracy >= target}
    out["epochs"] = [{k: round(r[k], 4) for k in ("epoch", "seconds", "val_acc")} for r in history.records]
    return out


def compare(names: list[str], target: float, model_name: str) -> dict:
    data = cnnbook.load_cifar10()
    runs = [whole_run(name, data, target, model_name) for name in names]
    base = runs[0]
    for run_ in runs:
        for view in ("single", "flip"):
            run_[view]["time_vs_first"] = round(run_[view]["minutes"] / base["single"]["minutes"], 3)
    return {"machine": machine(), "target": target, "runs": runs}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.80)
    parser.add_argument("--minutes", type=float, default=15.0, help="time allowed to each recipe")
    parser.add_argument("--epochs", type=int, default=8, help="length of the book's one-cycle schedule")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--compare", nargs="+", choices=sorted(RECIPES), help="whole runs of these recipes")
    parser.add_argument("--model", default="resnet20", help="the registry model of the --compare runs")
    args = parser.parse_args(argv)
    if args.compare:
        out = compare(args.compare, args.target, args.model)
        for r in out["runs"]:
            for view in ("single", "flip"):
                v = r[view]
                print(f"{r['recipe']:<12} {view:<6} {v['test_acc']:.2%} test in {v['minutes']:.1f} min "
                      f"({v['time_vs_first']:.2f}x)", file=sys.stderr if args.json else sys.stdout)  # fmt: skip
        if args.json:
            print(json.dumps(out, indent=1))
        return out
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
