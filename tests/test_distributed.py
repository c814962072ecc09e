import subprocess
import sys

import pytest
import torch
import torch.distributed as dist

from cnnbook.data import Split
from cnnbook.runs.record import read_record
from cnnbook.training.distributed import Context, context, main_process_first


def index_split(n=64):
    """Images whose label is their own index, so batches can be traced back to rows."""
    return Split(torch.zeros(n, 3, 8, 8, dtype=torch.uint8), torch.arange(n))


def test_the_shards_of_every_batch_partition_it():
    split = index_split()
    whole = [y.tolist() for _, y in split.batches(16, shuffle=True, seed=3, drop_last=True)]
    parts = [
        [y.tolist() for _, y in split.batches(16, shuffle=True, seed=3, drop_last=True, shard=(r, 2))] for r in range(2)
    ]
    assert len(parts[0]) == len(parts[1]) == len(whole) == 4
    for batch, a, b in zip(whole, *parts):
        assert len(a) == len(b) == 8 and not set(a) & set(b) and sorted(a + b) == sorted(batch)


def test_a_batch_that_does_not_split_evenly_is_refused():
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        next(index_split().batches(15, shard=(0, 2)))


def test_a_single_process_is_rank_0_of_1():
    assert context() == Context(0, 1) and context().is_main and not context().enabled


@pytest.mark.parametrize("rank, order", [(0, ["body", "barrier"]), (1, ["barrier", "body"])])
def test_main_process_first_lets_rank_0_finish_before_the_others_start(monkeypatch, rank, order):
    # A barrier returns only when every rank has reached it: rank 1 waits at its barrier before the
    # block, which rank 0 reaches only after its own block. The order of the calls is the whole proof.
    import cnnbook.training.distributed

    calls = []
    monkeypatch.setattr(cnnbook.training.distributed, "context", lambda: Context(rank, 2))
    monkeypatch.setattr(dist, "barrier", lambda: calls.append("barrier"))
    with main_process_first():
        calls.append("body")
    assert calls == order


def train(tmp_path, processes: int):
    out = tmp_path / f"run{processes}"
    args = [
        "-m",
        "cnnbook",
        "train",
        "--model",
        "resnet20",
        "--budget",
        "smoke",
        "--subset",
        "1024",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--no-progress",
        "--out",
        str(out),
    ]
    if processes > 1:
        args = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *args]
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_record(out), proc.stdout  # the record train and reproduce both write


def test_two_gloo_processes_share_the_work_and_learn_like_one(cifar, tmp_path):
    one, _ = train(tmp_path, 1)
    two, stdout = train(tmp_path, 2)
    assert two.provenance["processes"] == 2 and stdout.count("test accuracy") == 1  # rank 0 alone reports
    assert two.history["images"] == one.history["images"] == [1024, 1024]
    for run in (one, two):
        assert run.history["train_loss"][-1] < run.history["train_loss"][0]
    assert abs(two.history["train_loss"][-1] - one.history["train_loss"][-1]) < 0.15
