import dataclasses
import json

import pytest
import torch

import cnnbook
from cnnbook.book import chapter, choice, shown
from cnnbook.data import CIFAR10
from cnnbook.runs import reference
from cnnbook.runs.reproduce import reproduce
from cnnbook.runs.studies.aux import AUX_ON
from cnnbook.training.recipe import Recipe, RecipeError


@pytest.fixture
def tiny_data(tiny_split):
    return CIFAR10(tiny_split, tiny_split.take(16, seed=0), tiny_split, tuple("abcdefghij"), "test", "memory")


def test_train_chapter_model_trains_the_named_model_with_the_budget_and_draws_it(tiny_data, capsys):
    cfg = cnnbook.get_budget("smoke", epochs=2, batch_size=16)
    run = cnnbook.train_chapter_model("resnet20", cfg, tiny_data, torch.device("cpu"), seed=1)
    assert len(run.history) == 2 and [r["images"] for r in run.history.records] == [64, 64]
    assert 0 < run.minutes < 5 and run.reference is None
    assert run.source.startswith("your run of ") and "(smoke, cpu" in run.source
    out = capsys.readouterr().out
    assert "Training resnet20 here (no stored reference run of resnet20.seed1 at budget 'smoke')" in out
    assert "Figure(" in out  # the live plot was displayed (outside IPython, as its text repr)


def test_a_matching_reference_is_shown_instead_of_training_and_train_true_trains(
    tiny_data, tmp_path, monkeypatch, capsys
):
    cfg = cnnbook.get_budget("smoke", epochs=1, subset=None, batch_size=16)
    spec = reference.RunSpec("resnet20", "chapter", cfg.chapter)
    _store(tmp_path, "smoke", spec, epochs=1)
    monkeypatch.setattr(choice, "matching_reference", _matching(tmp_path))
    shown = cnnbook.train_chapter_model("resnet20", cfg, tiny_data, torch.device("cpu"))
    assert shown.reference is not None and shown.source.startswith("reference run (smoke, test CPU")
    assert shown.history.last["train_loss"] == 9.0  # the stored history, not a new one
    assert "Showing the stored reference run" in (out := capsys.readouterr().out) and "Figure(" in out  # its curves
    trained = cnnbook.train_chapter_model("resnet20", cfg, tiny_data, torch.device("cpu"), train=True)
    assert trained.reference is None and trained.history.last["train_loss"] != 9.0
    other = cnnbook.train_chapter_model("resnet20", cnnbook.get_budget("smoke", epochs=2, batch_size=16), tiny_data,
                                        torch.device("cpu"))  # fmt: skip
    assert other.reference is None and len(other.history) == 2  # other settings: never the reference


def test_side_runs_mix_stored_and_live_runs_and_say_which(tiny_data, tmp_path, monkeypatch, capsys):
    cfg = dataclasses.replace(cnnbook.get_budget("smoke"), side=Recipe(epochs=1, batch_size=16, lr=0.1))
    _store(tmp_path, "smoke", reference.RunSpec("plain20", "side", cfg.side.with_(precision="fp32")), epochs=1)
    monkeypatch.setattr(choice, "matching_reference", _matching(tmp_path))
    runs = cnnbook.side_runs(("plain20", "resnet20"), cfg, tiny_data, torch.device("cpu"))
    assert runs["plain20"].reference is not None and runs["resnet20"].reference is None
    out = capsys.readouterr().out
    assert "Showing stored runs of side-plain20" in out and "Trained here and kept as your runs: side-resnet20" in out


def test_the_auxiliary_classifier_study_shows_both_arms_with_their_test_accuracies(
    tiny_data, tmp_path, monkeypatch, capsys
):
    cfg = dataclasses.replace(cnnbook.get_budget("smoke"), ablation=Recipe(epochs=1, batch_size=16, precision="fp32"))
    on = AUX_ON.spec("googlenet_cifar", cfg)
    _store(tmp_path, "smoke", on, epochs=1)
    monkeypatch.setattr(choice, "matching_reference", _matching(tmp_path))
    runs = chapter.aux_runs(cfg, tiny_data, torch.device("cpu"))
    assert list(runs) == ["with", "without"] and runs["with"].model.aux_logits and not runs["without"].model.aux_logits
    assert runs["with"].seed_accuracies(tiny_data.test) == [0.5]  # the stored run's own
    measured = runs["without"].seed_accuracies(tiny_data.test)  # trained here, measured on the test split
    assert len(measured) == 1 and 0 <= measured[0] <= 1
    out = capsys.readouterr().out
    assert "Showing stored runs of aux-on-googlenet_cifar (1 epochs, 1 seed each" in out
    assert "Trained here and kept as your runs: aux-off-googlenet_cifar" in out


def test_chapter_parameters_are_checked_before_anything_runs(monkeypatch):
    monkeypatch.setattr(chapter, "load_cifar10", lambda **kw: pytest.fail("loaded data before checking"))
    with pytest.raises(ValueError, match="'densenet_cifar' is not a resnet model.*resnet20"):
        cnnbook.start_chapter("smoke", model="densenet_cifar", family="resnet")
    with pytest.raises(ValueError, match="unknown model 'resnet21'"):
        cnnbook.start_chapter("smoke", model="resnet21", family="resnet")


