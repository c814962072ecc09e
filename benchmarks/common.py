"""Shared pieces of the benchmarks: machine description and the source's data pipeline."""

from __future__ import annotations

import os
import platform
import statistics

import numpy as np
import torch
from PIL import Image
from torchvision import transforms


def machine() -> dict:
    """CPU model, cores, torch version and threads: printed with every result."""
    cpu = platform.processor() or "unknown"
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        cpu = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name"))
        flags = next(line for line in info.splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "avx512": " avx512f" in flags,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def peak_gflops(info: dict, ghz: float | None = None) -> float | None:
    """Nominal FP32 peak: cores x GHz x FLOPs/cycle.

    FLOPs/cycle assumes two FMA pipes per core: 64 with Intel's 512-bit AVX-512 units, 32 with
    256-bit pipes (AVX2, and AMD Zen 4, which runs AVX-512 on 256-bit halves).
    """
    ghz = ghz or _cpu_ghz()
    if ghz is None:
        return None
    flops_per_cycle = 64 if info["avx512"] and "Intel" in info["cpu"] else 32
    return info["cores"] * ghz * flops_per_cycle


def measured_peak_gflops(dtype: torch.dtype, max_n: int = 4096, repeats: int = 5) -> float:
    """Measured peak: GFLOP/s of a square matrix product in ``dtype`` on this process's threads
    (median of ``repeats`` after a warm-up), the most the same cores give one large dense kernel.
    The size doubles from 256 until a product takes 0.5 s or reaches ``max_n``, so an emulated
    format (bf16 on a CPU without it can be 100x slower) is measured in seconds, not minutes."""
    import time

    n = 256
    while True:
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        started = time.perf_counter()
        a @ b  # also the warm-up: kernel selection, page faults
        if n >= max_n or time.perf_counter() - started > 0.5:
            break
        n *= 2
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * n**3 / statistics.median(times) / 1e9


def _cpu_ghz() -> float | None:
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
        return statistics.median(mhz) / 1000 if mhz else None
    except OSError:
        return None


class SourceStyleDataset(torch.utils.data.Dataset):
    """What ``torchvision.datasets.CIFAR10`` + the source's transform do per image:
    uint8 array -> PIL image -> ``ToTensor`` -> ``Normalize((0.5,)*3, (0.5,)*3)``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images = np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())  # HWC like torchvision
        self.labels = labels.tolist()
        self.transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), self.labels[i]
