import json
import os

import pytest
import torch

from cnnbook import get_budget
from cnnbook.models import get_model
from cnnbook.runs.reference import (
    CHAPTER_MODELS,
    RESULTS,
    SIDE_MODELS,
    RunSpec,
    best_trained,
    fingerprint,
    load_reference,
    matching_reference,
    reference_runs,
    reference_table,
    select_runs,
    stale_references,
)
from cnnbook.runs.reproduce import reproduce
from cnnbook.runs.studies.aux import AUX_OFF, AUX_ON
from cnnbook.runs.studies.chapter import CHAPTER
from cnnbook.runs.studies.side import SIDE
from cnnbook.training.history import History
from cnnbook.training.recipe import Recipe


def test_stored_references_match_the_code():
    """A recipe, architecture or loop change without `reproduce` fails here, naming the runs to rerun."""
    stale = stale_references()
    assert not stale, "stale reference runs (the page would not show them):\n" + "\n".join(stale)


def test_stale_references_names_a_run_whose_recipe_changed(tmp_path):
    spec = next(s for s in reference_runs(get_budget("quick")) if s.run_id == "side-plain20")
    path = tmp_path / "quick" / "side-plain20"
    path.mkdir(parents=True)
    (path / "history.json").write_text(json.dumps({"model": "plain20", "test": {}, "records": []}))
    old = spec.recipe.with_(lr=0.3)  # trained with another learning rate than the code's
    record = {"recipe": old.as_dict(), "fingerprint": fingerprint("plain20", old, 0), "seed": 0}
    (path / "provenance.json").write_text(json.dumps(record))
    (tmp_path / "quick" / "vgg16").mkdir()
    (tmp_path / "quick" / "vgg16" / "history.json").write_text("{}")
    assert stale_references(tmp_path) == [
        "quick/side-plain20: the stored reference run of side-plain20 at budget 'quick' does not match "
        "(these settings differ from it: lr 0.3 -> 0.1); rerun: python -m cnnbook reproduce --budget quick "
        "--only side-plain20",
        "quick/vgg16: no longer a reference run (delete it)",
    ]


def test_fingerprint_changes_with_everything_that_decides_a_run():
    base = fingerprint("resnet20", Recipe(epochs=3), 0)
    assert base == fingerprint("resnet20", Recipe(epochs=3), 0)
    others = [
        fingerprint("resnet20", Recipe(epochs=4), 0),
        fingerprint("resnet32", Recipe(epochs=3), 0),
        fingerprint("resnet20", Recipe(epochs=3), 1),
        fingerprint("resnet20", Recipe(epochs=3), 0, {"num_classes": 6}),
        fingerprint("resnet20", Recipe(epochs=3, precision="fp32"), 0),
    ]
    assert len({base, *others}) == 6


def test_the_architecture_behind_a_fingerprint_is_built_once_per_model_and_builder(monkeypatch):
    from cnnbook.runs import fingerprint as fingerprint_module

    built = []
    real = fingerprint_module.build_model
    monkeypatch.setattr(fingerprint_module, "build_model", lambda *args: built.append(args) or real(*args))
    fingerprint_module._signature.cache_clear()
    for seed in range(3):
        fingerprint("resnet32", Recipe(epochs=3), seed)
    assert built == [("resnet32", {})]
    assert fingerprint("resnet32", Recipe(epochs=3), 0, {"num_classes": 6}) != fingerprint(
        "resnet32", Recipe(epochs=3), 0
    )
    assert built == [("resnet32", {}), ("resnet32", {"num_classes": 6})]


def test_reference_set_has_chapter_side_and_transfer_runs():
    quick = get_budget("quick")
    ids = [r.run_id for r in reference_runs(quick) if r.seed == 0]
    assert ids[:3] == list(CHAPTER_MODELS) and "side-plain56" in ids and "side-preact_resnet56" in ids
    assert ids[-5:-2] == ["transfer-resnet20", "aux-on-googlenet_cifar", "aux-off-googlenet_cifar"]
    assert ids[-2:] == ["resnet18", "source-resnet18"]  # the costliest last
    side = next(r for r in reference_runs(quick) if r.run_id == "side-plain20")
    assert side.recipe == quick.side.with_(precision="fp32")