@pytest.mark.parametrize(
    ("overrides", "name"),
    [({"epochs": 0}, "EPOCHS"), ({"subset": -5}, "SUBSET"), ({"batch_size": 12.5}, "BATCH_SIZE"), ({"lr": 0}, "LR"),
     ({"lr": True}, "LR")],
)  # fmt: skip
def test_a_parameter_out_of_range_is_named_as_the_learner_wrote_it(monkeypatch, overrides, name):
    monkeypatch.setattr(chapter, "load_cifar10", lambda **kw: pytest.fail("loaded data before checking"))
    with pytest.raises(RecipeError) as err:
        cnnbook.start_chapter("quick", model="resnet20", family="resnet", **overrides)
    ((field, value),) = overrides.items()
    assert (err.value.field, err.value.value) == (field, value)
    assert str(err.value).startswith(f"{name} = {value!r}: must be ")  # the recipe's own rule, as the learner wrote it


@pytest.mark.parametrize("batch_size", [1, 4096])
def test_a_batch_size_that_cannot_train_on_the_images_is_named_with_the_parameter(tiny_data, monkeypatch, batch_size):
    monkeypatch.setattr(chapter, "load_cifar10", lambda **kw: tiny_data)  # 64 training images
    with pytest.raises(RecipeError) as err:
        cnnbook.start_chapter("smoke", batch_size=batch_size)
    assert (err.value.field, err.value.value) == ("batch_size", batch_size)
    assert str(err.value).startswith(f"BATCH_SIZE = {batch_size}: must be ")
    Recipe(epochs=1, batch_size=64).check_trains_on(64)  # a whole batch trains


def test_the_build_log_names_the_step_only_in_a_book_build(tmp_path, capfd, monkeypatch):
    monkeypatch.delenv("CNNBOOK_BUILD_LOG", raising=False)
    chapter.build_log("silent")
    monkeypatch.setenv("CNNBOOK_BUILD_LOG", str(tmp_path / "steps.log"))
    chapter.build_log("resnet20: epoch 1/15 done")
    assert (tmp_path / "steps.log").read_text() == "    cnnbook: resnet20: epoch 1/15 done\n"
    out, err = capfd.readouterr()
    assert "cnnbook:" not in out + err  # nothing reaches the notebook's outputs


def _store(results, budget, spec, epochs):
    """A stored run of ``spec`` with a recognisable history (train_loss 9.0), without training."""
    from cnnbook.runs.record import build_model
    from cnnbook.training.checkpoint import save_checkpoint

    path = results / budget / spec.run_id
    path.mkdir(parents=True)
    records = [{"epoch": e + 1, "train_loss": 9.0, "val_acc": 0.1, "images_per_s": 1.0} for e in range(epochs)]
    (path / "history.json").write_text(json.dumps({"model": spec.model, "test": {"accuracy": 0.5}, "records": records}))
    provenance = {
        "budget": budget,
        "run": spec.describe(),
        "recipe": spec.recipe.as_dict(),
        "fingerprint": spec.fingerprint(0),
        "device_name": "test CPU",
        "device": "cpu",
        "precision": "fp32",
        "threads": 2,
        "wall_minutes": 1.0,
        "git_commit": "abcdef0",
    }
    (path / "provenance.json").write_text(json.dumps(provenance))
    save_checkpoint(path / "checkpoint.pt", build_model(spec.model, spec.builder))


def _matching(results):
    return lambda spec, budget, seed=None: reference.matching_reference(spec, budget, seed, results)


def test_reproduce_then_matching_reference_round_trip(cifar, tmp_path):
    reproduce("smoke", ["side-resnet20"], results=tmp_path, progress=False)
    spec = next(s for s in reference.reference_runs(cnnbook.get_budget("smoke")) if s.run_id == "side-resnet20")
    ref, why = reference.matching_reference(spec, "smoke", results=tmp_path)
    assert ref is not None and "resnet20 at budget 'smoke': 1 epochs" in why
    changed = reference.RunSpec("resnet20", "side", spec.recipe.with_(lr=0.3))
    assert reference.matching_reference(changed, "smoke", results=tmp_path)[0] is None
    stored = shown.stored_run(spec, ref, cnnbook.get_budget("smoke"), torch.device("cpu"))
    assert stored.test_accuracy(cifar.test.take(10)) == ref.test["accuracy"]  # the run's own, not re-measured
    live = chapter.ChapterRun(spec, "smoke", stored.model, stored.history, 0.0, "your run")
    assert live.test_accuracy(cifar.test.take(10)) == cnnbook.evaluate(stored.model, cifar.test.take(10))["accuracy"]


