from pathlib import Path

import pytest
import torch

from cnnbook.models import ModelMeta, count_parameters, get_model, list_models, model_meta

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", [n for n in list_models() if model_meta(n).published_params])
def test_published_parameter_counts_hold(name):
    meta = model_meta(name)
    ours = count_parameters(get_model(name, **meta.published_with))
    assert meta.matches(ours), f"{name}: {ours:,} parameters, published {meta.published_params:,}"


def test_published_counts_match_exactly_or_as_the_paper_rounds():
    assert ModelMeta("p", "c", 32, published_params=270_000).matches(269_722)
    assert not ModelMeta("p", "c", 32, published_params=270_000).matches(275_001)
    assert ModelMeta("p", "c", 32, published_params=800_000).matches(769_162)  # 0.8M: one digit
    assert not ModelMeta("p", "c", 32, published_params=7_978_856, exact=True).matches(7_978_857)


@pytest.mark.parametrize("name", list_models())
def test_every_model_names_a_cited_paper_an_existing_chapter_and_an_input_it_accepts(name):
    meta = model_meta(name)
    assert f"{{{meta.paper}," in (ROOT / "book" / "references.bib").read_text()
    assert list((ROOT / "notebooks").glob(f"*_{meta.chapter}.ipynb"))
    assert meta.input_size >= get_model(name).min_size


def test_unknown_name_has_no_metadata():
    with pytest.raises(ValueError, match=r"unknown model 'resnet21'.*Valid names"):
        model_meta("resnet21")


def test_seed_resnet18_has_exactly_the_sources_parameter_count():
    assert count_parameters(get_model("resnet18")) == 11_173_962


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_plain_twins_have_exactly_their_resnets_parameters(depth):
    assert count_parameters(get_model(f"plain{depth}")) == count_parameters(get_model(f"resnet{depth}"))


def test_plain_nets_have_no_shortcuts_and_resnets_do():
    plain, res = get_model("plain20"), get_model("resnet20")
    assert all(not b.residual for stage in plain.stages for b in stage)
    assert all(b.residual for stage in res.stages for b in stage)


@pytest.mark.parametrize("name", list_models())
def test_every_registry_model_maps_a_batch_to_logits(name):
    model = get_model(name, num_classes=7).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_gradients_reach_the_first_layer():
    model = get_model("resnet56")
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.arange(4))
    loss.backward()
    first = model.stem[0].weight.grad
    assert first is not None and first.abs().sum() > 0


def test_projection_shortcuts_add_parameters():
    assert count_parameters(get_model("resnet20", shortcut="projection")) > count_parameters(get_model("resnet20"))


def test_unknown_model_name_lists_valid_names_and_suggests():
    with pytest.raises(ValueError, match=r"unknown model 'resnet21'.*Did you mean.*resnet20"):
        get_model("resnet21")


def test_unknown_keyword_is_rejected_with_accepted_ones():
    with pytest.raises(TypeError, match=r"unknown keyword argument\(s\) depth.*accepts: num_classes, shortcut"):
        get_model("resnet20", depth=3)


def test_list_models_sorts_depths_naturally():
    names = list_models()
    assert names.index("resnet20") < names.index("resnet110")


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.randn(2, 1, 32, 32), "expects 3 input channels, got 1"),
        (torch.randn(3, 32, 32), "Add a batch dimension"),
        (torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8), "floating-point batch, got torch.uint8"),
        (torch.randn(2, 3, 4, 4), "at least 8x8"),
    ],
)
def test_bad_inputs_get_clear_errors(x, message):
    with pytest.raises((ValueError, TypeError), match=message):
        get_model("resnet18")(x)


def test_evaluation_mode_restores_the_previous_mode_even_after_an_error():
    from cnnbook.models.base import evaluation_mode

    model = get_model("resnet20").train()
    with evaluation_mode(model):
        assert not model.training and not model.stem[1].training
    assert model.training and model.stem[1].training
    with pytest.raises(RuntimeError, match="boom"), evaluation_mode(model):
        raise RuntimeError("boom")
    assert model.training
    model.eval()
    with evaluation_mode(model):
        pass
    assert not model.training


def test_a_batch_of_another_dtype_than_the_weights_gets_one_line_with_the_fix():
    model = get_model("resnet20").eval()
    with pytest.raises(TypeError, match=r"float32 weights but got a torch.float64 batch: convert it with x.to"):
        model(torch.zeros(2, 3, 32, 32, dtype=torch.float64))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)  # autocast casts inside: allowed
