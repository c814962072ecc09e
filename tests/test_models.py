import pytest
import torch

from cnnbook.models import count_parameters, get_model, list_models

# He et al. 2016, Table 6 (0.27M ... 1.7M), exact for option-A shortcuts and 10 classes.
CIFAR_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


def test_seed_resnet18_has_exactly_the_sources_parameter_count():
    assert count_parameters(get_model("resnet18")) == 11_173_962


@pytest.mark.parametrize("depth", sorted(CIFAR_PARAMS))
def test_cifar_resnets_match_table6_and_plain_twins_match_them(depth):
    assert count_parameters(get_model(f"resnet{depth}")) == CIFAR_PARAMS[depth]
    assert count_parameters(get_model(f"plain{depth}")) == CIFAR_PARAMS[depth]
    assert abs(CIFAR_PARAMS[depth] / 1e6 - {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7}[depth]) < 0.03


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
    assert count_parameters(get_model("resnet20", shortcut="projection")) > CIFAR_PARAMS[20]


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
