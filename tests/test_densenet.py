import math

import pytest
import torch
import torch.nn.functional as F
import torchvision

from cnnbook.analysis import probe
from cnnbook.analysis.cost import peak_training_memory
from cnnbook.models import count_parameters, get_model
from cnnbook.models.densenet import DenseBlock, DenseNet, Transition, feature_reuse


def test_torchvision_densenet121_weights_map_one_to_one():
    ours, theirs = get_model("densenet121", num_classes=1000), torchvision.models.densenet121(weights=None)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert len(ours_sd) == len(theirs_sd) == 727
    assert [t.shape for t in ours_sd.values()] == [t.shape for t in theirs_sd.values()]
    ours.load_state_dict(theirs_sd)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        logits = ours.eval()(x)
        torch.testing.assert_close(logits, theirs.eval()(x))
    assert logits.shape == (1, 1000)


def test_densenet_bc100_has_the_papers_layout():
    model = get_model("densenet_bc100")
    blocks = [m for m in model.modules() if isinstance(m, DenseBlock)]
    assert [len(b) for b in blocks] == [16, 16, 16]
    weighted = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(weighted) == 100  # L: 2 convs per layer, the stem, 2 transitions, the classifier
    assert model.classifier.in_features == 150 + 16 * 12


def test_densenet_cifar_is_compact():
    model = get_model("densenet_cifar")
    assert 100_000 < count_parameters(model) < 300_000


def test_channels_grow_by_k_per_layer_and_transitions_compress():
    block = DenseBlock(num_layers=4, in_channels=16, growth_rate=12, bn_size=4)
    assert [layer.conv1.in_channels for layer in block.values()] == [16, 28, 40, 52]
    assert all(layer.conv1.out_channels == 48 and layer.conv2.out_channels == 12 for layer in block.values())
    out = block(torch.randn(2, 16, 8, 8))
    assert out.shape == (2, 64, 8, 8) and block.out_channels == 64
    assert Transition(64, 32)(out).shape == (2, 32, 4, 4)


def test_compression_sets_the_transition_width():
    model = DenseNet(12, (2, 2, 2), 24, compression=0.75, stem="cifar")
    # 24 + 2*12 = 48 -> 36; 36 + 24 = 60 -> 45; 45 + 24 = 69
    assert model.features.transition1.conv.out_channels == 36
    assert model.features.transition2.conv.out_channels == 45
    assert model.classifier.in_features == 69


def test_densenet_cifar_block_outputs_and_logits():
    model = get_model("densenet_cifar", num_classes=7)
    names = [f"features.denseblock{i}" for i in range(1, 5)]
    maps = probe.feature_maps(model, torch.randn(2, 3, 32, 32), names + ["classifier"])
    assert [tuple(maps[n].shape) for n in names] == [(2, 48, 32, 32), (2, 88, 16, 16), (2, 172, 8, 8), (2, 214, 4, 4)]
    assert maps["classifier"].shape == (2, 7)


def test_gradients_reach_the_first_layer():
    model = get_model("densenet_bc100")
    F.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.arange(2)).backward()
    first = model.features.conv0.weight.grad
    assert first is not None and first.abs().sum() > 0


@pytest.mark.parametrize(
    "name, x, message",
    [
        ("densenet_cifar", torch.randn(2, 1, 32, 32), "expects 3 input channels, got 1"),
        ("densenet_cifar", torch.randn(3, 32, 32), "Add a batch dimension"),
        ("densenet_cifar", torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8), "floating-point batch"),
        ("densenet121", torch.randn(2, 3, 16, 16), "at least 32x32"),
    ],
)
def test_bad_inputs_get_clear_errors(name, x, message):
    with pytest.raises((ValueError, TypeError), match=message):
        get_model(name)(x)


def test_bad_configurations_are_rejected():
    with pytest.raises(ValueError, match="unknown stem 'mnist'"):
        DenseNet(12, (2, 2), 24, stem="mnist")
    with pytest.raises(ValueError, match="compression must be in"):
        DenseNet(12, (2, 2), 24, compression=0)


def pair(name, **kw):
    models = []
    for efficient in (False, True):
        torch.manual_seed(0)
        models.append(get_model(name, memory_efficient=efficient, **kw))
    return models


