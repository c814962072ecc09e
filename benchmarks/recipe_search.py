"""Which recipe reaches a test accuracy in the fewest epochs: many short runs, several at a time.

Each candidate changes one thing against ``BASE``, the ``quick`` chapter recipe before small early
epochs were adopted (epochs, peak learning rate, batch size, label smoothing, weight decay,
warm-up share, zero-initialised residual branches, the first epochs on images scaled down to
``low_res`` pixels); the last ones start from the adopted recipe. Every run also keeps
exponential moving averages of the weights (decays in ``EMA_DECAYS``, updated after every
optimiser step; they only read the weights, so the run itself is unchanged) and reports the
test accuracy of the trained weights and of each average, each with and without
horizontal-flip test-time augmentation. Epochs, not minutes, are what this compares: on a given
machine an epoch of a model costs the same under every candidate of the same batch size and
image size, so the winner is confirmed on the CPU with ``benchmarks/time_to_accuracy.py``.

    python benchmarks/recipe_search.py --workers 12 --deadline 300 --out search.jsonl

Scaled-down epochs are recipe values (``small_epochs``, ``small_size``); the warm-up share and the
averages reach the run through ``fit``'s hooks (``scheduler_factory``, ``optimizer_hook``), so the
harness changes no module of ``cnnbook``. Whichever wins moves into the recipe.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

import cnnbook  # noqa: E402
from cnnbook.training.optim import make_scheduler  # noqa: E402

EMA_DECAYS = (0.99, 0.998)
BASE = cnnbook.Recipe(epochs=15)  # the quick chapter recipe the search started from: 15 epochs at 32 px


def candidates(seeds: int) -> list[dict]:
    """The runs, most informative first (the search stops taking new ones at its deadline)."""
    runs = []
    for model in ("googlenet_cifar", "densenet_cifar"):
        for epochs in (10, 15):
            runs.append({"name": f"{model} e{epochs}", "model": model, "seed": 0, "recipe": {"epochs": epochs}})
    variants = [
        ("e15 (today)", {"epochs": 15}, {}),
        ("e10", {"epochs": 10}, {}),
        ("e8", {"epochs": 8}, {}),
        ("e12", {"epochs": 12}, {}),
        ("e10 lr0.2", {"epochs": 10, "lr": 0.2}, {}),
        ("e10 lr0.8", {"epochs": 10, "lr": 0.8}, {}),
        ("e10 bs128 lr0.2", {"epochs": 10, "batch_size": 128, "lr": 0.2}, {}),
        ("e10 bs128 lr0.4", {"epochs": 10, "batch_size": 128, "lr": 0.4}, {}),
        ("e10 ls0", {"epochs": 10, "label_smoothing": 0.0}, {}),
        ("e10 ls0.2", {"epochs": 10, "label_smoothing": 0.2}, {}),
        ("e10 wd1e-3", {"epochs": 10, "weight_decay": 1e-3}, {}),
        ("e10 wd2.5e-4", {"epochs": 10, "weight_decay": 2.5e-4}, {}),
        ("e10 warm0.1", {"epochs": 10}, {"warmup": 0.1}),
        ("e10 warm0.4", {"epochs": 10}, {"warmup": 0.4}),
        ("e10 zero-init", {"epochs": 10}, {"zero_init_residual": True}),
        ("e6", {"epochs": 6}, {}),
        ("e15 24px x10", {"epochs": 15, "small_epochs": 10, "small_size": 24}, {}),
        ("e15 24px x12", {"epochs": 15, "small_epochs": 12, "small_size": 24}, {}),
        # the adopted quick recipe (small epochs built into cnnbook.Recipe), then with smaller batches
        ("e14 small10", {"epochs": 14, "small_epochs": 10}, {}),
        ("e14 small10 bs128 lr0.2", {"epochs": 14, "small_epochs": 10, "batch_size": 128, "lr": 0.2}, {}),
    ]
    for seed in range(seeds):
        for name, recipe, extra in variants:
            runs.append({"name": f"resnet20 {name}", "model": "resnet20", "seed": seed, "recipe": recipe, **extra})
    return runs


def warmup_scheduler(share: float):
    """The one-cycle schedule of ``cnnbook.training.optim.make_scheduler`` with another warm-up share."""

    def make(optimizer, schedule, total_steps):
        warmup = max(1, round(share * total_steps))

        def factor(step):
            if step < warmup:
                return 0.05 + 0.95 * step / warmup
            t = min(1.0, (step - warmup) / max(1, total_steps - warmup))
            return 1e-3 + (1 - 1e-3) * 0.5 * (1 + math.cos(math.pi * t))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    return make


def run_one(spec: dict, data) -> dict:
    recipe = BASE.with_(**spec["recipe"])
    model_kwargs = {"zero_init_residual": True} if spec.get("zero_init_residual") else {}
    cnnbook.set_seed(spec["seed"])
    model = cnnbook.get_model(spec["model"], **model_kwargs)
    averages = {}

    def keep_averages(optimizer):
        for decay in EMA_DECAYS:
            averages[decay] = torch.optim.swa_utils.AveragedModel(
                model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay), use_buffers=True
            )
        optimizer.register_step_post_hook(lambda *_: [a.update_parameters(model) for a in averages.values()])

    schedule = warmup_scheduler(spec["warmup"]) if "warmup" in spec else make_scheduler
    start = time.perf_counter()
    history = cnnbook.fit(
        model, data.train, data.val, recipe, seed=spec["seed"], progress=False,
        optimizer_hook=keep_averages, scheduler_factory=schedule,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    test = {}
    for label, net in [("trained", model)] + [(f"ema{d}", a.module) for d, a in averages.items()]:
        for flip in (False, True):
            key = label + (" flip" if flip else "")
            test[key] = cnnbook.evaluate(net, data.test, precision=recipe.precision, flip=flip)["accuracy"]
    return {
        **spec,
        "full_recipe": recipe.as_dict(),
        "train_seconds": round(seconds, 1),
        "val_acc": [round(v, 4) for v in history["val_acc"]],
        "epoch_seconds": [round(v, 1) for v in history["seconds"]],
        "test": test,
    }


def worker(queue, out: str, root_data) -> None:
    if torch.cuda.is_available():
        torch.set_num_threads(1)  # each process only launches GPU work; the CPU cores go to the others
    data = cnnbook.load_cifar10(root_data)
    while True:
        spec = queue.get()
        if spec is None:
            return
        try:
            result = run_one(spec, data)
        except Exception as exc:  # one failed candidate must not end the search
            result = {**spec, "error": repr(exc)}
        with open(out, "a") as f:
            f.write(json.dumps(result) + "\n")
        print(f"{spec['name']} seed {spec['seed']}: {result.get('test', result.get('error'))}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=3600, help="seconds after which unfinished runs stop")
    parser.add_argument("--out", default="recipe_search.jsonl")
    parser.add_argument("--seeds", type=int, default=2, help="seeds of every resnet20 candidate")
    parser.add_argument("--only", nargs="*", help="names (substrings) of candidates to run")
    args = parser.parse_args(argv)
    cnnbook.load_cifar10()  # decode once into the cache before the workers read it
    runs = [r for r in candidates(args.seeds) if not args.only or any(s in r["name"] for s in args.only)]
    with open(args.out, "a") as f:
        f.write(json.dumps({"machine": machine(), "base": BASE.as_dict(), "runs": len(runs)}) + "\n")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    for spec in runs:
        queue.put(spec)
    for _ in range(args.workers):
        queue.put(None)
    procs = [ctx.Process(target=worker, args=(queue, args.out, None)) for _ in range(args.workers)]
    for p in procs:
        p.start()
    end = time.time() + args.deadline
    for p in procs:
        p.join(timeout=max(0.0, end - time.time()))
    for p in procs:
        if p.is_alive():
            p.terminate()
    print(f"search ended after {args.deadline - max(0, end - time.time()):.0f} s", flush=True)


if __name__ == "__main__":
    main()
