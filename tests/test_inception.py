import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from cnnbook.analysis import probe
from cnnbook.models import count_parameters, get_model
from cnnbook.models.inception import (
    GOOGLENET_STAGES,
    AuxClassifier,
    ConvBNReLU,
    InceptionModule,
    InceptionOutputs,
    InceptionSpec,
)


def test_googlenet_with_auxiliary_heads_matches_torchvisions_parameter_count():
    # torchvision's "5x5" branches use 3x3 kernels (pytorch/vision#906), hence wide_kernel=3; the
    # count without heads is the registry's published one (tests/test_models.py).
    theirs = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    ours = get_model("googlenet", num_classes=1000, aux_logits=True, wide_kernel=3)
    assert count_parameters(ours) == count_parameters(theirs)


def test_real_5x5_branches_add_exactly_the_extra_kernel_weights():
    extra = sum((25 - 9) * s.red5x5 * s.ch5x5 for stage in GOOGLENET_STAGES for s in stage)
    five = count_parameters(get_model("googlenet", num_classes=1000))
    three = count_parameters(get_model("googlenet", num_classes=1000, wide_kernel=3))
    assert five - three == extra


def test_inception_net_has_the_sources_channel_plan():
    model = get_model("inception_net")
    channels = [m.out_channels for m in model.body if isinstance(m, InceptionModule)]
    assert channels == [256, 480, 512]
    assert model.fc.in_features == 512
    maps = probe.feature_maps(model, torch.randn(2, 3, 64, 64), ["body.inception3a", "body.inception4a"])
    assert maps["body.inception3a"].shape == (2, 256, 8, 8) and maps["body.inception4a"].shape == (2, 512, 4, 4)


def test_googlenet_cifar_is_compact():
    assert 250_000 <= count_parameters(get_model("googlenet_cifar")) <= 1_000_000


def test_branches_concatenate_along_channels():
    spec = InceptionSpec(ch1x1=5, red3x3=4, ch3x3=7, red5x5=2, ch5x5=3, pool_proj=6)
    module = InceptionModule(11, spec).eval()
    x = torch.randn(2, 11, 9, 9)
    out = module(x)
    assert out.shape == (2, 5 + 7 + 3 + 6, 9, 9) and spec.out_channels == 21
    parts = [getattr(module, name)(x) for name in InceptionModule.branches]
    assert torch.equal(out, torch.cat(parts, dim=1))
    assert [p.shape[1] for p in parts] == [5, 7, 3, 6]


def test_every_branch_convolution_is_followed_by_batchnorm_and_relu():
    module = InceptionModule(16, InceptionSpec(4, 4, 4, 4, 4, 4))
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    units = [m for m in module.modules() if isinstance(m, ConvBNReLU)]
    assert len(convs) == len(units) == 6
    for unit in units:
        assert [type(m) for m in unit] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    for name in InceptionModule.branches:  # each branch ends in a ReLU: its output is nonnegative
        assert isinstance(list(getattr(module, name).modules())[-1], nn.ReLU)
    assert (module(torch.randn(2, 16, 5, 5)) >= 0).all()


@pytest.mark.parametrize("name", ["googlenet", "googlenet_cifar"])
def test_aux_heads_are_off_by_default_and_train_mode_only_when_on(name):
    x = torch.randn(2, 3, 32, 32)
    plain = get_model(name, num_classes=7).train()
    assert not plain.aux_logits and isinstance(plain(x), torch.Tensor)
    model = get_model(name, num_classes=7, aux_logits=True).train()
    out = model(x)
    assert isinstance(out, InceptionOutputs) and out.logits.shape == (2, 7)
    assert len(out.aux) == len(model.aux) >= 1 and all(a.shape == (2, 7) for a in out.aux)
    assert all(isinstance(head, AuxClassifier) for head in model.aux.values())
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 7)


def test_aux_loss_sends_gradient_to_the_heads():
    model = get_model("googlenet_cifar", aux_logits=True).train()
    out = model(torch.randn(4, 3, 32, 32))
    y = torch.arange(4)
    loss = F.cross_entropy(out.logits, y) + 0.3 * sum(F.cross_entropy(a, y) for a in out.aux)
    loss.backward()
    assert all(p.grad is not None for p in model.aux.parameters())


