"""A new architecture, or a new study, needs its own file and nothing else: registered, it reaches every
entry point."""

import importlib.util
import json
import re

import pytest

from cnnbook import cli
from cnnbook.analysis import cost
from cnnbook.book.chapter import check_chapter_model
from cnnbook.data import CIFAR10
from cnnbook.models import count_parameters, get_model, list_models, model_meta, registry
from cnnbook.runs import reproduce as reproduce_module
from cnnbook.runs.budgets import get_budget
from cnnbook.runs.reference import RunSpec, load_reference, reference_runs, select_runs, stale_references
from cnnbook.runs.studies import get_study, list_studies
from cnnbook.runs.studies import registry as study_registry
from cnnbook.training.checkpoint import load_checkpoint
from cnnbook.training.loop import train_model
from cnnbook.training.recipe import Recipe, recipe_for

TOY_MODULE = '''
import torch
from torch import nn

from cnnbook.models import ImageClassifier, ModelMeta, register_model


class TinyResNet(ImageClassifier):
    """A 3x3 stem, one residual block and a linear classifier."""

    def __init__(self, num_classes: int, width: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.branch = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width))
        self.fc = nn.Linear(width, num_classes)

    def forward_logits(self, x):
        x = self.stem(x)
        return self.fc(torch.relu(x + self.branch(x)).mean((2, 3)))


@register_model(meta=ModelMeta("he2016deep", "resnet", 32))
def tiny_resnet(num_classes: int = 10, width: int = 8) -> TinyResNet:
    return TinyResNet(num_classes, width)


@register_model(meta=ModelMeta("he2016deep", "resnet", 32, recipe={"optimizer": "adamw", "lr": 0.003}))
def tiny_resnet_adamw(num_classes: int = 10, width: int = 8) -> TinyResNet:
    return TinyResNet(num_classes, width)
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """``tiny_resnet``, registered by importing a module written to ``tmp_path``; forgotten afterwards."""
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    path = tmp_path / "toy_arch.py"
    path.write_text(TOY_MODULE)
    spec = importlib.util.spec_from_file_location("toy_arch", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return "tiny_resnet"


@pytest.fixture
def tiny_data(tiny_split):
    return CIFAR10(tiny_split, tiny_split.take(16, seed=0), tiny_split, tuple("abcdefghij"), "test", "memory")


def test_the_registry_and_the_chapter_know_a_new_architecture(toy):
    assert toy in list_models()
    assert get_model(toy, num_classes=3, width=4).fc.out_features == 3
    assert model_meta(toy).chapter == "resnet" and model_meta(toy).input_size == 32
    check_chapter_model(toy, "resnet")  # Chapter 1 would accept MODEL = "tiny_resnet"


def test_the_cost_table_measures_a_new_architecture(toy):
    model = get_model(toy)
    assert count_parameters(model) == (3 + 8) * 8 * 9 + 2 * 2 * 8 + 8 * 10 + 10  # convolutions, BatchNorms, fc
    size = model_meta(toy).input_size
    assert cost.multiply_adds(model, (1, 3, size, size)) == (3 + 8) * 8 * 9 * size**2 + 8 * 10


def test_the_cli_lists_and_trains_a_new_architecture(toy, tiny_data, tmp_path, monkeypatch, capsys):
    assert cli.main(["models"]) == 0
    assert re.search(r"tiny_resnet\s+914\n", capsys.readouterr().out)
    monkeypatch.setattr(cli, "load_cifar10", lambda **sizes: tiny_data)  # 64 random images, no files
    out = tmp_path / "run"
    args = ["--budget", "smoke", "--epochs", "1", "--batch-size", "32", "--precision", "fp32", "--no-progress"]
    assert cli.main(["train", "--model", toy, *args, "--out", str(out)]) == 0
    record = json.loads((out / "history.json").read_text())
    assert record["model"] == toy and len(record["records"]) == 1


def test_reference_runs_fingerprint_and_train_a_new_architecture(toy, tiny_split):
    recipe = Recipe(epochs=1, batch_size=32, lr=0.1, precision="fp32")
    assert re.fullmatch(r"[0-9a-f]{16}", RunSpec(toy, "side", recipe).fingerprint())
    assert RunSpec(toy, "side", recipe).fingerprint() != RunSpec("resnet20", "side", recipe).fingerprint()
    model, history = train_model(toy, recipe, tiny_split, progress=False)
    assert len(history) == 1 and history.records[0]["images"] == 64 and model.registry_name == toy


def test_an_architecture_trains_with_the_optimiser_it_names(toy, tiny_split, tmp_path):
    recipe = Recipe(epochs=1, batch_size=32, precision="fp32")
    preferred = recipe_for("tiny_resnet_adamw", recipe)
    assert (preferred.optimizer, preferred.lr) == ("adamw", 0.003) and recipe_for(toy, recipe) == recipe
    spec = RunSpec("tiny_resnet_adamw", "side", recipe)
    assert spec.fingerprint() == RunSpec("tiny_resnet_adamw", "side", preferred).fingerprint()
    train_model("tiny_resnet_adamw", recipe, tiny_split, checkpoint=tmp_path / "run.pt", progress=False)
    state = load_checkpoint(tmp_path / "run.pt")["optimizer_state"]
    assert "exp_avg" in state["state"][0] and state["param_groups"][0]["initial_lr"] == 0.003


TOY_STUDY = '''
from dataclasses import dataclass

