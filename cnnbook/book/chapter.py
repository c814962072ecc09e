"""What every chapter does: resolve the budget, load the data, then show a stored reference run when
one matches what the chapter would train, or train live with its curves drawn as it goes.

The jobs are apart: :mod:`.choice` decides which run to show, :func:`obtain` acts on that
(training the run here when it must), :mod:`.shown` is the run as a page shows it, :mod:`.log`
the build log and progress bars. The functions below are what the notebooks call.
"""

from __future__ import annotations

import torch
from IPython.display import display

from ..data import CIFAR10, load_cifar10
from ..experiments import class_transfer
from ..models import list_models, model_meta
from ..runs import yours
from ..runs.budgets import Budget, get_budget
from ..runs.reference import RunSpec, source_model_runs
from ..runs.studies.aux import AUX_MODEL, AUX_OFF, AUX_ON
from ..runs.studies.chapter import CHAPTER
from ..runs.studies.side import SIDE
from ..runs.studies.transfer import TRANSFER, TRANSFER_MODEL
from ..training.device import default_device, resolve_precision
from ..training.recipe import RecipeError, recipe_for
from .choice import Choice, budget_showing_most, choose
from .log import build_log, epoch_log
from .log import progress as progress  # re-exported: cnnbook.progress
from .notice import Provenance
from .shown import ChapterRun, stored_run, your_run
from .shown import record_result as record_result  # re-exported: what a notebook's RESULT_FILE is written with
from .viz import LivePlot

# The parameters cell's names for the recipe values a chapter lets the learner set.
PARAMETER_NAMES = {"epochs": "EPOCHS", "subset": "SUBSET", "batch_size": "BATCH_SIZE", "lr": "LR"}


def start_chapter(
    budget: str | None = None, seed: int = 0, *, model: str | None = None, family: str | None = None, **overrides
) -> tuple[Budget, CIFAR10, torch.device]:
    """The budget (its chapter recipe with the notebook's non-None ``overrides``), CIFAR-10 at its
    sizes, and the device. ``model`` is checked against the chapter's model ``family`` (the
    ``chapter`` of its ``model_meta``, e.g. ``"resnet"``) and the overrides by the recipe's own rules
    before anything runs; an error names the parameter as the learner wrote it (``EPOCHS = 0``)."""
    if model is not None:
        check_chapter_model(model, family)
    try:
        cfg = get_budget(budget, **overrides)
    except RecipeError as exc:
        raise (exc.named(PARAMETER_NAMES.get(exc.field, exc.field)) if exc.field in overrides else exc) from None
    device = default_device()
    build_log(f"budget {cfg.name!r}: loading CIFAR-10")
    recipe = cfg.chapter
    data = load_cifar10(subset=recipe.subset, val_subset=cfg.val_subset, test_subset=cfg.test_subset, seed=seed)
    try:
        recipe.check_trains_on(len(data.train))
    except RecipeError as exc:
        raise exc.named(PARAMETER_NAMES[exc.field]) from None
    print(
        f"budget {cfg.name!r}: {recipe.epochs} epoch(s) on {len(data.train):,} images, batch {recipe.batch_size}, "
        f"peak lr {recipe.lr}"
    )
    print(  # the data folder's path stays off the page: it is the build machine's, not the reader's
        f"CIFAR-10 ({data.variant}): {len(data.train):,} training, {len(data.val):,} validation and "
        f"{len(data.test):,} test images; {device} ({resolve_precision(recipe.precision, device)})"
    )
    return cfg, data, device


def check_chapter_model(model: str, family: str | None) -> None:
    """A one-line error unless ``model`` is a registry model of ``family`` (its ``model_meta`` chapter)."""
    meta = model_meta(model)  # unknown names: a ValueError listing the valid ones
    if family is not None and meta.chapter != family:
        same = [m for m in list_models() if model_meta(m).chapter == family]
        raise ValueError(
            f"MODEL {model!r} is not a {family} model, which this chapter needs; choose one of: {', '.join(same)}"
        )


def obtain(spec: RunSpec, choice: Choice, cfg: Budget, data: CIFAR10, device: torch.device, callbacks=()) -> ChapterRun:
    """The run ``choice`` decided on: your run, the stored reference run (with its other stored seeds),
    or, when it shows neither, ``spec`` trained here (resuming an interrupted run, ``fit`` calling
    ``callbacks`` after every epoch) and kept as your run."""
    if choice.yours:
        return your_run(spec, choice.shown, device)
    if choice.shown is not None:
        return stored_run(spec, choice.shown, cfg, device)
    model, record = yours.train(spec, cfg.name, data, device=device, callbacks=list(callbacks))
    return your_run(spec, record, device, model)


