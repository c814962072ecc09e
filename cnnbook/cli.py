"""Command line: ``python -m cnnbook models | train | reproduce | sweep | runs | config``.

``torchrun --nproc_per_node=N -m cnnbook train ...`` trains data-parallel over N processes.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from . import settings
from .book.sweep import SweepError
from .data import DataFormatError, DataNotFoundError, load_cifar10
from .models import count_parameters, get_model, list_models
from .runs import budgets, rundir
from .runs.record import git_commit, provenance, write_record
from .runs.rundir import RunDirError
from .runs.studies import list_studies
from .runs.yours import RunsFolderError
from .storage import CheckpointError
from .training import distributed
from .training.device import PRECISIONS, default_device
from .training.evaluation import evaluate_with_flip
from .training.loop import TrainingDiverged, train_model
from .training.recipe import RecipeError, check_value, recipe_for


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def recipe_value(field: str, parse=int):
    """An argparse type for the recipe's ``field``, checked by the recipe's own rule (:data:`RULES`)."""

    def check(text: str):
        value = parse(text)
        try:
            check_value(field, value)
        except RecipeError as exc:
            raise argparse.ArgumentTypeError(f"must be {exc.rule}, got {text}") from None
        return value

    check.__name__ = parse.__name__  # argparse's "invalid int value: 'x'"
    return check


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnnbook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list the model registry with parameter counts")
    train = sub.add_parser("train", help="train a registry model on CIFAR-10")
    train.add_argument(
        "--model", required=True, choices=list_models(), metavar="NAME", help=f"one of: {', '.join(list_models())}"
    )
    train.add_argument(
        "--budget",
        choices=list(budgets.BUDGETS),
        default=None,
        help="smoke | quick | full (default: CNNBOOK_BUDGET, else quick on CPU, full on GPU)",
    )
    train.add_argument("--epochs", type=recipe_value("epochs"))
    train.add_argument("--batch-size", type=recipe_value("batch_size"))
    train.add_argument("--subset", type=recipe_value("subset"), help="training images to use (default: budget's)")
    train.add_argument("--lr", type=recipe_value("lr", float), help="peak learning rate")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, type=Path, help="folder for history.json and checkpoint.pt")
    reuse = train.add_mutually_exclusive_group()
    reuse.add_argument("--resume", action="store_true", help="continue the unfinished run in OUT")
    reuse.add_argument("--overwrite", action="store_true", help="delete the run already in OUT and train anew")
    train.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto (bf16 autocast where the hardware has it), bf16 or fp32",
    )
    train.add_argument("--no-progress", action="store_true")
    repro = sub.add_parser("reproduce", help="train the book's reference runs into results/<budget>/")
    repro.add_argument("--budget", choices=list(budgets.BUDGETS), required=True)
    repro.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run ids to (re)train (resnet20, side-plain56: every seed; side-plain56.seed2: one) or a study: "
        + ", ".join(study.kind for study in list_studies()),
    )
    repro.add_argument(
        "--seeds", type=int, nargs="+", metavar="SEED", help="only these seeds (default: every seed the budget stores)"
    )
    repro.add_argument(
        "--missing", action="store_true", help="only the runs without a stored result that matches the code"
    )
    repro.add_argument("--no-progress", action="store_true")
    repro.add_argument(
        "--jobs", type=positive_int, default=1, help="train up to N runs at once, each its own process and log"
    )
    sweep = sub.add_parser("sweep", help="run a chapter notebook over a parameter grid with papermill")
    sweep.add_argument("notebook", type=Path)
    sweep.add_argument(
        "-p",
        "--param",
        nargs="+",
        action="append",
        required=True,
        metavar=("NAME", "VALUE"),
        help="a parameter and its values, e.g. -p MODEL resnet20 resnet32 (repeat for a grid)",
    )
    sweep.add_argument("--budget", choices=list(budgets.BUDGETS), default="smoke")
    sweep.add_argument("--out", type=Path, required=True, help="folder for the executed notebooks and results")
    again = sweep.add_mutually_exclusive_group()
    again.add_argument("--overwrite", action="store_true", help="replace the sweep results already in OUT")
    again.add_argument(
        "--resume", action="store_true", help="keep the finished runs of the sweep in OUT and run the others"
    )
    kept = sub.add_parser("runs", help="list your runs (the models the chapters trained here), or remove some")
    kept.add_argument("--remove", nargs="+", metavar="NAME", help="remove these runs (NAME as the list shows it)")
    config = sub.add_parser("config", help="print every setting as resolved here, and where each came from")
    config.add_argument("--json", action="store_true", help="as JSON: {setting: {value, from}}")
    return parser


def parse_grid(params: list[list[str]]) -> dict[str, list]:
    """``[["MODEL", "resnet20", "resnet32"], ["EPOCHS", "2"]]`` -> ``{"MODEL": [...], "EPOCHS": [2]}``."""
    grid = {}
    for name, *values in params:
        if not values:
            raise ValueError(f"parameter {name} has no values")
        grid[name] = [_literal(v) for v in values]
    return grid


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def cmd_models() -> None:
    print(f"{'name':<16}{'parameters':>14}")
    for name in list_models():
        print(f"{name:<16}{count_parameters(get_model(name)):>14,}")


def resolved_settings() -> dict:
    """Every setting (:mod:`cnnbook.settings`), the default budget and the device resolved:
    ``{setting: {"value": ..., "from": ...}}``."""
    resolved = settings.current().as_dict()
    device = default_device()
    if resolved["budget"]["value"] is None:
        name, why = budgets.default_budget_for(device)
        resolved["budget"] = {"value": name, "from": f"default (CNNBOOK_BUDGET unset): {why}"}
    resolved["device"] = {"value": str(device), "from": "the fastest one available"}
    return resolved


def cmd_config(args) -> None:
    resolved = resolved_settings()
    if args.json:
        print(json.dumps(resolved, indent=2))
        return
    width = max(len(str(s["value"])) for s in resolved.values())
    print(f"{'setting':<14}{'value':<{width + 2}}from")
    for name, s in resolved.items():
        print(f"{name:<14}{str(s['value']):<{width + 2}}{s['from']}")


def cmd_runs(args) -> None:
    from .runs import yours

    if args.remove:
        for name in yours.remove(args.remove):
            print(f"removed {name}")
    runs = yours.list_runs()
    print(f"your runs in {yours.runs_dir()} (CNNBOOK_RUNS moves them):")
    if not runs:
        print("  none yet: a chapter keeps every model it trains here")
    for r in runs:
        accuracy = f"{r.accuracy:.1%} {r.measured_on}" if r.accuracy is not None else "unfinished"
        finished = yours.when(r.finished) if r.finished else f"{r.epochs} epochs done"
        print(f"  {r.name:<44} {r.model:<16} seed {r.seed}  {accuracy:<12} {finished:<14} {r.size / 2**20:6.1f} MB")
    total = sum(r.size for r in runs)
    print(f"{total / 2**20:.1f} MB of {yours.max_bytes() / 2**20:.0f} MB (CNNBOOK_RUNS_MAX_MB); oldest removed first")


def cmd_train(args) -> None:
    # Under torchrun only rank 0 writes, so only it owns the folder.
    owner = int(os.environ.get("RANK", "0")) == 0
    with rundir.claim(args.out, resume=args.resume, overwrite=args.overwrite) if owner else nullcontext():
        _train(args)


def _train(args) -> None:
    cfg = budgets.get_budget(
        args.budget, epochs=args.epochs, batch_size=args.batch_size, subset=args.subset, lr=args.lr
    )
    recipe = cfg.chapter.with_(precision=args.precision)
    ctx = distributed.init_from_env(default_device())
    try:
        with distributed.main_process_first():
            data = load_cifar10(subset=recipe.subset, val_subset=cfg.val_subset, test_subset=cfg.test_subset)
        recipe.check_trains_on(len(data.train))
        t0 = time.perf_counter()
        model, history = train_model(
            args.model,
            recipe,
            data,
            seed=args.seed,
            checkpoint=args.out / "checkpoint.pt",
            resume=args.resume,
            progress=not args.no_progress,
        )
        minutes = (time.perf_counter() - t0) / 60
        test = evaluate_with_flip(model, data.test, precision=args.precision)
    finally:
        distributed.shutdown()
    if not ctx.is_main:
        return
    about = provenance(cfg.name, recipe_for(args.model, recipe), args.seed, 60 * minutes, data.variant,
                       default_device(), git_commit(), run={"model": args.model, "kind": "train"},
                       processes=ctx.world_size)  # fmt: skip
    write_record(args.out, args.model, history, test, about)
    print(
        f"{args.model}: test accuracy {100 * test['accuracy']:.2f}% ({100 * test['flip_accuracy']:.2f}% with flip) "
        f"after {len(history)} epochs "
        f"({ctx.world_size} process{'es' if ctx.enabled else ''}, {minutes:.1f} min); "
        f"wrote {args.out / 'history.json'} and {args.out / 'checkpoint.pt'}"
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler, a closing session) stops a command as Ctrl-C does: every
    ``finally`` runs, so locks are released, and the stored runs stay as they were."""