@pytest.mark.parametrize("name, size", [("googlenet", 224), ("googlenet_cifar", 32), ("inception_net", 32)])
def test_gradients_reach_the_first_layer(name, size):
    model = get_model(name)
    loss = F.cross_entropy(model(torch.randn(2, 3, size, size)), torch.arange(2))
    loss.backward()
    first = model.stem[0].conv.weight.grad
    assert first is not None and first.abs().sum() > 0


def test_googlenet_rejects_images_too_small_for_its_downsampling():
    model = get_model("googlenet").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 15, 15)).shape == (1, 10)
    with pytest.raises(ValueError, match="at least 15x15 pixels, got 14x14"):
        model(torch.randn(1, 3, 14, 14))


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.randn(2, 1, 32, 32), "expects 3 input channels, got 1"),
        (torch.randn(3, 32, 32), "Add a batch dimension"),
        (torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8), "floating-point batch"),
    ],
)
def test_bad_inputs_get_clear_errors(x, message):
    with pytest.raises((ValueError, TypeError), match=message):
        get_model("googlenet_cifar")(x)


def test_zero_output_ablates_one_branch_and_restores_it():
    model = get_model("googlenet_cifar").eval()
    x = torch.randn(2, 3, 32, 32)
    name = "body.inception3a.branch5x5"
    with torch.no_grad():
        before = model(x)
        with probe.zero_output(model, name):
            maps = probe.feature_maps(model, x, [name, "body.inception3a"])
            ablated = model(x)
        after = model(x)
    assert not maps[name].any()
    spec = model.body.inception3a
    start = spec.branch1x1.conv.out_channels + spec.branch3x3[1].conv.out_channels
    assert not maps["body.inception3a"][:, start : start + spec.branch5x5[1].conv.out_channels].any()
    assert not torch.allclose(before, ablated) and torch.equal(before, after)
    with pytest.raises(ValueError, match="no submodule named 'body.nope'"):
        with probe.zero_output(model, "body.nope"):
            pass


def test_branch_contributions_ablate_every_branch_of_every_module():
    from cnnbook.analysis.branches import branch_contributions
    from cnnbook.data import Split

    torch.manual_seed(0)
    model = get_model("googlenet_cifar").eval()
    split = Split(torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8), torch.arange(10))
    result = branch_contributions(model, split, activation_images=4)
    assert result.modules == [f"body.inception{m}" for m in ("3a", "3b", "4a", "4b", "4c")]
    assert result.mean_activation.shape == result.accuracy_drop.shape == (5, 4)
    assert (result.mean_activation >= 0).all()  # branch outputs end in a ReLU
    assert 0 <= result.baseline <= 1
    assert (result.accuracy_drop <= result.baseline).all()


def test_branch_contributions_match_whole_network_ablations():
    """Rerunning from the ablated module on gives what ablating and evaluating the whole network gives."""
    from cnnbook.analysis.branches import branch_contributions
    from cnnbook.data import Split, normalize
    from cnnbook.models.inception import InceptionModule
    from cnnbook.training.evaluation import evaluate

    torch.manual_seed(0)
    model = get_model("googlenet_cifar")
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():  # batch statistics of these images, so that predictions differ between images
        for _ in range(10):
            model(normalize(images))
    model.eval()
    with torch.no_grad():
        split = Split(images, model(normalize(images)).argmax(1))  # every prediction right
    result = branch_contributions(model, split, activation_images=4, batch_size=16)
    baseline = evaluate(model, split)["accuracy"]
    expected = torch.zeros_like(result.accuracy_drop)
    for i, module in enumerate(result.modules):
        for j, branch in enumerate(InceptionModule.branches):
            with probe.zero_output(model, f"{module}.{branch}"):
                expected[i, j] = baseline - evaluate(model, split)["accuracy"]
    assert result.baseline == baseline
    assert expected.abs().sum() > 0  # the ablations change predictions, so the comparison can fail
    assert torch.allclose(result.accuracy_drop, expected)
    with pytest.raises(TypeError, match="needs a GoogLeNet, got ResNet"):
        branch_contributions(get_model("resnet20"), split)
