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
