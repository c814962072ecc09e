"""Command line: ``python -m cnnbook models | train | reproduce``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import budgets
from .checkpoint import CheckpointError
from .data import DataFormatError, DataNotFoundError, load_cifar10
from .models import count_parameters, get_model, list_models
from .train import TrainingDiverged, evaluate, fit, set_seed


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnnbook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list the model registry with parameter counts")
    train = sub.add_parser("train", help="train a registry model on CIFAR-10")
    train.add_argument("--model", required=True, choices=list_models(), metavar="NAME",
                       help=f"one of: {', '.join(list_models())}")
    train.add_argument("--budget", choices=list(budgets.BUDGETS), default=None,
                       help="smoke | quick | full (default: CNNBOOK_BUDGET, else quick on CPU, full on GPU)")
    train.add_argument("--epochs", type=positive_int)
    train.add_argument("--batch-size", type=positive_int)
    train.add_argument("--subset", type=positive_int, help="training images to use (default: budget's)")
    train.add_argument("--lr", type=positive_float, help="peak learning rate")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, type=Path, help="folder for history.json and checkpoint.pt")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.add_argument("--no-progress", action="store_true")
    repro = sub.add_parser("reproduce", help="train the book's reference runs into results/<budget>/")
    repro.add_argument("--budget", choices=list(budgets.BUDGETS), required=True)
    repro.add_argument("--only", nargs="+", metavar="NAME", help="model names or run ids to (re)train")
    repro.add_argument("--seed", type=int, default=0)
    repro.add_argument("--no-progress", action="store_true")
    return parser


def cmd_models() -> None:
    print(f"{'name':<16}{'parameters':>14}")
    for name in list_models():
        print(f"{name:<16}{count_parameters(get_model(name)):>14,}")


def cmd_train(args) -> None:
    cfg = budgets.get_budget(args.budget, epochs=args.epochs, batch_size=args.batch_size,
                             subset=args.subset, lr=args.lr)
    set_seed(args.seed)
    data = load_cifar10(subset=cfg.subset, val_subset=cfg.val_subset, test_subset=cfg.test_subset)
    model = get_model(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    history = fit(model, data.train, data.val, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                  seed=args.seed, checkpoint=args.out / "checkpoint.pt", resume=args.resume,
                  progress=not args.no_progress)
    minutes = (time.perf_counter() - t0) / 60
    test = evaluate(model, data.test)
    record = {"model": args.model, "budget": cfg.as_dict(), "seed": args.seed, "dataset": data.variant,
              "train_minutes_this_session": minutes, "test": test, **history.to_dict()}
    (args.out / "history.json").write_text(json.dumps(record, indent=1))
    print(f"{args.model}: test accuracy {100 * test['accuracy']:.2f}% after {len(history)} epochs; "
          f"wrote {args.out / 'history.json'} and {args.out / 'checkpoint.pt'}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "models":
            cmd_models()
        elif args.command == "train":
            cmd_train(args)
        elif args.command == "reproduce":
            from .reference import reproduce

            reproduce(args.budget, args.only, seed=args.seed, progress=not args.no_progress)
    except (ValueError, TypeError, DataNotFoundError, DataFormatError, CheckpointError, TrainingDiverged) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the last completed epoch's checkpoint is intact; rerun with --resume",
              file=sys.stderr)
        return 130
    return 0