def test_only_selects_run_ids_or_whole_kinds():
    quick = get_budget("quick")
    assert [r.folder for r in select_runs(quick, ["resnet20"])] == ["resnet20", "resnet20.seed1", "resnet20.seed2"]
    assert [r.run_id for r in select_runs(quick, ["side"], [0])] == [f"side-{m}" for m in SIDE_MODELS]
    assert [r.run_id for r in select_runs(quick, ["chapter"], [0])] == [*CHAPTER_MODELS, "resnet18"]
    assert [r.run_id for r in select_runs(quick, ["aux-on", "aux-off"], [0])] == [
        "aux-on-googlenet_cifar",
        "aux-off-googlenet_cifar",
    ]
    assert len(select_runs(quick, seeds=[0])) == len(CHAPTER_MODELS) + len(SIDE_MODELS) + 1 + 2 + 2
    assert [r.folder for r in select_runs(quick, ["resnet18", "source-resnet18"])] == ["resnet18", "source-resnet18"]
    with pytest.raises(ValueError, match="matches no reference run; valid: .*resnet20"):
        select_runs(quick, ["vgg"])


def test_side_runs_are_fp32_and_chapter_runs_use_the_default_precision():
    specs = reference_runs(get_budget("quick"))
    assert {s.recipe.precision for s in specs if s.study is SIDE} == {"fp32"}
    assert {s.recipe.precision for s in specs if s.study is CHAPTER} == {"auto"}


def test_the_auxiliary_classifier_runs_differ_only_in_their_heads(cifar, tmp_path):
    on, off = (s for s in reference_runs(get_budget("smoke")) if s.study in (AUX_ON, AUX_OFF) and s.seed == 0)
    assert (on.builder, off.builder) == ({"aux_logits": True}, {"aux_logits": False}) and on.recipe == off.recipe
    assert on.settings == off.settings == {}
    assert on.recipe.precision == "fp32" and on.fingerprint() != off.fingerprint()
    reproduce("smoke", [on.run_id], results=tmp_path, progress=False)
    ref = load_reference(on.run_id, "smoke", results=tmp_path)
    assert "train_aux_loss" in ref.history.last and ref.model().aux_logits  # rebuilt with its heads
    assert not stale_references(tmp_path)