def test_evaluate_and_record_prints_returns_and_writes_one_result(tiny_data, tmp_path, capsys):
    cfg = cnnbook.get_budget("smoke", epochs=1, batch_size=16)
    run = cnnbook.train_chapter_model("resnet20", cfg, tiny_data, torch.device("cpu"))
    capsys.readouterr()
    test = run.evaluate_and_record(tiny_data, tmp_path / "result.json", predictions=True)
    expected = cnnbook.evaluate(run.model, tiny_data.test, predictions=True)
    assert test["accuracy"] == expected["accuracy"] and torch.equal(test["predictions"], expected["predictions"])
    out = capsys.readouterr().out
    assert f"accuracy on the 64 held-out test images: {test['accuracy']:.1%}" in out and run.source in out
    record = json.loads((tmp_path / "result.json").read_text())
    assert record["model"] == "resnet20" and record["budget"] == "smoke" and record["epochs"] == 1
    assert record["test_accuracy"] == round(test["accuracy"], 4) and record["parameters"] == 269722
    run.evaluate_and_record(tiny_data)  # outside a sweep: nothing written, no error


def test_progress_yields_every_item_and_logs_each_step_in_a_book_build(tmp_path, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("CNNBOOK_BUILD_LOG", str(tmp_path / "steps.log"))
    assert list(chapter.progress(["resnet20", "plain56"], "measuring")) == ["resnet20", "plain56"]
    assert (tmp_path / "steps.log").read_text().splitlines() == [
        "    cnnbook: measuring: resnet20",
        "    cnnbook: measuring: plain56",
    ]


def test_resnet18_is_shown_beside_the_source_recipe_and_trains_on_a_page_only_when_asked(
    tiny_data, tmp_path, monkeypatch, capsys
):
    cfg = cnnbook.get_budget("smoke", epochs=1, subset=None, batch_size=16)
    monkeypatch.setattr(choice, "matching_reference", _matching(tmp_path))
    assert cnnbook.resnet18_runs(cfg, tiny_data, torch.device("cpu")) == {}  # hours on a CPU: never unasked
    out = capsys.readouterr().out
    assert "Not stored at budget 'smoke' for these settings: resnet18 source-resnet18" in out
    assert "python -m cnnbook reproduce --budget smoke --only resnet18 source-resnet18" in out
    chapter_run, source_run = reference.source_model_runs(cfg)
    _store(tmp_path, "smoke", chapter_run, epochs=1)
    runs = cnnbook.resnet18_runs(cfg, tiny_data, torch.device("cpu"))
    assert list(runs) == ["chapter recipe"]  # shown alone, with a line for its missing twin
    assert "python -m cnnbook reproduce --budget smoke --only source-resnet18`" in capsys.readouterr().out
    _store(tmp_path, "smoke", source_run, epochs=1)
    runs = cnnbook.resnet18_runs(cfg, tiny_data, torch.device("cpu"))
    assert list(runs) == ["chapter recipe", "textbook recipe"] and all(r.reference is not None for r in runs.values())
    assert runs["textbook recipe"].spec.recipe.lr == 0.001 and not runs["textbook recipe"].spec.recipe.augment
    out = capsys.readouterr().out
    assert "budget 'smoke'" in out and "set TRAIN_RESNET18 = True to train them here" in out and "Not stored" not in out
    trained = cnnbook.resnet18_runs(cfg, tiny_data, torch.device("cpu"), train=True)
    assert all(r.reference is None and len(r.history) == 1 for r in trained.values())
    assert "Trained here and kept as your runs: resnet18, source-resnet18 (TRAIN_RESNET18 = True)" in (
        capsys.readouterr().out
    )


def test_resnet18_is_shown_from_the_budget_that_stores_more_of_the_pair_the_gpus_on_a_tie(
    tiny_data, tmp_path, monkeypatch, capsys
):
    cfg = cnnbook.get_budget("smoke", epochs=1, subset=None, batch_size=16)
    monkeypatch.setattr(choice, "matching_reference", _matching(tmp_path))
    monkeypatch.setattr(
        shown, "with_other_seeds", lambda ref, spec, b: reference.with_other_seeds(ref, spec, b, tmp_path)
    )
    full_chapter, _ = reference.source_model_runs(cnnbook.get_budget("full"))
    _store(tmp_path, "full", full_chapter, epochs=2)
    runs = cnnbook.resnet18_runs(cfg, tiny_data, torch.device("cpu"))
    assert list(runs) == ["chapter recipe"] and runs["chapter recipe"].budget == "full"
    assert len(runs["chapter recipe"].history) == 2
    out = capsys.readouterr().out
    assert "Showing stored runs of resnet18 (2 epochs, 1 seed each, budget 'full'" in out
    assert "python -m cnnbook reproduce --budget full --only source-resnet18`" in out
    for spec in reference.source_model_runs(cfg):
        _store(tmp_path, "smoke", spec, epochs=1)
    assert {r.budget for r in cnnbook.resnet18_runs(cfg, tiny_data, torch.device("cpu")).values()} == {"smoke"}
    _store(tmp_path, "full", reference.source_model_runs(cnnbook.get_budget("full"))[1], epochs=2)
    runs = cnnbook.resnet18_runs(cfg, tiny_data, torch.device("cpu"))  # both pairs whole: the longer one
    assert list(runs) == ["chapter recipe", "textbook recipe"] and {r.budget for r in runs.values()} == {"full"}