def train_chapter_model(
    name: str, cfg: Budget, data: CIFAR10, device: torch.device, seed: int = 0, train: bool = False
) -> ChapterRun:
    """The chapter's model (:func:`~cnnbook.book.choice.choose`): your run, or the stored reference run,
    or trained here (resuming an interrupted run) with its curves drawn live beside the reference, and
    kept as your run."""
    spec = CHAPTER.spec(name, cfg, seed)
    choice = choose(spec, cfg.name, train)
    reference = choice.reference
    others = {"reference run": reference.history} if reference is not None else {}
    small = recipe_for(name, cfg.chapter).small_epochs  # shaded on the curves
    if choice.shown is not None:
        run = obtain(spec, choice, cfg, data, device)
        if choice.yours:
            print(f"Showing {run.source}. Set TRAIN = True to train it again.")
            build_log(f"{name}: showing your run")
            LivePlot("your run", others, title=f"{name}: your run, epoch by epoch", small_epochs=small)(run.history)
        else:
            print(f"Showing the stored reference run of {name} ({len(run.history)} epochs, budget {cfg.name!r}). "
                  "Set TRAIN = True to train it here instead.")  # fmt: skip
            display(Provenance(run.reference.provenance))
            build_log(f"{name}: showing the stored reference run")
            title = f"{name}: the stored reference run, epoch by epoch"
            LivePlot("reference run", title=title, small_epochs=small)(run.history)
        return run
    done = yours.unfinished_epochs(spec, cfg.name)
    resuming = f"; resuming your interrupted run after epoch {done}" if done else ""
    print(f"Training {name} here ({choice.why}{resuming}).")
    live = LivePlot(
        "your run",
        others,
        title=f"{name}: your run (updated every epoch)" + (" and the reference run" if reference else ""),
        small_epochs=small,
    )
    return obtain(spec, choice, cfg, data, device, callbacks=[live, epoch_log(name, cfg.chapter.epochs)])


def side_runs(
    models: tuple[str, ...], cfg: Budget, data: CIFAR10, device: torch.device, seed: int = 0, train: bool = False
) -> dict[str, ChapterRun]:
    """The side experiment's runs (the side recipe, fp32) of ``models``, by model (:func:`shown_runs`)."""
    return shown_runs({name: SIDE.spec(name, cfg, seed) for name in models}, cfg, data, device, train)


def aux_runs(
    cfg: Budget, data: CIFAR10, device: torch.device, seed: int = 0, train: bool = False
) -> dict[str, ChapterRun]:
    """Chapter 2's auxiliary-classifier study (the ablation recipe): the chapter's GoogLeNet trained
    with its auxiliary classifiers (``"with"``) and without (``"without"``), as :func:`shown_runs` decides."""
    specs = {study.label: study.spec(AUX_MODEL, cfg, seed) for study in (AUX_ON, AUX_OFF)}
    return shown_runs(specs, cfg, data, device, train)


def resnet18_runs(cfg: Budget, data: CIFAR10, device: torch.device, train: bool = False) -> dict[str, ChapterRun]:
    """The source's ResNet-18 trained with the chapter recipe (``"chapter recipe"``) and with the source's
    (``"textbook recipe"``), as :func:`shown_runs` decides, except that a run neither stored nor yours trains
    here only with ``train``: each takes an hour or more on a CPU. Without ``train``, the runs stored at
    ``cfg``'s budget or at ``full`` (a GPU's budget, more epochs), whichever holds more of the pair, ``full``
    on a tie of stored runs; a line says how to make the ones missing."""
    budget = cfg if train else budget_showing_most(source_model_runs, [cfg, get_budget("full")])
    specs = {spec.study.label: spec for spec in source_model_runs(budget)}
    runs = shown_runs(specs, budget, data, device, train, train_missing=train, train_name="TRAIN_RESNET18")
    if missing := " ".join(s.run_id for name, s in specs.items() if name not in runs):
        print(
            f"Not stored at budget {budget.name!r} for these settings: {missing}. "
            f"`python -m cnnbook reproduce --budget {budget.name} --only {missing}` trains it (hours on a CPU, "
            f"minutes on a GPU), or set TRAIN_RESNET18 = True to train both here at budget {cfg.name!r}."
        )
    return runs


