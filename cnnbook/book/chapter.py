"""What every chapter does: resolve the budget, load the data, then show a stored reference run when
one matches what the chapter would train, or train live with its curves drawn as it goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .. import settings
from ..data import CIFAR10, Split, load_cifar10
from ..experiments import class_transfer
from ..models import count_parameters, list_models, model_meta
from ..runs import yours
from ..runs.budgets import Budget, get_budget
from ..runs.record import RunRecord
from ..runs.reference import RunSpec, best_trained, matching_reference, source_model_runs, with_other_seeds
from ..runs.studies.aux import AUX_MODEL, AUX_OFF, AUX_ON
from ..runs.studies.chapter import CHAPTER
from ..runs.studies.side import SIDE
from ..runs.studies.transfer import TRANSFER, TRANSFER_MODEL
from ..storage import write_json
from ..training.device import default_device, resolve_precision
from ..training.evaluation import evaluate, evaluate_with_flip
from ..training.history import History
from ..training.loop import progress_bar
from ..training.recipe import Recipe, recipe_for
from .viz import LivePlot


@dataclass
class ChapterRun:
    """A trained model as a chapter shows it: from a stored reference run or trained on the page."""

    spec: RunSpec  # which run: model, recipe, seed
    budget: str
    model: nn.Module
    history: History
    minutes: float
    source: str  # e.g. "reference run (quick, AMD EPYC, bf16, 16.1 min)" or "your run (smoke, cpu, 0.4 min)"
    reference: RunRecord | None = None
    seeds: list[History] = field(default_factory=list)  # every seed's history (stored, or this run's)
    seed_tests: list[float] = field(default_factory=list)  # the stored seeds' test accuracies
    folder: Path | None = None  # where your run is kept (cnnbook.runs.yours); None for a stored reference

    def __post_init__(self) -> None:
        self.seeds = self.seeds or [self.history]

    @property
    def name(self) -> str:
        """The registry name of the run's model, e.g. ``"resnet20"``."""
        return self.spec.model

    def for_figures(self, reference: bool = False) -> tuple[nn.Module, str]:
        """The model the chapter's figures show, with its label: the run shown above (yours, if you
        trained it), or with ``reference=True`` a stored reference of the same run that trained longer."""
        if self.reference is not None or not reference:
            return self.model, self.source
        model, label = best_trained(self.model, self.history, self.spec.run_id, self.budget)
        return model, (self.source if model is self.model else label)

    def evaluate_and_record(self, data: CIFAR10, result_file: str | None = None, predictions: bool = False) -> dict:
        """Evaluate the model on the test set, single view and with its mirror image
        (:func:`~cnnbook.training.evaluation.evaluate_with_flip`, with ``predictions``), say in two lines
        which run it is and how it did, and write the result to ``result_file`` (a notebook's
        ``RESULT_FILE``, set by ``make sweep``)."""
        parameters = count_parameters(self.model)
        print(f"{self.name}: {parameters:,} parameters, {len(self.history)} epochs on "
              f"{len(data.train):,} images: {self.source}", flush=True)  # fmt: skip
        test = evaluate_with_flip(self.model, data.test, predictions=predictions)
        print(
            f"  accuracy on the {len(data.test):,} held-out test images: {test['accuracy']:.1%}, "
            f"{test['flip_accuracy']:.1%} averaged with each image's mirror image"
        )
        record_result(
            result_file,
            model=self.name,
            budget=self.budget,
            epochs=len(self.history),
            train_images=len(data.train),
            parameters=parameters,
            minutes=round(self.minutes, 2),
            final_train_loss=round(self.history.last["train_loss"], 4),
            test_accuracy=round(test["accuracy"], 4),
            flip_test_accuracy=round(test["flip_accuracy"], 4),
        )
        if self.folder is not None:
            yours.record_test(self.folder, test)
        return test

    def seed_accuracies(self, test: Split) -> list[float]:
        """Test accuracy at every seed shown: the stored seeds' own, or this run's (:meth:`test_accuracy`)."""
        return self.seed_tests or [self.test_accuracy(test)]

    def test_accuracy(self, test: Split) -> float:
        """Test accuracy: a stored run's own, measured on its budget's test set when it was made
        (the ``test`` split of a chapter at that budget), else measured here on ``test``."""
        if self.reference is not None:
            return self.reference.test["accuracy"]
        return evaluate(self.model, test)["accuracy"]


def record_result(path: str | None, **values) -> None:
    """Write ``values`` as JSON to ``path`` (a notebook's ``RESULT_FILE``, which ``sweep`` gathers);
    nothing when ``path`` is None."""
    if path is not None:
        write_json(path, values)