def test_reproduce_writes_history_checkpoint_and_provenance(cifar, tmp_path):
    reproduce("smoke", ["side-resnet20"], results=tmp_path, progress=False)
    ref = load_reference("side-resnet20", "smoke", results=tmp_path)
    prov = json.loads((tmp_path / "smoke" / "side-resnet20" / "provenance.json").read_text())
    assert prov["budget"] == "smoke" and prov["dataset_variant"] == cifar.variant
    assert prov["seed"] == 0 and prov["torch"] and prov["wall_minutes"] >= 0 and prov["precision"] == "fp32"
    assert prov["recipe"] == get_budget("smoke").side.with_(precision="fp32").as_dict()
    resolved = prov["settings"]  # every setting of the run in one dict
    assert (resolved["recipe"], resolved["seed"], resolved["precision"]) == (prov["recipe"], 0, "fp32")
    assert resolved["run"] == {"model": "resnet20", "kind": "side", "builder": {}, "settings": {}}
    assert resolved["environment"]["runs"]["from"] == "CNNBOOK_RUNS"  # set by conftest
    assert len(ref.history) == get_budget("smoke").side.epochs and 0 <= ref.test["accuracy"] <= 1
    assert ref.model()(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    assert not (tmp_path / "smoke" / "side-resnet20" / "resume.pt").exists()
    assert load_reference("resnet20", "full", results=tmp_path) is None
    assert not stale_references(tmp_path)


def _fake(results, run_id, budget, epochs):
    """A stored-looking reference run without training one."""
    from cnnbook.training.checkpoint import save_checkpoint

    path = results / budget / run_id
    path.mkdir(parents=True)
    records = [{"epoch": e + 1, "train_loss": 1.0} for e in range(epochs)]
    (path / "history.json").write_text(json.dumps({"model": "resnet20", "test": {"accuracy": 0.5}, "records": records}))
    provenance = {"budget": budget, "device_name": "cpu", "wall_minutes": 1, "device": "cpu", "threads": 2}
    (path / "provenance.json").write_text(json.dumps({**provenance, "run": {"model": "resnet20"}}))
    save_checkpoint(path / "checkpoint.pt", get_model("resnet20"))


def test_best_trained_uses_a_stored_run_only_when_there_is_one(tmp_path):
    history, model = History([{"epoch": 1}, {"epoch": 2}]), get_model("resnet20")
    assert best_trained(model, history, "resnet20", "quick", results=tmp_path) == (model, "this run (quick, 2 epochs)")
    _fake(tmp_path, "resnet20", "quick", epochs=3)
    shown, label = best_trained(model, history, "resnet20", "quick", results=tmp_path)
    assert shown is not model and label == "reference (quick, cpu, 1.0 min)" and not shown.training
    assert (
        best_trained(model, History([{"epoch": e} for e in range(5)]), "resnet20", "quick", results=tmp_path)[0]
        is model
    )
    spec = RunSpec("resnet20", "chapter", get_budget("quick").chapter)
    assert matching_reference(spec, "quick", results=tmp_path)[0] is None  # no fingerprint: never shown


def test_reference_table_lists_runs_and_shows_missing_budgets(tmp_path):
    _fake(tmp_path, "resnet20", "quick", epochs=3)
    rows = reference_table(("quick", "full"), ("resnet20", "densenet_cifar"), results=tmp_path)
    assert [(r["model"], r["budget"], r["epochs"]) for r in rows] == [
        ("resnet20", "quick", 3),
        ("(none yet)", "full", "—"),
    ]
    assert "reproduce --budget full" in rows[1]["device"]
    assert rows[1]["device"].startswith("`") and rows[1]["device"].endswith("`")  # typeset as code, "--" intact
    assert (rows[0]["test accuracy"], rows[0]["with flip"]) == ("50.00%", "—")  # a run from before flip was recorded
    assert rows[0]["minutes"] == "1.0"  # one decimal for every run, whole minutes included


def test_every_run_is_stored_at_each_seed_of_its_budget():
    quick = get_budget("quick")
    runs = [r for r in reference_runs(quick) if r.model != "resnet18"]  # ResNet-18: one seed (test below)
    assert quick.seeds >= 3 and len(runs) == quick.seeds * (len(CHAPTER_MODELS) + len(SIDE_MODELS) + 1 + 2)
    assert len({r.folder for r in reference_runs(quick)}) == len(reference_runs(quick))
    assert [r.folder for r in runs if r.run_id == "side-plain56"] == [
        "side-plain56",
        *(f"side-plain56.seed{k}" for k in range(1, quick.seeds)),
    ]
    assert {r.seed for r in runs[: len(runs) // quick.seeds]} == {0}  # seed 0 (the figures' weights) first
    assert [r.folder for r in select_runs(quick, ["resnet20.seed2"])] == ["resnet20.seed2"]
    assert [r.folder for r in select_runs(quick, ["side"], seeds=[1])] == [f"side-{m}.seed1" for m in SIDE_MODELS]
    with pytest.raises(ValueError, match="stores seeds 0 to 2; no seed 7"):
        select_runs(quick, ["side"], seeds=[7])


def test_the_sources_resnet18_trains_once_with_the_chapter_recipe_and_once_with_the_sources():
    quick = get_budget("quick")
    ours, source = (s for s in reference_runs(quick) if s.model == "resnet18")
    assert (ours.run_id, ours.recipe, ours.seed, ours.keeps_weights) == ("resnet18", quick.chapter, 0, True)
    assert source.run_id == "source-resnet18" and source.seed == 0 and not source.keeps_weights  # curves only
    assert source.recipe == Recipe(
        epochs=quick.chapter.epochs,
        batch_size=64,
        lr=0.001,
        optimizer="sgd-classic",
        weight_decay=0.0,
        label_smoothing=0.0,
        schedule="constant",
        augment=False,
    )  # the source's SGD, as many epochs as the chapter recipe, all at full size
    assert ours.fingerprint() != source.fingerprint()


def test_a_large_model_stores_its_weights_in_half_precision(cifar, tmp_path, monkeypatch):
    from cnnbook.runs import reproduce as reproduce_module

    monkeypatch.setattr(reproduce_module, "HALF_WEIGHTS_ABOVE", 100_000)  # resnet20: about 1.1 MB in fp32
    reproduce("smoke", ["side-resnet20"], results=tmp_path, progress=False)
    folder = tmp_path / "smoke" / "side-resnet20"
    stored = torch.load(folder / "checkpoint.pt", weights_only=True)["model_state"]
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    model = load_reference("side-resnet20", "smoke", results=tmp_path).model()
    assert next(model.parameters()).dtype == torch.float32  # loaded back as float32
    x = cifar.test.take(32).images.float() / 255
    exact = get_model("resnet20")
    exact.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in stored.items()})
    assert torch.equal(model(x), exact.eval()(x))


def test_a_second_seed_stores_history_and_provenance_but_no_weights(cifar, tmp_path):
    reproduce("smoke", ["side-resnet20"], results=tmp_path, progress=False)  # smoke stores one seed
    import dataclasses

    from cnnbook.runs import budgets

    two = dataclasses.replace(budgets.BUDGETS["smoke"], seeds=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(budgets.BUDGETS, "smoke", two)
        reproduce("smoke", ["side-resnet20"], seeds=[1], results=tmp_path, progress=False)
        folder = tmp_path / "smoke" / "side-resnet20.seed1"
        assert sorted(p.name for p in folder.iterdir()) == ["history.json", "provenance.json", "test_predictions.json"]
        assert json.loads((folder / "provenance.json").read_text())["seed"] == 1
        spec = next(s for s in reference_runs(two) if s.run_id == "side-resnet20")
        from cnnbook.runs.reference import matching_seeds

        assert [r.provenance["seed"] for r in matching_seeds(spec, two, tmp_path)] == [0, 1]
        assert not stale_references(tmp_path)
    history = json.loads((tmp_path / "smoke" / "side-resnet20" / "history.json").read_text())
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in get_model("resnet20").modules())
    assert len(history["records"][0]["rel_grad"]) == convs == 19  # a side run traces every convolution


def test_an_interrupted_reproduce_leaves_the_stored_run_byte_identical_and_the_next_one_finishes(
    cifar, tmp_path, monkeypatch
):
    from cnnbook.runs import reproduce as reproduce_module

    reproduce("smoke", ["side-plain20"], results=tmp_path, progress=False)
    stored = tmp_path / "smoke" / "side-plain20"
    before = {p.name: p.read_bytes() for p in stored.iterdir()}
    real = reproduce_module.train_run

    def interrupted(spec, data, **options):
        options["callbacks"] = [lambda history: (_ for _ in ()).throw(KeyboardInterrupt)]
        return real(spec, data, **options)

    monkeypatch.setattr(reproduce_module, "train_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reproduce("smoke", ["side-plain20"], results=tmp_path, progress=False)
    assert {p.name: p.read_bytes() for p in stored.iterdir()} == before
    partial = tmp_path / "smoke" / ".side-plain20.partial"
    assert (partial / "resume.pt").exists()  # the interrupted run's finished epoch is kept
    monkeypatch.setattr(reproduce_module, "train_run", real)
    reproduce("smoke", ["side-plain20"], results=tmp_path, progress=False)
    assert not partial.exists() and (stored / "history.json").exists() and not stale_references(tmp_path)


def test_missing_selects_only_runs_without_a_matching_stored_result(tmp_path):
    smoke = get_budget("smoke")
    spec = next(s for s in reference_runs(smoke) if s.run_id == "side-plain20")
    folder = tmp_path / "smoke" / spec.folder
    folder.mkdir(parents=True)
    (folder / "history.json").write_text(json.dumps({"model": "plain20", "test": {}, "records": []}))
    provenance = {"budget": "smoke", "run": {"model": "plain20"}, "device_name": "cpu", "device": "cpu"}
    provenance |= {"precision": "fp32", "wall_minutes": 1.0, "fingerprint": spec.fingerprint()}
    (folder / "provenance.json").write_text(json.dumps(provenance))
    side = [r.folder for r in select_runs(smoke, ["side"], missing=True, results=tmp_path)]
    assert "side-plain20" not in side and "side-plain56" in side
    assert len(side) == len(SIDE_MODELS) - 1


def test_a_read_only_package_sends_reproduce_to_the_users_folder_where_chapters_find_it(
    cifar, tmp_path, monkeypatch, capsys
):
    from cnnbook.runs import reproduce as reproduce_module

    assert not (RESULTS / "smoke").exists()
    access = os.access
    monkeypatch.setattr(reproduce_module.os, "access", lambda p, mode: p != RESULTS and access(p, mode))
    monkeypatch.setenv("CNNBOOK_RESULTS", str(tmp_path / "mine"))
    reproduce("smoke", ["side-resnet20"], progress=False)
    assert f"{RESULTS} is not writable" in capsys.readouterr().out
    assert not (RESULTS / "smoke").exists()  # nothing written into the package
    assert (tmp_path / "mine" / "smoke" / "side-resnet20" / "history.json").exists()
    assert load_reference("side-resnet20", "smoke").path == tmp_path / "mine" / "smoke" / "side-resnet20"
