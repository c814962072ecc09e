"""One change at a time: how each speed trick moves resnet20's CPU training throughput.

Every variant trains the same model on the same uint8 batches for the same number of images;
variants are interleaved over repeats and medians reported, each as a ratio to the baseline
(NCHW, batch 128, fp32, eager, ``loss.item()`` every step). Evaluation variants time a pass
over 5,000 images.

    python benchmarks/ablations.py [--repeats 3] [--images 2048] [--compile] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

import cnnbook  # noqa: E402

BASELINE = dict(channels_last=False, batch_size=128, sync_every_step=True, bf16=False, compile=False, threads=None)


def train_images_per_s(split, channels_last, batch_size, sync_every_step, bf16, compile, threads) -> float:
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = cnnbook.get_model("resnet20")
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    step_model = torch.compile(model) if compile else model
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    batches = list(split.batches(batch_size, shuffle=True, augment=True, drop_last=True))
    total = torch.zeros(())
    n, t0 = 0, None
    for i, (x, y) in enumerate(batches):
        if i == 2:  # after warm-up (and compilation)
            t0, n = time.perf_counter(), 0
        x = x.contiguous(memory_format=fmt)
        with autocast:
            loss = F.cross_entropy(step_model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sync_every_step:
            total += loss.item()
        else:
            total += loss.detach()
        n += len(y)
    float(total)
    torch.set_num_threads(old_threads)
    return n / (time.perf_counter() - t0)


@torch.no_grad()
def eval_images_per_s(split, batch_size, inference_mode) -> float:
    model = cnnbook.get_model("resnet20").to(memory_format=torch.channels_last).eval()
    ctx = torch.inference_mode() if inference_mode else contextlib.nullcontext()
    t0 = time.perf_counter()
    with ctx:
        for x, _ in split.batches(batch_size):
            model(x).argmax(1)
    return len(split) / (time.perf_counter() - t0)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--compile", action="store_true", help="also try torch.compile (slow to compile)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data = cnnbook.load_cifar10()
    split = data.train.take(args.images + 2 * 512)
    variants = {
        "baseline (NCHW, batch 128, item() every step)": {},
        "channels-last": {"channels_last": True},
        "no per-step host sync": {"sync_every_step": False},
        "batch 64": {"batch_size": 64},
        "batch 256": {"batch_size": 256},
        "batch 512": {"batch_size": 512},
        "1 thread": {"threads": 1},
        "bf16 autocast": {"bf16": True},
        "channels-last + no sync + batch 256": {
            "channels_last": True,
            "sync_every_step": False,
            "batch_size": 256,
        },
        "channels-last + no sync + batch 256 + bf16 (cnnbook)": {
            "channels_last": True,
            "sync_every_step": False,
            "batch_size": 256,
            "bf16": True,
        },
    }
    if args.compile:
        variants["torch.compile (+ cnnbook settings)"] = {
            "channels_last": True,
            "sync_every_step": False,
            "batch_size": 256,
            "bf16": True,
            "compile": True,
        }
    runs = {name: [] for name in variants}
    failed = {}
    for _ in range(args.repeats):
        for name, change in variants.items():
            if name in failed:
                continue
            try:
                runs[name].append(train_images_per_s(split, **{**BASELINE, **change}))
            except Exception as exc:  # torch.compile needs a working C++ toolchain; record why it failed
                failed[name] = f"{type(exc).__name__}: {exc}"[:500]
                runs.pop(name)
    evals = {"eval batch 100, no_grad": (100, False), "eval batch 1000, inference_mode": (1000, True)}
    eval_runs = {name: [eval_images_per_s(data.val, *cfg) for _ in range(args.repeats)] for name, cfg in evals.items()}
    base = statistics.median(runs[next(iter(variants))])
    eval_base = statistics.median(eval_runs[next(iter(evals))])
    table = {
        name: {"images_per_s": round(statistics.median(v), 1), "ratio": round(statistics.median(v) / base, 3)}
        for name, v in runs.items()
    }
    for name, v in eval_runs.items():
        median = statistics.median(v)
        table[name] = {"images_per_s": round(median, 1), "ratio": round(median / eval_base, 3)}
    out = {"machine": machine(), "repeats": args.repeats, "images": args.images, "results": table, "failed": failed}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        info = out["machine"]
        print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}; medians of {args.repeats}")
        for name, r in table.items():
            print(f"{name:<50}{r['images_per_s']:>9.0f} img/s{r['ratio']:>7.2f}x")
        for name, why in failed.items():
            print(f"{name:<50} failed: {why}")
    return out


if __name__ == "__main__":
    main()