def progress(items, what: str):
    """``items`` one by one, with a progress bar in a live kernel that names the current one, and each
    step in a book build's log; no bar on the static pages (``TQDM_DISABLE``, which ``make book`` sets)."""
    items = list(items)
    bar = progress_bar(len(items), what, enabled=True, unit="it")
    for item in items:
        build_log(f"{what}: {item}")
        bar.set_postfix_str(str(item))
        yield item
        bar.update()
    bar.close()


def build_log(message: str) -> None:
    """Tell the terminal of a book build what runs now: ``make book`` sets ``CNNBOOK_BUILD_LOG`` to a
    file it shows as it grows (the kernel's own output would land on the page)."""
    if path := settings.current().build_log:
        with open(path, "a") as log:
            log.write(f"    cnnbook: {message}\n")


def start_chapter(
    budget: str | None = None, seed: int = 0, *, model: str | None = None, family: str | None = None, **overrides
) -> tuple[Budget, CIFAR10, torch.device]:
    """The budget (its chapter recipe with the notebook's non-None ``overrides``), CIFAR-10 at its
    sizes, and the device. ``model`` is checked against the chapter's model ``family`` (the
    ``chapter`` of its ``model_meta``, e.g. ``"resnet"``) before anything runs."""
    if model is not None:
        check_chapter_model(model, family)
    check_overrides(overrides)
    cfg = get_budget(budget, **overrides)
    device = default_device()
    build_log(f"budget {cfg.name!r}: loading CIFAR-10")
    recipe = cfg.chapter
    data = load_cifar10(subset=recipe.subset, val_subset=cfg.val_subset, test_subset=cfg.test_subset, seed=seed)
    check_batch(recipe, len(data.train))
    print(
        f"budget {cfg.name!r}: {recipe.epochs} epoch(s) on {len(data.train):,} images, batch {recipe.batch_size}, "
        f"peak lr {recipe.lr}"
    )
    print(  # the data folder's path stays off the page: it is the build machine's, not the reader's
        f"CIFAR-10 ({data.variant}): {len(data.train):,} training, {len(data.val):,} validation and "
        f"{len(data.test):,} test images; {device} ({resolve_precision(recipe.precision, device)})"
    )
    return cfg, data, device


# The parameters cell's names for the recipe values a chapter lets the learner set.
PARAMETER_NAMES = {"epochs": "EPOCHS", "subset": "SUBSET", "batch_size": "BATCH_SIZE", "lr": "LR"}


def check_overrides(overrides: dict) -> None:
    """A one-line error naming the parameter as the learner wrote it (``EPOCHS = 0``), before the
    recipe built from it could complain about a value the learner never set."""
    for key, value in overrides.items():
        name = PARAMETER_NAMES.get(key, key)
        if value is None:
            continue
        if key == "lr":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise ValueError(f"{name} = {value!r}: the peak learning rate must be a positive number, or None")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} = {value!r}: must be a positive whole number, or None for the budget's value")


def check_chapter_model(model: str, family: str | None) -> None:
    """A one-line error unless ``model`` is a registry model of ``family`` (its ``model_meta`` chapter)."""
    meta = model_meta(model)  # unknown names: a ValueError listing the valid ones
    if family is not None and meta.chapter != family:
        same = [m for m in list_models() if model_meta(m).chapter == family]
        raise ValueError(
            f"MODEL {model!r} is not a {family} model, which this chapter needs; choose one of: {', '.join(same)}"
        )


def check_batch(recipe: Recipe, images: int) -> None:
    """A one-line error for batch sizes that cannot train on ``images`` images."""
    if recipe.batch_size < 2:
        raise ValueError(f"BATCH_SIZE {recipe.batch_size}: batch normalisation needs at least 2 images per batch")
    if recipe.batch_size > images:
        raise ValueError(
            f"BATCH_SIZE {recipe.batch_size} is larger than the {images:,} training images: every epoch would "
            "skip them all (incomplete batches are dropped); lower BATCH_SIZE or raise SUBSET"
        )


@dataclass(frozen=True)
class Choice:
    """What a chapter does for one run: show your own run, show the stored reference run, or train."""

    shown: RunRecord | None  # the run to show; None: train it here
    yours: bool  # ``shown`` is your run (cnnbook.runs.yours), not a stored reference
    why: str  # the reference's summary, or why the run trains ("TRAIN = True", or why no reference matches)
    reference: RunRecord | None  # the matching stored reference run, drawn beside yours


def choose(spec: RunSpec, budget: str, train: bool = False, train_name: str = "TRAIN") -> Choice:
    """Unless ``train``: your own run of exactly ``spec`` if you trained one, else the stored
    reference run that matches it; with neither (or ``train``, the parameter ``train_name``), train it
    here. The one place the chapters, their side experiments and the transfer experiment decide this."""
    reference, why = matching_reference(spec, budget)
    if train:
        return Choice(None, False, f"{train_name} = True", reference)
    kept = yours.find(spec, budget)
    if kept is not None:
        return Choice(kept, True, why, reference)
    return Choice(reference, False, why, reference)


