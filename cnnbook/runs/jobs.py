"""Independent runs side by side: ``python -m cnnbook reproduce --jobs N`` trains N reference runs at once.

The book's models are small: one training process keeps a large GPU only 15-30 % busy, launching
kernels one after another. Several processes on one GPU fill it. Each reference run becomes its
own process, ``python -m cnnbook reproduce --budget B --only RUN``, with its own log file; at most
N run at a time. On a CPU the cores are split between them (``OMP_NUM_THREADS``); a CPU run's
numbers depend on its thread count (the order of its sums), so a run made with ``--jobs`` equals,
bit for bit, a sequential run with the same ``OMP_NUM_THREADS`` (its provenance records the threads).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import load_cifar10
from ..training.device import default_device
from .budgets import get_budget
from .reference import select_runs


class JobsFailed(RuntimeError):
    """One or more jobs exited with an error (the others ran to their end)."""


@dataclass(frozen=True)
class Job:
    """A command to run as its own process, writing its output to ``log``."""

    name: str
    command: list[str]
    log: Path


def run_jobs(jobs: list[Job], parallel: int, env: dict[str, str] | None = None, poll: float = 0.2) -> dict[str, float]:
    """Run ``jobs`` at most ``parallel`` at a time; returns each job's wall seconds.

    A failed job does not stop the others: once all have ended, :class:`JobsFailed` names every
    failed job and its log. Interrupted, the running jobs are terminated.
    """
    pending, running, seconds, failed = list(jobs), [], {}, []  # running: (job, process, start time)
    try:
        while pending or running:
            while pending and len(running) < parallel:
                job = pending.pop(0)
                job.log.parent.mkdir(parents=True, exist_ok=True)
                with open(job.log, "w") as log:
                    process = subprocess.Popen(job.command, stdout=log, stderr=subprocess.STDOUT, env=env)
                running.append((job, process, time.perf_counter()))
                print(f"[jobs] {job.name}: started (log: {job.log})", flush=True)
            time.sleep(poll)
            for job, process, started in [r for r in running if r[1].poll() is not None]:
                running.remove((job, process, started))
                seconds[job.name] = time.perf_counter() - started
                outcome = "done" if process.returncode == 0 else f"FAILED with exit code {process.returncode}"
                print(f"[jobs] {job.name}: {outcome} after {seconds[job.name] / 60:.1f} min", flush=True)
                if process.returncode != 0:
                    failed.append(job)
    finally:
        for _, process, _ in running:
            process.terminate()
    if failed:
        details = "; ".join(f"{job.name} (log: {job.log})" for job in failed)
        raise JobsFailed(f"{len(failed)} of {len(jobs)} jobs failed: {details}. Read the log, fix, rerun those")
    return seconds


def child_env(parallel: int, device: torch.device, cpus: int | None = None) -> dict[str, str]:
    """The environment of each of ``parallel`` training processes: on a CPU, an equal share of its
    cores each; logs without progress bars (the per-epoch lines stay) and written as they come."""
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONUNBUFFERED="1")
    if device.type == "cpu":
        env["OMP_NUM_THREADS"] = str(max(1, (cpus or os.cpu_count() or 1) // parallel))
    return env


def reproduce_in_parallel(
    budget: str,
    only: list[str] | None,
    jobs: int,
    seeds: list[int] | None = None,
    logs: Path | None = None,
    missing: bool = False,
) -> dict[str, float]:
    """Train the reference runs of ``budget`` (see :func:`cnnbook.runs.reference.select_runs`) as at most
    ``jobs`` processes at a time, logging to ``logs`` (default ``runs/reproduce-<budget>/``)."""
    runs = select_runs(get_budget(budget), only, seeds, missing)
    if not runs:
        print(f"[jobs] every selected reference run of {budget!r} is stored already", flush=True)
        return {}
    logs = logs or Path("runs") / f"reproduce-{budget}"
    load_cifar10()  # fills the decoded-data cache once, instead of every process decoding it
    command = [sys.executable, "-m", "cnnbook", "reproduce", "--budget", budget]
    parallel = min(jobs, len(runs))
    todo = [
        Job(run.folder, [*command, "--only", run.run_id, "--seeds", str(run.seed)], logs / f"{run.folder}.log")
        for run in runs
    ]
    t0 = time.perf_counter()
    seconds = run_jobs(todo, parallel, child_env(parallel, default_device()))
    print(f"[jobs] {len(todo)} runs, {parallel} at a time: {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    return seconds
