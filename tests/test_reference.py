import json

import pytest
import torch

from cnnbook import get_budget
from cnnbook.history import History
from cnnbook.models import get_model
from cnnbook.recipe import Recipe, fingerprint
from cnnbook.reference import (
    CHAPTER_MODELS,
    SIDE_MODELS,
    RunSpec,
    best_trained,
    load_reference,
    matching_reference,
    reference_curves,
    reference_runs,
    reference_table,
    select_runs,
    stale_references,
)
from cnnbook.reproduce import reproduce


def test_stored_references_match_the_code():
    """A recipe, architecture or loop change without `reproduce` fails here, naming the runs to rerun."""
    stale = stale_references()
    assert not stale, "stale reference runs (the page would not show them):\n" + "\n".join(stale)


def test_stale_references_names_a_run_whose_recipe_changed(tmp_path):
    spec = next(s for s in reference_runs(get_budget("quick")) if s.run_id == "side-plain20")
    path = tmp_path / "quick" / "side-plain20"
    path.mkdir(parents=True)
    (path / "history.json").write_text(json.dumps({"model": "plain20", "test": {}, "records": []}))
    old = spec.recipe.with_(lr=0.1)  # trained with another learning rate than the code's
    record = {"recipe": old.as_dict(), "fingerprint": fingerprint("plain20", old, 0), "seed": 0}
    (path / "provenance.json").write_text(json.dumps(record))
    (tmp_path / "quick" / "vgg16").mkdir()
    (tmp_path / "quick" / "vgg16" / "history.json").write_text("{}")
    assert stale_references(tmp_path) == [
        "quick/side-plain20: the stored reference run of side-plain20 at budget 'quick' does not match "
        "(these settings differ from it: lr 0.1 -> 0.2); rerun: python -m cnnbook reproduce --budget quick "
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
        fingerprint("resnet20", Recipe(epochs=3), 0, num_classes=6),
        fingerprint("resnet20", Recipe(epochs=3, precision="fp32"), 0),
    ]
    assert len({base, *others}) == 6


def test_reference_set_has_chapter_side_and_transfer_runs():
    quick = get_budget("quick")
    ids = [r.run_id for r in reference_runs(quick)]
    assert ids[:3] == list(CHAPTER_MODELS) and "side-plain56" in ids and "side-preact_resnet56" in ids
    assert ids[-1] == "transfer-resnet20"
    side = next(r for r in reference_runs(quick) if r.run_id == "side-plain20")
    assert side.recipe == quick.side.with_(precision="fp32")


def test_only_selects_run_ids_or_whole_kinds():
    quick = get_budget("quick")
    assert [r.run_id for r in select_runs(quick, ["resnet20"])] == ["resnet20"]
    assert [r.run_id for r in select_runs(quick, ["side"])] == [f"side-{m}" for m in SIDE_MODELS]
    assert [r.run_id for r in select_runs(quick, ["chapter"])] == list(CHAPTER_MODELS)
    assert len(select_runs(quick)) == len(CHAPTER_MODELS) + len(SIDE_MODELS) + 1
    with pytest.raises(ValueError, match="matches no reference run; valid: .*resnet20"):
        select_runs(quick, ["vgg"])


def test_side_runs_are_fp32_and_chapter_runs_use_the_default_precision():
    specs = reference_runs(get_budget("quick"))
    assert {s.recipe.precision for s in specs if s.kind == "side"} == {"fp32"}
    assert {s.recipe.precision for s in specs if s.kind == "chapter"} == {"auto"}


def test_reproduce_writes_history_checkpoint_and_provenance(cifar, tmp_path):
    reproduce("smoke", ["side-resnet20"], results=tmp_path, progress=False)
    ref = load_reference("side-resnet20", "smoke", results=tmp_path)
    prov = json.loads((tmp_path / "smoke" / "side-resnet20" / "provenance.json").read_text())
    assert prov["budget"] == "smoke" and prov["dataset_variant"] == cifar.variant
    assert prov["seed"] == 0 and prov["torch"] and prov["wall_minutes"] >= 0 and prov["precision"] == "fp32"
    assert prov["recipe"] == get_budget("smoke").side.with_(precision="fp32").as_dict()
    assert len(ref.history) == get_budget("smoke").side.epochs and 0 <= ref.test["accuracy"] <= 1
    assert ref.model()(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    assert not (tmp_path / "smoke" / "side-resnet20" / "resume.pt").exists()
    assert load_reference("resnet20", "full", results=tmp_path) is None
    assert not stale_references(tmp_path)


def _fake(results, run_id, budget, epochs):
    """A stored-looking reference run without training one."""
    from cnnbook.checkpoint import save_checkpoint

    path = results / budget / run_id
    path.mkdir(parents=True)
    records = [{"epoch": e + 1, "train_loss": 1.0} for e in range(epochs)]
    (path / "history.json").write_text(json.dumps({"model": "resnet20", "test": {"accuracy": 0.5}, "records": records}))
    provenance = {"budget": budget, "device_name": "cpu", "wall_minutes": 1, "device": "cpu", "threads": 2}
    (path / "provenance.json").write_text(json.dumps({**provenance, "run": {"model": "resnet20"}}))
    save_checkpoint(path / "checkpoint.pt", get_model("resnet20"))


def test_reference_curves_and_best_trained_use_a_stored_run_only_when_there_is_one(tmp_path, capsys):
    history, model = History([{"epoch": 1}, {"epoch": 2}]), get_model("resnet20")
    assert reference_curves("resnet20", "quick", results=tmp_path) == {}
    assert "python -m cnnbook reproduce --budget quick --only resnet20" in capsys.readouterr().out
    assert best_trained(model, history, "resnet20", "quick", results=tmp_path) == (model, "this run (quick, 2 epochs)")
    _fake(tmp_path, "resnet20", "quick", epochs=3)
    runs = reference_curves("resnet20", "quick", results=tmp_path)
    assert list(runs) == ["reference (quick, cpu, 1.0 min)"] and len(runs["reference (quick, cpu, 1.0 min)"]) == 3
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