def test_memory_efficient_gives_the_same_gradients_and_running_statistics():
    plain, efficient = pair("densenet_cifar")
    x, y = torch.randn(8, 3, 32, 32), torch.arange(8)
    for model in (plain, efficient):
        F.cross_entropy(model(x), y).backward()
    for (name, p), q in zip(plain.named_parameters(), efficient.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
    for (name, a), b in zip(plain.named_buffers(), efficient.buffers()):
        assert torch.equal(a, b), f"{name} differs: the recomputation must not update it again"


def test_memory_efficient_needs_less_memory():
    plain, efficient = pair("densenet_cifar")
    x, y = torch.randn(16, 3, 32, 32), torch.arange(16) % 10
    assert peak_training_memory(efficient, x, y) < 0.8 * peak_training_memory(plain, x, y)


class Temporary(torch.nn.Module):
    """A model that allocates a 4 MB scratch tensor in its forward pass and frees it."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        scratch = torch.ones(1_000_000)
        return self.fc(x) + 0 * scratch.sum()


def test_peak_memory_sees_a_transient_allocation():
    peak = peak_training_memory(Temporary(), torch.randn(2, 4), torch.tensor([0, 1]))
    assert 4_000_000 <= peak < 4_050_000


def test_feature_reuse_reads_weights_per_source():
    block = DenseBlock(num_layers=3, in_channels=5, growth_rate=2, bn_size=1)
    transition = Transition(11, 4)
    with torch.no_grad():
        for conv in [layer.conv1 for layer in block.values()] + [transition.conv]:
            conv.weight.zero_()
        block["denselayer3"].conv1.weight[:, 5:7] = -2.0  # layer 3 reads only layer 1's maps
        transition.conv.weight[:, :5] = 1.0  # the transition reads only the block input
    heat = feature_reuse(block, transition)
    assert heat.shape == (4, 4)
    assert heat[2].tolist()[:3] == [0.0, 2.0, 0.0] and math.isnan(heat[2, 3])
    assert heat[3].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert math.isnan(heat[0, 1]) and heat[0, 0] == 0


def test_folding_the_batch_norm_scale_weights_each_source_by_its_gamma():
    block = DenseBlock(num_layers=2, in_channels=3, growth_rate=2, bn_size=1)
    layer2 = block["denselayer2"]
    with torch.no_grad():
        layer2.conv1.weight.fill_(1.0)
        layer2.norm1.weight.copy_(torch.tensor([0.0, 0.0, 0.0, -3.0, 3.0]))  # block input switched off
    raw, folded = feature_reuse(block), feature_reuse(block, fold_bn=True)
    assert raw[1, :2].tolist() == [1.0, 1.0]  # the convolution alone reads both sources alike
    assert folded[1, :2].tolist() == [0.0, 3.0]  # through the batch norm, only layer 1 is read


def test_feature_reuse_by_block_scales_every_target_to_one():
    from cnnbook.models.densenet import feature_reuse_by_block

    maps = feature_reuse_by_block(get_model("densenet_cifar"))
    assert list(maps) == ["denseblock2", "denseblock3", "denseblock4"]  # block 1 has one layer
    assert maps["denseblock2"].shape == (5, 5)  # 4 layers + transition; block input + 4 layers
    assert maps["denseblock4"].shape == (8, 9)  # the last block has no transition
    assert torch.allclose(maps["denseblock3"].nan_to_num(0).amax(dim=1), torch.ones(9))
    assert maps["denseblock3"][0, 1:].isnan().all()  # layer 1 sees only the block input


def test_trace_channels_follows_the_growth_through_blocks_and_transitions():
    from cnnbook.models.densenet import trace_channels

    rows = trace_channels(get_model("densenet_cifar"), torch.randn(2, 3, 32, 32))
    by_name = {r["module"]: r for r in rows}
    assert by_name["conv0"]["channels out"] == 32
    assert by_name["denseblock1.denselayer1"]["channels in"] == 32
    assert by_name["denseblock1.denselayer1"]["channels out"] == 16
    assert by_name["denseblock3"]["channels out"] == 172
    assert (by_name["transition3"]["channels out"], by_name["transition3"]["maps"]) == (86, "4x4")


def test_reads_by_kind_averages_each_kind_of_source_over_the_layers():
    from cnnbook.models.densenet import reads_by_kind

    nan = float("nan")
    heat = torch.tensor(  # rows: layers 1-3, then the transition; columns: block input, layers 1-3
        [[1.0, nan, nan, nan], [0.2, 1.0, nan, nan], [0.4, 0.6, 1.0, nan], [9.0, 9.0, 9.0, 9.0]]
    )
    reads = reads_by_kind(heat)
    assert reads["direct predecessor"] == 1.0  # layers 2 and 3 read layers 1 and 2
    assert reads["block input"] == pytest.approx(0.3)  # layer 1 (all block input) left out
    assert reads["layers in between"] == pytest.approx(0.6)  # layer 3 reading layer 1
    with pytest.raises(ValueError, match="2 layer"):
        reads_by_kind(heat[:2, :3])
