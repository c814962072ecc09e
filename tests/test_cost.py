import torch

from cnnbook.analysis.cost import multiply_adds, throughput
from cnnbook.models import get_model


def test_multiply_adds_of_resnet20_match_the_known_41M():
    assert abs(multiply_adds(get_model("resnet20"), (1, 3, 32, 32)) / 1e6 - 40.55) < 0.1


def test_multiply_adds_of_a_single_convolution():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert multiply_adds(conv, (1, 3, 32, 32)) == 32 * 32 * 8 * 3 * 3 * 3


def test_throughput_runs_training_steps_or_pure_inference():
    model = get_model("resnet20")
    x, y = torch.randn(8, 3, 32, 32), torch.arange(8) % 10
    before = model.fc.weight.detach().clone()
    throughput(model, x, y, train=False, repeats=2)
    assert torch.equal(model.fc.weight, before)  # inference leaves the weights alone
    throughput(model, x, y, train=True, repeats=2)
    assert not torch.equal(model.fc.weight, before)  # training steps really ran


def test_throughput_is_images_over_the_median_time_of_the_timed_passes(monkeypatch):
    import time

    clock = iter([0.0, 0.5, 10.0, 10.25, 20.0, 21.0])  # three timed passes: 0.5 s, 0.25 s, 1 s
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 10))
    x, y = torch.randn(8, 3, 4, 4), torch.arange(8) % 10
    assert throughput(model, x, y, train=False, repeats=3) == 8 / 0.5
