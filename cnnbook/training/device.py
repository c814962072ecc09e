"""Where and in which number format we compute: the device, bf16 or fp32, the backend switches.

Every decision here depends on the platform a reader runs the book on (a laptop CPU, an Apple GPU,
Colab's T4, a data-centre GPU); the tests simulate each one.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("auto", "bf16", "fp32")
# Ampere (8.0) and newer have bf16 tensor cores; older GPUs (T4 7.5, V100 7.0) only emulate bf16.
NATIVE_BF16_CAPABILITY = (8, 0)


def default_device() -> torch.device:
    """CUDA if available, else Apple MPS, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU of compute capability 8.0+, or a CPU
    with AVX-512 BF16 or AMX.

    Not ``torch.cuda.is_bf16_supported()``: it also answers yes where bf16 is only emulated (a T4),
    which is slower than fp32. On such GPUs ``precision="auto"`` trains in fp32: fp16 would be
    fast there but needs a GradScaler in the training loop, and no such GPU was at hand to measure it.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= NATIVE_BF16_CAPABILITY
    if device.type == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``"bf16"`` or ``"fp32"``; ``"auto"`` picks bf16 where :func:`native_bf16` says it is fast."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def autocast(device: torch.device, precision: str):
    """bf16 autocast on ``device`` for ``precision="bf16"`` (weights and optimizer stay fp32), else nothing."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def configure_backends(device: torch.device | str, precision: str) -> None:
    """Set the process-wide CUDA switches for a run on ``device`` in ``precision`` (``"bf16"``/``"fp32"``).

    cuDNN autotuning on: a run's shapes are fixed, so the fastest kernel found on the first step
    serves every later one. TF32 off for fp32 runs: cuDNN convolutions default to TF32 (10-bit
    mantissa), which would make a run recorded as fp32 compute in TF32. Nothing changes off CUDA.
    """
    if torch.device(device).type != "cuda":
        return
    torch.backends.cudnn.benchmark = True
    tf32 = precision != "fp32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32


def synchronize(device: torch.device | str) -> None:
    """Wait until ``device`` has finished its queued work (CUDA and MPS run asynchronously; a CPU does not)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