def train_chapter_model(
    name: str, cfg: Budget, data: CIFAR10, device: torch.device, seed: int = 0, train: bool = False
) -> ChapterRun:
    """The chapter's model (:func:`choose`): your run, or the stored reference run, or trained here
    (resuming an interrupted run) with its curves drawn live beside the reference, and kept as your run."""
    spec = CHAPTER.spec(name, cfg, seed)
    choice = choose(spec, cfg.name, train)
    reference = choice.reference
    others = {"reference run": reference.history} if reference is not None else {}
    small = recipe_for(name, cfg.chapter).small_epochs  # shaded on the curves
    if choice.yours:
        run = _from_yours(spec, choice.shown, device)
        print(f"Showing {run.source}. Set TRAIN = True to train it again.")
        build_log(f"{name}: showing your run")
        LivePlot("your run", others, title=f"{name}: your run, epoch by epoch", small_epochs=small)(run.history)
        return run
    if choice.shown is not None:
        print(f"Showing the stored reference run: {choice.why}. Set TRAIN = True to train it here instead.")
        build_log(f"{name}: showing the stored reference run")
        title = f"{name}: the stored reference run, epoch by epoch"
        LivePlot("reference run", title=title, small_epochs=small)(reference.history)
        return _from_reference(spec, reference, device)
    done = yours.unfinished_epochs(spec, cfg.name)
    resuming = f"; resuming your interrupted run after epoch {done}" if done else ""
    print(f"Training {name} here ({choice.why}{resuming}).")
    live = LivePlot(
        "your run",
        others,
        title=f"{name}: your run (updated every epoch)" + (" and the reference run" if reference else ""),
        small_epochs=small,
    )
    callbacks = [live, _epoch_log(name, cfg.chapter.epochs)]
    model, record = yours.train(spec, cfg.name, data, device=device, callbacks=callbacks)
    return _from_yours(spec, record, device, model)


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
    (``"source recipe"``), as :func:`shown_runs` decides, except that a run neither stored nor yours trains
    here only with ``train``: each takes an hour or more on a CPU. Without ``train``, the runs stored at
    ``cfg``'s budget or at ``full`` (a GPU's budget, more epochs), whichever holds more of the pair, ``full``
    on a tie of stored runs; a line says how to make the ones missing."""
    budget = cfg
    if not train:
        budget = max((cfg, get_budget("full")), key=_pair_rank)
    specs = {spec.study.label: spec for spec in source_model_runs(budget)}
    runs = shown_runs(specs, budget, data, device, train, train_missing=train, train_name="TRAIN_RESNET18")
    if missing := " ".join(s.run_id for name, s in specs.items() if name not in runs):
        print(
            f"Not stored at budget {budget.name!r} for these settings: {missing}. "
            f"`python -m cnnbook reproduce --budget {budget.name} --only {missing}` trains it (hours on a CPU, "
            f"minutes on a GPU), or set TRAIN_RESNET18 = True to train both here at budget {cfg.name!r}."
        )
    return runs


def _pair_rank(budget: Budget) -> tuple[int, bool]:
    """How a budget ranks for showing the ResNet-18 pair: runs of it a page can show without training
    (yours or stored), then, on a tie of stored runs, ``full``'s longer training first."""
    shown = sum(choose(spec, budget.name).shown is not None for spec in source_model_runs(budget))
    return shown, shown > 0 and budget.name == "full"


