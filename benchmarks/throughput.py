"""Training throughput: the source's pipeline vs cnnbook's, same model, same machine, same run.

(a) source: per-image PIL ToTensor + Normalize in a DataLoader over in-memory CIFAR-10,
    batch 64, NCHW, SGD(lr=0.001, momentum=0.9), ``loss.item()`` every step.
(b) cnnbook: ``cnnbook.fit`` itself on uint8 tensors (batch crop/flip), channels-last,
    batch 256, SGD Nesterov + one-cycle, no host sync in the hot loop, with its default
    precision (bf16 autocast where the CPU computes bf16 natively), and (c) the same in fp32,
    which separates the pipeline's gain from the number format's.

Repeats are interleaved (a, b, c, a, b, c, ...) and medians reported. GFLOP/s are compared with
the nominal peak of the number format used (bf16 dot products run at twice the FP32 rate) and
with a measured one: a large matrix product in that format on the same cores
(``common.measured_peak_gflops``).

    python benchmarks/throughput.py [--models resnet20 googlenet_cifar] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import SourceStyleDataset, machine, measured_peak_gflops, peak_gflops  # noqa: E402

import cnnbook  # noqa: E402
from cnnbook.analysis.cost import multiply_adds  # noqa: E402
from cnnbook.training.device import resolve_precision  # noqa: E402


def source_images_per_s(model_name: str, split, steps: int, warmup: int = 3) -> float:
    """The source's loop, timed over ``steps`` batches after ``warmup`` batches."""
    torch.manual_seed(0)
    model = cnnbook.get_model(model_name)
    model.train()
    loader = torch.utils.data.DataLoader(SourceStyleDataset(split.images, split.labels), batch_size=64, shuffle=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    running, n, t0 = 0.0, 0, None
    for i, (x, y) in enumerate(loader):
        if i == warmup:
            t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        running += loss.item()
        if i >= warmup:
            n += len(y)
        if i == warmup + steps - 1:
            break
    return n / (time.perf_counter() - t0)


def cnnbook_images_per_s(model_name: str, split, precision: str = "auto", batch_size: int = 256) -> float:
    """One epoch of ``cnnbook.fit`` over ``split`` (no validation): its own images/s."""
    cnnbook.set_seed(0)
    model = cnnbook.get_model(model_name)
    recipe = cnnbook.Recipe(epochs=1, batch_size=batch_size, lr=0.1, precision=precision)
    history = cnnbook.fit(model, split, None, recipe, progress=False, device="cpu")
    return history.last["images_per_s"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet20"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=3072, help="images per timed measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    data = cnnbook.load_cifar10()
    split = data.train.take(args.images + 3 * 64)
    info = machine()
    peak = peak_gflops(info)
    precision = resolve_precision("auto", "cpu")
    format_peak = peak * (2 if precision == "bf16" else 1) if peak else None
    measured = {p: measured_peak_gflops(torch.bfloat16 if p == "bf16" else torch.float32) for p in ("fp32", "bf16")}
    results = {}
    for name in args.models:
        cnnbook_images_per_s(name, data.train.take(512))  # warm-up: allocator, kernels
        seed, ours, ours_fp32 = [], [], []
        for _ in range(args.repeats):
            seed.append(source_images_per_s(name, split, args.images // 64))
            ours.append(cnnbook_images_per_s(name, split.take(args.images)))
            ours_fp32.append(cnnbook_images_per_s(name, split.take(args.images), precision="fp32"))
        macs = multiply_adds(cnnbook.get_model(name), (1, 3, 32, 32))
        train_gflops = 6 * macs / 1e9  # forward + backward ~ 3x forward; 2 FLOPs per multiply-add
        s, c, c32 = statistics.median(seed), statistics.median(ours), statistics.median(ours_fp32)
        results[name] = {
            "seed_images_per_s": round(s, 1),
            "cnnbook_images_per_s": round(c, 1),
            "ratio": round(c / s, 3),
            "cnnbook_fp32_images_per_s": round(c32, 1),
            "ratio_fp32": round(c32 / s, 3),
            "seed_runs": [round(v, 1) for v in seed],
            "cnnbook_runs": [round(v, 1) for v in ours],
            "cnnbook_fp32_runs": [round(v, 1) for v in ours_fp32],
            "train_gflop_per_image": round(train_gflops, 4),
            "achieved_gflop_per_s": round(c * train_gflops, 1),
            "fraction_of_peak": round(c * train_gflops / format_peak, 3) if peak else None,
            "fp32_fraction_of_fp32_peak": round(c32 * train_gflops / peak, 3) if peak else None,
            "fraction_of_measured_peak": round(c * train_gflops / measured[precision], 3),
            "fp32_fraction_of_measured_fp32_peak": round(c32 * train_gflops / measured["fp32"], 3),
        }
    out = {
        "machine": info,
        "cnnbook_precision": precision,
        "nominal_peak_gflop_per_s": peak,
        "nominal_peak_of_cnnbook_precision": format_peak,
        "measured_peak_gflop_per_s": {p: round(v, 1) for p, v in measured.items()},
        "repeats": args.repeats,
        "images": args.images,
        "models": results,
    }
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(
            f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}, {info['threads']} threads; "
            f"nominal FP32 peak {peak:.0f} GFLOP/s; cnnbook runs in {precision}"
            if peak
            else ""
        )
        print(
            "measured peak (a large matrix product): " + ", ".join(f"{p} {v:.0f} GFLOP/s" for p, v in measured.items())
        )
        print(
            f"{'model':<18}{'source img/s':>14}{'cnnbook img/s':>15}{'ratio':>8}{'fp32 img/s':>12}{'ratio':>8}"
            f"{'GFLOP/s':>9}{'of peak':>9}{'of measured':>13}"
        )
        for name, r in results.items():
            frac = f"{100 * r['fraction_of_peak']:.0f}%" if r["fraction_of_peak"] else "?"
            print(
                f"{name:<18}{r['seed_images_per_s']:>14.0f}{r['cnnbook_images_per_s']:>15.0f}"
                f"{r['ratio']:>8.2f}{r['cnnbook_fp32_images_per_s']:>12.0f}{r['ratio_fp32']:>8.2f}"
                f"{r['achieved_gflop_per_s']:>9.0f}{frac:>9}{100 * r['fraction_of_measured_peak']:>12.0f}%"
            )
    return out


if __name__ == "__main__":
    main()
