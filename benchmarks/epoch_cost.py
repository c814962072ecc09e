"""What a training epoch costs at full size and at a recipe's small size, per chapter model.

Each measurement is one ``cnnbook.fit`` epoch over the same images, at 32 px or as the small first
epoch of a two-epoch recipe (scaled to ``--size`` px), then one validation pass over the 5,000 validation
images; the two sizes alternate over repeats (32, small, 32, small, ...) and medians are
reported, so a machine whose speed drifts during a long run still gives a fair ratio. From
them it projects a whole run: ``--epochs`` of which ``--small-epochs`` small, against
``--baseline-epochs`` at full size, validation after every epoch included. ``--source-recipe`` also
times an epoch of the source text's recipe (batch 64, 32 px: ``cnnbook.runs.studies.source.SOURCE_RECIPE``) and
projects its run of ``--epochs``, as the ``source-resnet18`` reference run trains.

    python benchmarks/epoch_cost.py [--models resnet20] [--size 24] [--epochs 14 --small-epochs 10]
        [--source-recipe] [--json]
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
from cnnbook.runs.reference import CHAPTER_MODELS  # noqa: E402
from cnnbook.runs.studies.source import SOURCE_RECIPE  # noqa: E402


def epoch_seconds(name: str, train, val, recipe) -> tuple[float, float]:
    """Seconds of one training epoch with ``recipe`` and of one validation pass."""
    cnnbook.set_seed(0)
    model = cnnbook.get_model(name)
    history = cnnbook.fit(model, train, None, recipe, progress=False, callbacks=[lambda h: True])  # one epoch
    started = time.perf_counter()
    cnnbook.evaluate(model, val)
    return history.last["seconds"], time.perf_counter() - started


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(CHAPTER_MODELS))
    parser.add_argument("--size", type=int, default=24, help="the small training size in pixels")
    parser.add_argument("--images", type=int, default=2560, help="training images per measured epoch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-epochs", type=int, default=15, help="the projected baseline: epochs, all full size")
    parser.add_argument("--epochs", type=int, default=14, help="the projected candidate's epochs")
    parser.add_argument("--small-epochs", type=int, default=10, help="how many of them are small")
    parser.add_argument("--source-recipe", action="store_true", help="also time the source's recipe")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data = cnnbook.load_cifar10()
    train, val = data.train.take(args.images), data.val
    full = cnnbook.get_budget("quick").chapter.with_(epochs=1)
    # a small epoch is the first of two (a recipe's last epoch is full size); timing stops after it
    recipes = {"full": full, "small": full.with_(epochs=2, small_epochs=1, small_size=args.size)}
    if args.source_recipe:
        recipes["source"] = full.with_(**SOURCE_RECIPE)
    scale = len(data.train) / args.images  # measured epoch -> an epoch over the whole training split
    results = {}
    for name in args.models:
        epoch_seconds(name, train.take(min(512, len(train))), val.take(500), full)  # warm-up: allocator, kernels
        runs = {kind: [] for kind in recipes}
        for _ in range(args.repeats):
            for kind, recipe in recipes.items():
                runs[kind].append(epoch_seconds(name, train, val, recipe))
        epoch = {kind: scale * statistics.median(t for t, _ in r) for kind, r in runs.items()}
        val_s = statistics.median(v for r in runs.values() for _, v in r)
        baseline = args.baseline_epochs * (epoch["full"] + val_s)
        candidate = args.small_epochs * epoch["small"] + (args.epochs - args.small_epochs) * epoch["full"]
        candidate += args.epochs * val_s
        results[name] = {
            "epoch_seconds": {kind: round(s, 1) for kind, s in epoch.items()},
            **({"source_minutes": round(args.epochs * (epoch["source"] + val_s) / 60, 1)} if "source" in epoch else {}),
            "small_vs_full": round(epoch["small"] / epoch["full"], 3),
            "validation_seconds": round(val_s, 1),
            "baseline_minutes": round(baseline / 60, 1),
            "candidate_minutes": round(candidate / 60, 1),
            "candidate_vs_baseline": round(candidate / baseline, 3),
            "runs": {kind: [[round(t, 2), round(v, 2)] for t, v in r] for kind, r in runs.items()},
        }
    out = {"machine": machine(), "size": args.size, "images": args.images, "repeats": args.repeats,
           "baseline": {"epochs": args.baseline_epochs},
           "candidate": {"epochs": args.epochs, "small_epochs": args.small_epochs}, "models": results}  # fmt: skip
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for name, r in results.items():
            print(f"{name:<16} epoch {r['epoch_seconds']['full']:.0f} s at 32 px, {r['epoch_seconds']['small']:.0f} s "
                  f"at {args.size} px ({r['small_vs_full']:.2f}x), validation {r['validation_seconds']:.0f} s; "
                  f"{args.epochs} epochs ({args.small_epochs} small) {r['candidate_minutes']:.0f} min vs "
                  f"{args.baseline_epochs} at 32 px {r['baseline_minutes']:.0f} min "
                  f"({r['candidate_vs_baseline']:.2f}x)")  # fmt: skip
            if "source_minutes" in r:
                print(f"{'':<16} the source's recipe: epoch {r['epoch_seconds']['source']:.0f} s at 32 px, batch 64; "
                      f"{args.epochs} epochs {r['source_minutes']:.0f} min")  # fmt: skip
    return out


if __name__ == "__main__":
    main()
