import torch

from cnnbook.cost import multiply_adds, throughput
from cnnbook.models import get_model


def test_multiply_adds_of_resnet20_match_the_known_41M():
    assert abs(multiply_adds(get_model("resnet20"), (1, 3, 32, 32)) / 1e6 - 40.55) < 0.1


def test_multiply_adds_of_a_single_convolution():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert multiply_adds(conv, (1, 3, 32, 32)) == 32 * 32 * 8 * 3 * 3 * 3


def test_throughput_times_training_steps_and_pure_inference():
    model = get_model("resnet20")
    x, y = torch.randn(8, 3, 32, 32), torch.arange(8) % 10
    before = model.fc.weight.detach().clone()
    assert throughput(model, x, y, train=False, repeats=2) > 0
    assert torch.equal(model.fc.weight, before)  # inference leaves the weights alone
    assert throughput(model, x, y, train=True, repeats=2) > 0
    assert not torch.equal(model.fc.weight, before)  # training steps really ran