def _terminate(signum, frame) -> None:
    raise Terminated


@contextmanager
def _sigterm_interrupts():
    """While the command runs, SIGTERM raises :class:`Terminated` (in the main thread, where Python
    delivers signals); the previous handler is put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with _sigterm_interrupts():
        return _run(args)


def _run(args) -> int:
    try:
        if args.command == "models":
            cmd_models()
        elif args.command == "train":
            cmd_train(args)
        elif args.command == "reproduce" and args.jobs > 1:
            from .runs import jobs

            try:
                jobs.reproduce_in_parallel(args.budget, args.only, args.jobs, seeds=args.seeds, missing=args.missing)
            except jobs.JobsFailed as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
        elif args.command == "reproduce":
            from .runs.reproduce import reproduce

            reproduce(args.budget, args.only, seeds=args.seeds, progress=not args.no_progress, missing=args.missing)
        elif args.command == "runs":
            cmd_runs(args)
        elif args.command == "config":
            cmd_config(args)
        elif args.command == "sweep":
            from .book.sweep import SWEEP_FILES, run_sweep

            if not args.notebook.exists():
                raise ValueError(f"no notebook at {args.notebook}")
            outputs = () if args.resume else SWEEP_FILES  # resuming: the results there are this sweep's own
            with rundir.claim(args.out, overwrite=args.overwrite, outputs=outputs):
                run_sweep(args.notebook, parse_grid(args.param), args.out, budget=args.budget, resume=args.resume)
            print(f"wrote {args.out / 'results.md'} and {args.out / 'results.png'}")
    except (
        ValueError,
        TypeError,
        DataNotFoundError,
        DataFormatError,
        CheckpointError,
        TrainingDiverged,
        RunDirError,
        RunsFolderError,
        SweepError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        if args.command == "sweep":
            kept = f"the finished runs' results, if any, are in {args.out / 'results.md'}; --resume keeps them"
        elif args.command == "reproduce":
            kept = "every stored run is unchanged; the same command resumes the interrupted runs at their last epoch"
        else:
            kept = "the last completed epoch's checkpoint is intact; rerun with --resume"
        how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"{how}: {kept}", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
    return 0