def shown_runs(
    specs: dict[str, RunSpec],
    cfg: Budget,
    data: CIFAR10,
    device: torch.device,
    train: bool = False,
    train_missing: bool = True,
    train_name: str = "TRAIN",
) -> dict[str, ChapterRun]:
    """The runs ``specs`` (by name), each as :func:`choose` decides: your runs, stored ones (with their other
    seeds' histories and test accuracies), the rest trained here and kept as your runs (left out unless
    ``train_missing``). Says in one line which, by run id (the name ``python -m cnnbook reproduce --only``
    takes), and which parameter (``train_name``) trains them again."""
    runs, stored, kept, trained, why_not = {}, {}, [], [], ""
    for name, spec in specs.items():
        choice = choose(spec, cfg.name, train, train_name)
        if choice.yours:
            runs[name] = _from_yours(spec, choice.shown, device)
            kept.append(spec.run_id)
        elif choice.shown is not None:
            runs[name] = _from_reference(spec, choice.shown, device)
            seeds = with_other_seeds(choice.shown, spec, cfg)
            runs[name].seeds = [r.history for r in seeds]
            runs[name].seed_tests = [r.test["accuracy"] for r in seeds]
            stored[name] = choice.shown
        elif train_missing:
            why_not = why_not or choice.why
            build_log(f"{spec.run_id}: training it ({spec.recipe.epochs} epochs)")
            print(f"training {spec.run_id} ({spec.recipe.epochs} epochs)", flush=True)
            model, record = yours.train(spec, cfg.name, data, device=device)  # a bar per epoch, a line after it
            runs[name] = _from_yours(spec, record, device, model)
            trained.append(spec.run_id)
    if stored:
        first = next(iter(stored.values()))
        p, seeds = first.provenance, min(len(runs[name].seeds) for name in stored)
        print(
            f"Showing stored runs of {', '.join(specs[name].run_id for name in stored)} ({len(first.history)} "
            f"epochs, {seeds} seed{'s' * (seeds > 1)} each, budget {cfg.name!r}, {p['device_name']}, {p['precision']}, "
            f"commit {(p.get('git_commit') or '?')[:7]}); set {train_name} = True to train them here."
        )
    if kept:
        print(f"Showing your runs of {', '.join(kept)}; set {train_name} = True to train them again.")
    if trained:
        print(f"Trained here and kept as your runs: {', '.join(trained)} ({why_not}).")
    return runs


def class_transfer_experiment(
    cfg: Budget, data: CIFAR10, device: torch.device, seed: int = 0, train: bool = False
) -> tuple[list[dict], str]:
    """The rows of :func:`cnnbook.experiments.class_transfer.compare` (frozen, fine-tune, scratch) and a line saying
    which run they come from (:func:`choose`: your run, the stored transfer run, or one made here and kept
    as your run). Each row also holds ``seeds`` (the learner's test accuracy at every stored seed, or
    this run's alone) and ``test images`` (the target classes' test images it was measured on)."""
    spec = TRANSFER.spec(TRANSFER_MODEL, cfg, seed)
    choice = choose(spec, cfg.name, train)
    test_images = len(class_transfer.classes_of(data.test, class_transfer.TARGET_CLASSES))
    if choice.shown is not None and not choice.yours:
        build_log("class transfer: showing the stored run")
        runs = with_other_seeds(choice.shown, spec, cfg)
        seeds = f"{len(runs)} seed{'s' * (len(runs) > 1)}"
        source = f"stored run ({seeds}): {choice.why}; set TRAIN = True to run it here"
    elif choice.yours:
        build_log("class transfer: showing your run")
        runs = [choice.shown]
        source = f"{_your_source(choice.shown)}; set TRAIN = True to run it again"
    else:
        build_log(f"class transfer: pretraining {TRANSFER_MODEL} on six classes ({spec.recipe.epochs} epochs)")
        print(f"class transfer: pretraining {TRANSFER_MODEL} on six classes, then frozen features, fine-tuning "
              f"and from scratch on the four other classes ({spec.recipe.epochs} epochs)", flush=True)  # fmt: skip
        _, record = yours.train(spec, cfg.name, data, device=device)  # each epoch and few-shot step shown
        runs = [record]
        p = record.provenance
        source = f"this run ({cfg.name}, {device}, {p['wall_minutes']:.1f} min; {choice.why}), kept as your run"
    rows = [
        {**row, "seeds": [r.extra["few_shot"][i]["test accuracy"] for r in runs], "test images": test_images}
        for i, row in enumerate(runs[0].extra["few_shot"])
    ]
    return rows, source


def _from_reference(spec: RunSpec, reference: RunRecord, device: torch.device) -> ChapterRun:
    p = reference.provenance
    source = f"reference run ({p['budget']}, {p['device_name']}, {p['precision']}, {p['wall_minutes']:.1f} min)"
    model = reference.model(device)
    return ChapterRun(spec, p["budget"], model, reference.history, p["wall_minutes"], source, reference)


def _from_yours(spec: RunSpec, record: RunRecord, device: torch.device, model: nn.Module | None = None) -> ChapterRun:
    """Your run in ``record`` (``model``: its weights, when it was just trained; else loaded)."""
    p = record.provenance
    model = record.model(device) if model is None else model.to(device).eval()
    return ChapterRun(
        spec, p["budget"], model, record.history, p["wall_minutes"], _your_source(record), folder=record.path
    )


def _your_source(record: RunRecord) -> str:
    """How a page names your run: "your run of 3 Dec 14:05 (smoke, cpu, 0.4 min)"."""
    p = record.provenance
    return f"your run of {yours.when(p['finished'])} ({p['budget']}, {p['device']}, {p['wall_minutes']:.1f} min)"


def _epoch_log(name: str, epochs: int):
    def callback(history: History) -> bool:
        build_log(f"{name}: epoch {len(history)}/{epochs} done")
        return False

    return callback
