"""What ``torch.compile`` costs and saves for a training run: compilation counted, eager vs compiled.

The book's training step (resnet20, channels-last, batch 256, Nesterov SGD, label smoothing) in
the number format ``precision="auto"`` picks here, run eager and compiled in interleaved repeats:
the seconds of the first two steps (compilation happens there) and the steady images/s after
them. The first compiled repeat starts from an empty compiler cache (a learner's first run); the
later ones find its kernels in the cache (``TORCHINDUCTOR_CACHE_DIR``, a fresh folder here). From
those, how many training images a run needs before compiling pays off.

    python benchmarks/compile_cost.py [--images 2048] [--repeats 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

import cnnbook  # noqa: E402
from cnnbook.training.device import autocast, resolve_precision  # noqa: E402


def run(split, compiled: bool, precision: str, batch_size: int = 256) -> dict:
    torch.manual_seed(0)
    model = cnnbook.get_model("resnet20").to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if compiled else model
    if compiled:
        torch._dynamo.reset()  # trace anew in every repeat, as a new process would
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    device = torch.device("cpu")
    t0 = time.perf_counter()
    warmup, n = None, 0
    for i, (x, y) in enumerate(split.batches(batch_size, shuffle=True, augment=True, drop_last=True)):
        if i == 2:
            warmup, t0, n = time.perf_counter() - t0, time.perf_counter(), 0
        with autocast(device, precision):
            logits = step_model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        n += len(y)
    return {"first_two_steps_s": warmup, "images_per_s": n / (time.perf_counter() - t0)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2048, help="training images per repeat (after two steps)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")  # the first compile is cold
    split = cnnbook.load_cifar10().train.take(args.images + 2 * 256)
    precision = resolve_precision("auto", "cpu")
    results = {"eager": [], "compiled": []}
    for _ in range(args.repeats):
        for mode in results:
            results[mode].append(run(split, mode == "compiled", precision))
    eager_s = statistics.median(r["first_two_steps_s"] for r in results["eager"])
    eager_rate = statistics.median(r["images_per_s"] for r in results["eager"])
    compiled_rate = statistics.median(r["images_per_s"] for r in results["compiled"])
    saved_per_image = 1 / eager_rate - 1 / compiled_rate
    starts = {"cold": results["compiled"][0]["first_two_steps_s"]}
    if args.repeats > 1:
        starts["cached"] = statistics.median(r["first_two_steps_s"] for r in results["compiled"][1:])
    out = {
        "machine": machine(),
        "precision": precision,
        "eager_images_per_s": eager_rate,
        "compiled_images_per_s": compiled_rate,
        "speedup": compiled_rate / eager_rate,
        "compile_seconds": {k: s - eager_s for k, s in starts.items()},
        "break_even_images": {
            k: (s - eager_s) / saved_per_image if saved_per_image > 0 else None for k, s in starts.items()
        },  # fmt: skip
        "runs": results,
    }
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"eager {eager_rate:.0f} img/s, compiled {compiled_rate:.0f} img/s ({out['speedup']:.2f}x)")
        for k, seconds in out["compile_seconds"].items():
            print(f"{k} compile: {seconds:.0f} s, pays off after {out['break_even_images'][k] or 0:,.0f} images")
    return out


if __name__ == "__main__":
    main()
