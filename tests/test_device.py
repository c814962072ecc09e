"""Platform decisions, on simulated platforms: an Apple GPU (MPS), a T4-class GPU (bf16 emulated,
compute capability 7.5), an H100-class GPU (9.0), Windows. Nothing here needs the real device."""

import pytest
import torch
from torch import nn

from cnnbook import data
from cnnbook.analysis import cost
from cnnbook.experiments import finetune
from cnnbook.runs import budgets
from cnnbook.training import device, distributed
from cnnbook.training.loop import fit
from cnnbook.training.recipe import Recipe


@pytest.fixture
def t4(monkeypatch):
    """A T4: capability 7.5, and `is_bf16_supported()` says yes because it counts emulation."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)


@pytest.fixture
def h100(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)


@pytest.fixture
def mac(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)


@pytest.fixture
def cuda_switches():
    """The process-wide CUDA switches, restored after the test."""
    switches = [
        (torch.backends.cudnn, "benchmark"),
        (torch.backends.cudnn, "allow_tf32"),
        (torch.backends.cuda.matmul, "allow_tf32"),
    ]
    saved = [getattr(module, name) for module, name in switches]
    yield
    for (module, name), value in zip(switches, saved):
        setattr(module, name, value)


def test_a_t4_trains_in_fp32_and_defaults_to_the_quick_budget(t4):
    assert device.default_device().type == "cuda"
    assert not device.native_bf16("cuda")
    assert device.resolve_precision("auto", "cuda") == "fp32"
    name, reason = budgets.default_budget_for("cuda")
    assert name == "quick"
    assert "7.5" in reason


def test_an_h100_trains_in_bf16_and_defaults_to_the_full_budget(h100):
    assert device.resolve_precision("auto", "cuda") == "bf16"
    name, reason = budgets.default_budget_for("cuda")
    assert name == "full"
    assert "9.0" in reason


def test_a_mac_trains_on_mps_in_fp32_at_the_quick_budget(mac):
    assert device.default_device() == torch.device("mps")
    assert device.resolve_precision("auto", "mps") == "fp32"
    assert budgets.default_budget_for("mps")[0] == "quick"


def test_a_cpu_defaults_to_the_quick_budget():
    name, reason = budgets.default_budget_for("cpu")
    assert name == "quick"
    assert "CPU" in reason


def test_fp32_on_cuda_turns_tf32_off_and_autotuning_on(cuda_switches):
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = True  # cuDNN's default
    device.configure_backends("cuda", "fp32")
    assert torch.backends.cudnn.benchmark
    assert not torch.backends.cudnn.allow_tf32
    assert not torch.backends.cuda.matmul.allow_tf32
    device.configure_backends("cuda", "bf16")  # a later bf16 run in the same process gets TF32 back
    assert torch.backends.cudnn.allow_tf32


def test_backends_stay_untouched_off_cuda(cuda_switches):
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = True
    for name in ("cpu", "mps"):
        device.configure_backends(name, "fp32")
    assert not torch.backends.cudnn.benchmark
    assert torch.backends.cudnn.allow_tf32


def test_fit_configures_the_backends_for_its_device_and_precision(monkeypatch, tiny_split):
    calls = []
    monkeypatch.setattr("cnnbook.training.loop.configure_backends", lambda *args: calls.append(args))
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    fit(model, tiny_split, None, Recipe(epochs=1, batch_size=32, precision="fp32"), device="cpu", progress=False)
    assert calls == [(torch.device("cpu"), "fp32")]


def _small_net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))


def test_peak_training_memory_on_mps_traces_the_pass_on_a_cpu_copy(monkeypatch):
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    torch.manual_seed(0)
    on_cpu = cost.peak_training_memory(_small_net(), x, y)
    monkeypatch.setattr(cost, "_device_of", lambda model: torch.device("mps"))
    torch.manual_seed(0)
    assert cost.peak_training_memory(_small_net(), x, y) == on_cpu > 0


def test_throughput_waits_for_the_device_after_every_pass(monkeypatch):
    waited = []
    monkeypatch.setattr(cost, "synchronize", waited.append)
    cost.throughput(_small_net(), torch.randn(2, 3, 8, 8), torch.tensor([0, 1]), train=True, repeats=2)
    assert waited == [torch.device("cpu")] * 3  # warm-up + 2 timed passes


def test_synchronize_waits_for_an_apple_gpu(monkeypatch):
    waited = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waited.append("mps"))
    device.synchronize("mps")
    device.synchronize("cpu")
    assert waited == ["mps"]


def test_resize_antialiases_only_when_shrinking_and_never_on_mps():
    cpu, mps = torch.device("cpu"), torch.device("mps")
    assert not finetune.resize_antialias(32, 224, cpu)  # the book's use: CIFAR enlarged
    assert finetune.resize_antialias(224, 112, cpu)
    assert not finetune.resize_antialias(224, 112, mps)


def test_enlarging_cifar_resizes_without_antialiasing(monkeypatch):
    seen = []
    interpolate = torch.nn.functional.interpolate

    def spy(*args, **kwargs):
        seen.append(kwargs["antialias"])
        return interpolate(*args, **kwargs)

    monkeypatch.setattr(finetune.F, "interpolate", spy)
    out = finetune.ImageNetInput(64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    assert out.shape == (2, 3, 64, 64)
    assert seen == [False]


@pytest.mark.parametrize(
    ("platform", "nccl", "kind", "backend"),
    [
        ("linux", True, "cuda", "nccl"),
        ("win32", True, "cuda", "gloo"),  # Windows builds have no NCCL
        ("linux", False, "cuda", "gloo"),
        ("linux", True, "cpu", "gloo"),
    ],
)
def test_distributed_backend_is_nccl_only_where_it_exists(monkeypatch, platform, nccl, kind, backend):
    monkeypatch.setattr(distributed.sys, "platform", platform)
    monkeypatch.setattr(torch.distributed, "is_nccl_available", lambda: nccl)
    assert distributed.backend_for(torch.device(kind)) == backend


def test_normalize_builds_its_constants_once_per_device(monkeypatch):
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    first = data.normalize(x)

    def no_host_tensors(*args, **kwargs):
        raise AssertionError("normalize built a tensor from host values again")

    monkeypatch.setattr(torch, "tensor", no_host_tensors)
    assert torch.equal(data.normalize(x), first)


def test_augment_batch_copies_its_random_draws_to_the_device_once(monkeypatch):
    copies = []
    to = torch.Tensor.to

    def counting_to(self, *args, **kwargs):
        copies.append(args)
        return to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", counting_to)
    data.augment_batch(torch.zeros(8, 3, 32, 32, dtype=torch.uint8), torch.Generator().manual_seed(0))
    assert len(copies) == 1
