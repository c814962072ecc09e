import json

import pytest
import torch

from cnnbook import get_budget
from cnnbook.reference import load_reference, reference_runs, reproduce


def test_reference_set_has_chapter_and_degradation_runs():
    runs = reference_runs(get_budget("quick"))
    ids = [r.run_id for r in runs]
    assert "resnet20" in ids and "degradation-plain56" in ids and "degradation-resnet20" in ids
    side = next(r for r in runs if r.run_id == "degradation-plain20")
    assert (side.epochs, side.subset) == (get_budget("quick").side_epochs, get_budget("quick").side_subset)


def test_only_selects_run_ids_or_whole_kinds():
    from cnnbook.reference import CHAPTER_MODELS, DEGRADATION_MODELS, select_runs

    quick = get_budget("quick")
    assert [r.run_id for r in select_runs(quick, ["resnet20"])] == ["resnet20"]
    assert [r.run_id for r in select_runs(quick, ["degradation"])] == [f"degradation-{m}" for m in DEGRADATION_MODELS]
    assert [r.run_id for r in select_runs(quick, ["chapter"])] == list(CHAPTER_MODELS)
    assert len(select_runs(quick)) == len(CHAPTER_MODELS) + len(DEGRADATION_MODELS)


def test_unknown_only_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="matches no reference run; valid: .*resnet20"):
        reproduce("smoke", ["vgg"], results=tmp_path)


def test_reproduce_writes_history_checkpoint_and_provenance(cifar, tmp_path):
    reproduce("smoke", ["degradation-resnet20"], results=tmp_path, progress=False)
    ref = load_reference("degradation-resnet20", "smoke", results=tmp_path)
    prov = json.loads((tmp_path / "smoke" / "degradation-resnet20" / "provenance.json").read_text())
    assert prov["budget"] == "smoke" and prov["dataset_variant"] == "jpeg-image-folder"
    assert prov["seed"] == 0 and prov["torch"] and prov["wall_minutes"] >= 0
    assert len(ref.history) == get_budget("smoke").side_epochs and 0 <= ref.test["accuracy"] <= 1
    assert ref.model()(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    assert not (tmp_path / "smoke" / "degradation-resnet20" / "resume.pt").exists()
    assert load_reference("resnet20", "full", results=tmp_path) is None


def test_longest_reference_prefers_the_longer_run(cifar, tmp_path):
    from cnnbook.reference import longest_reference

    assert longest_reference("degradation-plain20", results=tmp_path) is None
    reproduce("smoke", ["degradation-plain20"], results=tmp_path, progress=False)
    assert longest_reference("degradation-plain20", results=tmp_path).provenance["budget"] == "smoke"


def fake_reference(results, run_id, budget, model, epochs):
    """A committed-looking reference run without training one."""
    from cnnbook.checkpoint import save_checkpoint

    path = results / budget / run_id
    path.mkdir(parents=True)
    records = [{"epoch": e + 1, "train_loss": 1.0} for e in range(epochs)]
    (path / "history.json").write_text(json.dumps({"model": "resnet20", "test": {"accuracy": 0.5}, "records": records}))
    (path / "provenance.json").write_text(
        json.dumps(
            {
                "budget": budget,
                "device_name": "cpu",
                "wall_minutes": 1,
                "device": "cpu",
                "threads": 2,
                "run": {"model": "resnet20"},
            }
        )
    )
    save_checkpoint(path / "checkpoint.pt", model)


def test_reference_curves_and_best_trained_use_a_committed_run_only_when_there_is_one(tmp_path, capsys):
    from cnnbook.models import get_model
    from cnnbook.reference import best_trained, reference_curves
    from cnnbook.train import History

    history, model = History([{"epoch": 1}, {"epoch": 2}]), get_model("resnet20")
    assert reference_curves("resnet20", "quick", results=tmp_path) == {}
    assert "python -m cnnbook reproduce --budget quick --only resnet20" in capsys.readouterr().out
    assert best_trained(model, history, "resnet20", "quick", results=tmp_path) == (model, "this run (quick, 2 epochs)")
    fake_reference(tmp_path, "resnet20", "quick", get_model("resnet20"), epochs=3)
    runs = reference_curves("resnet20", "quick", results=tmp_path)
    assert list(runs) == ["reference (quick, cpu, 1 min)"] and len(runs["reference (quick, cpu, 1 min)"]) == 3
    shown, label = best_trained(model, history, "resnet20", "quick", results=tmp_path)
    assert shown is not model and label == "reference (quick, cpu, 1 min)" and not shown.training
    longer = History([{"epoch": e} for e in range(5)])
    assert best_trained(model, longer, "resnet20", "quick", results=tmp_path)[0] is model


def test_reference_table_lists_runs_and_shows_missing_budgets(tmp_path):
    from cnnbook.models import get_model
    from cnnbook.reference import reference_table

    fake_reference(tmp_path, "resnet20", "quick", get_model("resnet20"), epochs=3)
    rows = reference_table(("quick", "full"), ("resnet20", "densenet_cifar"), results=tmp_path)
    assert [(r["model"], r["budget"], r["epochs"]) for r in rows] == [
        ("resnet20", "quick", 3),
        ("(none yet)", "full", "—"),
    ]
    assert "reproduce --budget full" in rows[1]["device"]


def test_degradation_runs_are_fp32_and_chapter_runs_use_the_default_precision():
    from cnnbook.budgets import get_budget
    from cnnbook.reference import reference_runs

    specs = reference_runs(get_budget("quick"))
    assert {s.precision for s in specs if s.kind == "degradation"} == {"fp32"}
    assert {s.precision for s in specs if s.kind == "chapter"} == {"auto"}
