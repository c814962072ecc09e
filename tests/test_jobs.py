"""``reproduce --jobs N``: the scheduler, on tiny Python commands instead of trainings."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnnbook import cli
from cnnbook.runs import jobs
from cnnbook.runs.budgets import get_budget
from cnnbook.runs.reference import select_runs

ROOT = Path(__file__).resolve().parent.parent

# Writes a result seeded by its name; with RENDEZVOUS set, it first waits (up to 20 s)
# until every job named there has started.
JOB = """
import os, pathlib, random, sys, time
name, out = sys.argv[1], pathlib.Path(sys.argv[2])
(out / f"{name}.started").touch()
for other in os.environ.get("RENDEZVOUS", "").split():
    deadline = time.time() + 20
    while not (out / f"{other}.started").exists():
        if time.time() > deadline:
            sys.exit(f"{other} did not start while {name} ran")
        time.sleep(0.05)
(out / f"{name}.result").write_text(repr(random.Random(name).random()))
print(name, "threads", os.environ.get("OMP_NUM_THREADS"))
"""


def tiny_jobs(tmp_path: Path, names: list[str], script: str = JOB) -> list[jobs.Job]:
    return [
        jobs.Job(name, [sys.executable, "-c", script, name, str(tmp_path)], tmp_path / f"{name}.log") for name in names
    ]


def results(tmp_path: Path) -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(tmp_path.glob("*.result"))}


def test_two_jobs_run_concurrently_with_the_results_of_a_sequential_run(tmp_path, monkeypatch):
    (tmp_path / "seq").mkdir(), (tmp_path / "par").mkdir()
    jobs.run_jobs(tiny_jobs(tmp_path / "seq", ["a", "b"]), parallel=1)
    monkeypatch.setenv("RENDEZVOUS", "a b")  # each job waits for the other: passes only if both run at once
    seconds = jobs.run_jobs(
        tiny_jobs(tmp_path / "par", ["a", "b"]), parallel=2, env=jobs.child_env(2, torch.device("cpu"))
    )
    assert seconds.keys() == {"a", "b"}
    assert results(tmp_path / "par") == results(tmp_path / "seq") != {}
    assert (tmp_path / "par" / "a.log").read_text().startswith("a threads")


def test_a_failed_job_is_named_with_its_log_and_the_others_finish(tmp_path):
    failing = jobs.Job("broken", [sys.executable, "-c", "raise SystemExit('out of memory')"], tmp_path / "broken.log")
    with pytest.raises(jobs.JobsFailed, match=r"1 of 3 jobs failed: broken \(log: .*broken.log\)"):
        jobs.run_jobs([failing, *tiny_jobs(tmp_path, ["a", "b"])], parallel=2)
    assert results(tmp_path).keys() == {"a", "b"}
    assert "out of memory" in (tmp_path / "broken.log").read_text()


def test_at_most_parallel_jobs_run_at_once(tmp_path, monkeypatch):
    # With two at a time, the third job cannot have started while the first two wait for it.
    monkeypatch.setenv("RENDEZVOUS", "c")
    script = JOB.replace("deadline = time.time() + 20", "deadline = time.time() + 1")
    with pytest.raises(jobs.JobsFailed, match="2 of 3 jobs failed"):
        jobs.run_jobs(tiny_jobs(tmp_path, ["a", "b", "c"], script), parallel=2)


def test_cpu_cores_are_split_between_the_processes():
    assert jobs.child_env(2, torch.device("cpu"), cpus=16)["OMP_NUM_THREADS"] == "8"
    assert jobs.child_env(32, torch.device("cpu"), cpus=16)["OMP_NUM_THREADS"] == "1"
    assert jobs.child_env(4, torch.device("cuda")).get("OMP_NUM_THREADS") == os.environ.get("OMP_NUM_THREADS")


def test_reproduce_jobs_runs_each_reference_run_as_its_own_cli_process(tmp_path, monkeypatch):
    started = {}
    monkeypatch.setattr(jobs, "load_cifar10", lambda: None)
    monkeypatch.setattr(jobs, "run_jobs", lambda todo, parallel, env: started.update(todo=todo, parallel=parallel))
    assert cli.main(["reproduce", "--budget", "quick", "--only", "chapter", "--jobs", "2", "--seeds", "1", "2"]) == 0
    names = [job.name for job in started["todo"]]
    assert names == [run.folder for run in select_runs(get_budget("quick"), ["chapter"], [1, 2])] != []
    assert names[0] == "resnet20.seed1" and names[-1] == "densenet_cifar.seed2"
    assert started["parallel"] == 2
    command = started["todo"][0].command
    assert command[1:] == ["-m", "cnnbook", "reproduce", "--budget", "quick", "--only", "resnet20", "--seeds", "1"]
    assert started["todo"][0].log == Path("runs/reproduce-quick/resnet20.seed1.log")


def test_reproduce_jobs_reports_a_failed_run_and_exits_nonzero(monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise jobs.JobsFailed("1 of 7 jobs failed: resnet20 (log: runs/reproduce-full/resnet20.log)")

    monkeypatch.setattr(jobs, "reproduce_in_parallel", fail)
    assert cli.main(["reproduce", "--budget", "full", "--jobs", "4"]) == 1
    assert "resnet20 (log: runs/reproduce-full/resnet20.log)" in capsys.readouterr().err


def test_the_gpu_session_dry_run_prints_every_command_and_runs_none(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "CNNBOOK_DATA": str(tmp_path / "data"), "WORK": str(tmp_path / "work")}
    script = ROOT / "scripts" / "gpu_session.sh"
    done = subprocess.run(["bash", script, "--dry-run", "--jobs", "5"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    commands = [line[2:] for line in done.stdout.splitlines() if line.startswith("+ ")]
    assert any(c.startswith("nvidia-smi") for c in commands)
    reproduce = next(c for c in commands if "-m cnnbook reproduce" in c)
    pair = "--budget full --missing --only resnet18 source-resnet18"
    assert reproduce.index("--budget quick --missing") < reproduce.index(pair)
    assert reproduce.index(pair) < reproduce.index("--budget full --missing --jobs 5")
    packing = next(c for c in commands if "results.tar.part-" in c)
    assert "-newer" in packing and "split -b 15M" in packing  # this session's runs, in parts the tool returns
    assert not out.exists() and not (tmp_path / "work").exists()


def test_the_gpu_session_can_bring_its_data_as_an_archive(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CNNBOOK_DATA"}
    env.update(OUT=str(tmp_path / "out"), WORK=str(tmp_path / "work"))
    script = ROOT / "scripts" / "gpu_session.sh"
    done = subprocess.run(
        ["bash", script, "--dry-run", "--data-archive", "cifar10.tar.gz"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"tar -xzf 'cifar10.tar.gz' -C '{tmp_path}/work/data'" in done.stdout


def test_the_gpu_session_names_what_is_missing(tmp_path):
    script = ROOT / "scripts" / "gpu_session.sh"
    env = {k: v for k, v in os.environ.items() if k not in ("OUT", "CNNBOOK_DATA")}
    done = subprocess.run(["bash", script, "--dry-run"], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "set OUT" in done.stderr


def test_session_timings_list_the_runs_trained_on_a_gpu(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from session_timings import gpu_runs

    for folder, device in (("quick/resnet18", "cuda:0"), ("quick/resnet20", "cpu"), ("full/source-resnet18", "cuda:1")):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "provenance.json").write_text(json.dumps({"device": device, "wall_minutes": 2.5}))
        history = {"records": [{"epoch": 1}, {"epoch": 2}], "test": {"accuracy": 0.91}}
        (tmp_path / folder / "history.json").write_text(json.dumps(history))
    runs = gpu_runs(tmp_path)
    assert list(runs) == ["full/source-resnet18", "quick/resnet18"]  # not the run made on a CPU
    assert runs["quick/resnet18"] == {"wall_minutes": 2.5, "precision": None, "epochs": 2, "test_accuracy": 0.91}
