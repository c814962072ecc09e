"""Candidate side recipes for the degradation study: a few networks trained with one recipe, their
final training error (on the augmented batches, as He et al. plot it) and its curve, one JSON line each.

    python benchmarks/degradation_probe.py --models resnet20 resnet56 --subset 2000 --epochs 20 \\
        --batch-size 64 --lr 0.1 [--zero-init] [--seed 0] --out results/degradation_probe-cpu.jsonl

Run two at once with ``OMP_NUM_THREADS=1`` on a 2-core machine (one core each). ``--zero-init``
starts every residual branch at zero (the plain networks have none, and are built as usual).
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
from cnnbook.models import get_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--zero-init", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data = cnnbook.load_cifar10(val_subset=1000, seed=args.seed)
    recipe = cnnbook.Recipe(
        epochs=args.epochs, subset=args.subset, batch_size=args.batch_size, lr=args.lr, precision="fp32"
    )
    for name in args.models:
        cnnbook.set_seed(args.seed)
        zero = args.zero_init and not name.startswith("plain")
        model = get_model(name, **({"zero_init_residual": True} if zero else {}))
        started = time.perf_counter()
        history = cnnbook.fit(model, data.train, data.val, recipe, seed=args.seed, progress=False)
        record = {
            "model": name,
            "zero_init": zero,
            "seed": args.seed,
            "recipe": recipe.as_dict(),
            "minutes": round((time.perf_counter() - started) / 60, 2),
            "final_train_error": round(1 - history.last["train_acc"], 4),
            "train_error": [round(1 - a, 4) for a in history["train_acc"]],
            "train_loss": [round(v, 4) for v in history["train_loss"]],
            "machine": machine(),
        }
        print(json.dumps(record), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
