import math

import pytest
import torch
from torch import nn

from cnnbook.analysis import probe


def two_layer_net() -> nn.Sequential:
    """x -> I x -> 3 I (I x): logits [3, 0] for x = [1, 0], small enough to differentiate by hand."""
    first, last = nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        first.weight.copy_(torch.eye(2))
        last.weight.copy_(3 * torch.eye(2))
    return nn.Sequential(first, last)


def test_relative_gradient_norms_match_a_hand_computed_net():
    # dL/dlogits = softmax([3, 0]) - [1, 0] = a * [-1, 1] with a = 1 / (e^3 + 1).
    # Last layer: dL/dW = outer(a[-1, 1], [1, 0]), norm a*sqrt(2); ||W|| = 3*sqrt(2): ratio a / 3.
    # First layer: the gradient at its output is W_last^T a[-1, 1] = 3a[-1, 1], so dL/dW has norm
    # 3a*sqrt(2); ||W|| = sqrt(2): ratio 3a. Raw norms rank the layers 3:1, relative ones 9:1.
    a = 1 / (math.e**3 + 1)
    x, y = torch.tensor([[1.0, 0.0]]), torch.tensor([0])
    names, relative = probe.relative_gradient_norms(two_layer_net(), x, y, layer_type=nn.Linear)
    _, raw = probe.gradient_norms(two_layer_net(), x, y, layer_type=nn.Linear)
    assert names == ["0", "1"]
    assert relative == pytest.approx([3 * a, a / 3], rel=1e-5)
    assert raw[0] / raw[1] == pytest.approx(3, rel=1e-5)


def test_relative_gradient_norms_leave_no_gradients_behind():
    model = two_layer_net()
    probe.relative_gradient_norms(model, torch.randn(4, 2), torch.tensor([0, 1, 0, 1]), layer_type=nn.Linear)
    assert all(p.grad is None for p in model.parameters())


def test_layer_trace_records_every_conv_each_epoch_and_leaves_training_unchanged(tiny_split):
    from cnnbook import Recipe
    from cnnbook.data import normalize
    from cnnbook.models import get_model
    from cnnbook.training.loop import fit, set_seed

    recipe = Recipe(epochs=2, batch_size=16, lr=0.05, precision="fp32")

    def run(traced: bool):
        set_seed(0)
        model = get_model("plain20")
        trace = [probe.LayerTrace(model, normalize(tiny_split.images[:8]), tiny_split.labels[:8])] if traced else []
        return fit(model, tiny_split, None, recipe, device="cpu", progress=False, callbacks=trace)

    plain, traced = run(False), run(True)
    assert plain["train_loss"] == traced["train_loss"]  # the probe's pass changes no weight and no BN statistic
    convs = sum(isinstance(m, nn.Conv2d) for m in get_model_modules("plain20"))
    for record in traced.records:
        assert len(record["weight_norm"]) == len(record["rel_grad"]) == len(record["rel_step"]) == convs
        assert all(v > 0 for v in record["rel_step"])  # every layer moved during the epoch
        assert all(math.isfinite(v) for v in record["rel_grad"])


def get_model_modules(name):
    from cnnbook.models import get_model

    return list(get_model(name).modules())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU: the model moves there after the trace is made")
def test_layer_trace_follows_a_model_that_training_moves_to_the_gpu(tiny_split):
    from cnnbook import Recipe
    from cnnbook.data import normalize
    from cnnbook.models import get_model
    from cnnbook.training.loop import fit

    model = get_model("plain20")  # on the CPU, as reproduce builds it; fit moves it
    trace = probe.LayerTrace(model, normalize(tiny_split.images[:8]), tiny_split.labels[:8])
    history = fit(model, tiny_split, None, Recipe(epochs=2, batch_size=16, lr=0.05), device="cuda", progress=False,
                  callbacks=[trace])  # fmt: skip
    assert all(v > 0 for v in history.records[-1]["rel_step"])