from cnnbook.runs.studies import Study, register_study


@dataclass(frozen=True)
class NoSmoothing(Study):
    """ResNet-20 without label smoothing; it also stores how many test images it was measured on."""

    def results(self, spec, model, data, *, test, device, progress):
        metrics, _ = super().results(spec, model, data, test=test, device=device, progress=progress)
        return metrics, {"test images": len(data.test)}


register_study(NoSmoothing("nosmooth", ("resnet20",), "side", overrides={"label_smoothing": 0.0, "subset": None,
                                                                          "batch_size": 16}, label="no smoothing"))
'''


@pytest.fixture
def toy_study(tmp_path, monkeypatch):
    """The study ``nosmooth``, registered by importing a module written to ``tmp_path``; forgotten afterwards."""
    monkeypatch.setattr(study_registry, "_STUDIES", dict(study_registry._STUDIES))
    path = tmp_path / "toy_study.py"
    path.write_text(TOY_STUDY)
    spec = importlib.util.spec_from_file_location("toy_study", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return get_study("nosmooth")


def test_a_new_study_is_a_reference_run_that_reproduce_trains_and_stale_references_checks(
    toy_study, tiny_data, tmp_path, monkeypatch
):
    smoke = get_budget("smoke")
    runs = reference_runs(smoke)
    ids = [r.run_id for r in runs]
    assert ids.index("nosmooth-resnet20") == ids.index("aux-off-googlenet_cifar") + 1  # after the book's own
    (spec,) = select_runs(smoke, ["nosmooth"])
    assert spec.recipe == smoke.side.with_(label_smoothing=0.0, subset=None, batch_size=16) and spec.keeps_weights
    assert spec.fingerprint() != next(r for r in runs if r.run_id == "side-resnet20").fingerprint()
    monkeypatch.setattr(reproduce_module, "load_cifar10", lambda **sizes: tiny_data)  # 64 random images, no files
    reproduce_module.reproduce("smoke", ["nosmooth"], results=tmp_path, progress=False)
    ref = load_reference("nosmooth-resnet20", "smoke", results=tmp_path)
    assert ref.extra == {"test images": 64} and ref.provenance["run"]["kind"] == "nosmooth"
    assert ref.provenance["recipe"]["label_smoothing"] == 0.0 and ref.model()(
        tiny_data.test.images[:2].float()
    ).shape == (2, 10)
    assert stale_references(tmp_path) == [] and select_runs(smoke, ["nosmooth"], missing=True, results=tmp_path) == []
    monkeypatch.setattr(
        study_registry, "_STUDIES", {k: v for k, v in study_registry._STUDIES.items() if v is not toy_study}
    )
    assert stale_references(tmp_path) == ["smoke/nosmooth-resnet20: no longer a reference run (delete it)"]


def test_a_study_is_registered_once_and_must_be_a_study(toy_study):
    with pytest.raises(ValueError, match="'nosmooth' is registered twice"):
        study_registry.register_study(toy_study)
    with pytest.raises(TypeError, match="takes a Study, got dict"):
        study_registry.register_study({"kind": "x"})
    with pytest.raises(ValueError, match="unknown study 'nosmoth'; valid: chapter, side"):
        get_study("nosmoth")


def test_the_registry_has_forgotten_the_toy():
    assert "tiny_resnet" not in list_models() and "tiny_resnet_adamw" not in list_models()
    assert "nosmooth" not in [s.kind for s in list_studies()]
