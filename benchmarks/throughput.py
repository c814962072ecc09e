"""Training throughput: the source's pipeline vs cnnbook's, same model, same machine, same run.

(a) source: per-image PIL ToTensor + Normalize in a DataLoader over in-memory CIFAR-10,
    batch 64, NCHW, SGD(lr=0.001, momentum=0.9), ``loss.item()`` every step.
(b) cnnbook: ``cnnbook.fit`` itself on uint8 tensors (batch crop/flip), channels-last,
    batch 256, SGD Nesterov + one-cycle, no host sync in the hot loop.

Repeats are interleaved (a, b, a, b, ...) and medians reported.

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
from common import SourceStyleDataset, machine, peak_gflops  # noqa: E402

import cnnbook  # noqa: E402
from cnnbook.cost import multiply_adds  # noqa: E402


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


def cnnbook_images_per_s(model_name: str, split, batch_size: int = 256) -> float:
    """One epoch of ``cnnbook.fit`` over ``split`` (no validation): its own images/s."""
    cnnbook.set_seed(0)
    model = cnnbook.get_model(model_name)
    history = cnnbook.fit(model, split, None, epochs=1, batch_size=batch_size, lr=0.1, progress=False, device="cpu")
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
    results = {}
    for name in args.models:
        cnnbook_images_per_s(name, data.train.take(512))  # warm-up: allocator, kernels
        seed, ours = [], []
        for _ in range(args.repeats):
            seed.append(source_images_per_s(name, split, args.images // 64))
            ours.append(cnnbook_images_per_s(name, split.take(args.images)))
        macs = multiply_adds(cnnbook.get_model(name), (1, 3, 32, 32))
        train_gflops = 6 * macs / 1e9  # forward + backward ~ 3x forward; 2 FLOPs per multiply-add
        s, c = statistics.median(seed), statistics.median(ours)
        results[name] = {"seed_images_per_s": round(s, 1), "cnnbook_images_per_s": round(c, 1),
                         "ratio": round(c / s, 3), "seed_runs": [round(v, 1) for v in seed],
                         "cnnbook_runs": [round(v, 1) for v in ours],
                         "train_gflop_per_image": round(train_gflops, 4),
                         "achieved_gflop_per_s": round(c * train_gflops, 1),
                         "fraction_of_peak": round(c * train_gflops / peak, 3) if peak else None}
    out = {"machine": info, "nominal_peak_gflop_per_s": peak, "repeats": args.repeats, "images": args.images,
           "models": results}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}, {info['threads']} threads; "
              f"nominal FP32 peak {peak:.0f} GFLOP/s" if peak else "")
        print(f"{'model':<18}{'source img/s':>14}{'cnnbook img/s':>15}{'ratio':>8}{'GFLOP/s':>9}{'of peak':>9}")
        for name, r in results.items():
            frac = f"{100 * r['fraction_of_peak']:.0f}%" if r["fraction_of_peak"] else "?"
            print(f"{name:<18}{r['seed_images_per_s']:>14.0f}{r['cnnbook_images_per_s']:>15.0f}"
                  f"{r['ratio']:>8.2f}{r['achieved_gflop_per_s']:>9.0f}{frac:>9}")
    return out


if __name__ == "__main__":
    main()