def shown_runs(
    specs: dict[str, RunSpec],
    cfg: Budget,
    data: CIFAR10,
    device: torch.device,
    train: bool = False,
    train_missing: bool = True,
    train_name: str = "TRAIN",
) -> dict[str, ChapterRun]:
    """The runs ``specs`` (by name), each as :func:`~cnnbook.book.choice.choose` decides and :func:`obtain`
    makes it: your runs, stored ones (with their other seeds' histories and test accuracies), the rest
    trained here and kept as your runs (left out unless ``train_missing``). Says in one line which, by run
    id (the name ``python -m cnnbook reproduce --only`` takes), and which parameter (``train_name``) trains
    them again."""
    runs, kept, trained, why_not = {}, [], [], ""
    for name, spec in specs.items():
        choice = choose(spec, cfg.name, train, train_name)
        if choice.shown is None:
            if not train_missing:
                continue
            why_not = why_not or choice.why
            build_log(f"{spec.run_id}: training it ({spec.recipe.epochs} epochs)")
            print(f"training {spec.run_id} ({spec.recipe.epochs} epochs)", flush=True)  # a bar per epoch, a line after
            trained.append(spec.run_id)
        elif choice.yours:
            kept.append(spec.run_id)
        runs[name] = obtain(spec, choice, cfg, data, device)
    stored = {name: run for name, run in runs.items() if run.reference is not None}
    if stored:
        first = next(iter(stored.values())).reference
        p, seeds = first.provenance, min(len(run.seeds) for run in stored.values())
        print(
            f"Showing stored runs of {', '.join(specs[name].run_id for name in stored)} ({len(first.history)} "
            f"epochs, {seeds} seed{'s' * (seeds > 1)} each, budget {cfg.name!r}); set {train_name} = True to train "
            "them here."
        )
        display(Provenance(p))
    if kept:
        print(f"Showing your runs of {', '.join(kept)}; set {train_name} = True to train them again.")
    if trained:
        print(f"Trained here and kept as your runs: {', '.join(trained)} ({why_not}).")
    return runs


def class_transfer_experiment(
    cfg: Budget, data: CIFAR10, device: torch.device, seed: int = 0, train: bool = False
) -> tuple[list[dict], str]:
    """The rows of :func:`cnnbook.experiments.class_transfer.compare` (frozen, fine-tune, scratch) and a line saying
    which run they come from (:func:`~cnnbook.book.choice.choose`: your run, the stored transfer run, or one made
    here and kept as your run). Each row also holds ``seeds`` (the learner's test accuracy at every stored seed, or
    this run's alone) and ``test images`` (the target classes' test images it was measured on)."""
    spec = TRANSFER.spec(TRANSFER_MODEL, cfg, seed)
    choice = choose(spec, cfg.name, train)
    test_images = len(class_transfer.classes_of(data.test, class_transfer.TARGET_CLASSES))
    if choice.shown is None:
        build_log(f"class transfer: pretraining {TRANSFER_MODEL} on six classes ({spec.recipe.epochs} epochs)")
        print(f"class transfer: pretraining {TRANSFER_MODEL} on six classes, then frozen features, fine-tuning "
              f"and from scratch on the four other classes ({spec.recipe.epochs} epochs)", flush=True)  # fmt: skip
    run = obtain(spec, choice, cfg, data, device)  # training: each epoch and few-shot step shown
    if choice.shown is None:
        source = f"this run ({cfg.name}, {device}, {run.minutes:.1f} min; {choice.why}), kept as your run"
    elif choice.yours:
        build_log("class transfer: showing your run")
        source = f"{run.source}; set TRAIN = True to run it again"
    else:
        build_log("class transfer: showing the stored run")
        seeds = f"{len(run.records)} seed{'s' * (len(run.records) > 1)}"
        source = f"stored run ({seeds}, budget {cfg.name!r}); set TRAIN = True to run it here"
        display(Provenance(run.records[0].provenance))
    rows = [
        {**row, "seeds": [r.extra["few_shot"][i]["test accuracy"] for r in run.records], "test images": test_images}
        for i, row in enumerate(run.records[0].extra["few_shot"])
    ]
    return rows, source
