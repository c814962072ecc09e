import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cnnbook.cli import main


def test_models_lists_the_registry_with_counts(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "resnet18" in out and "11,173,962" in out and "plain56" in out


def test_unknown_model_is_a_one_line_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as err:
        main(["train", "--model", "resnet21", "--out", str(tmp_path)])
    assert err.value.code == 2
    assert "invalid choice: 'resnet21'" in capsys.readouterr().err


def test_bad_values_are_rejected(capsys, tmp_path):
    for args in (["--epochs", "0"], ["--budget", "huge"], ["--batch-size", "-3"]):
        with pytest.raises(SystemExit):
            main(["train", "--model", "resnet20", "--out", str(tmp_path), *args])
    assert "must be a positive integer" in capsys.readouterr().err


def test_subset_larger_than_the_data_is_an_error(cifar, capsys, tmp_path):
    assert main(["train", "--model", "resnet20", "--subset", "50000", "--out", str(tmp_path)]) == 2
    assert "subset must be between 1 and 45000" in capsys.readouterr().err


def test_train_writes_history_and_checkpoint(cifar, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            ["train", "--model", "resnet20", "--budget", "smoke", "--subset", "256", "--no-progress", "--out", str(out)]
        )
        == 0
    )
    record = json.loads((out / "history.json").read_text())
    assert record["model"] == "resnet20" and len(record["records"]) == 1
    test = record["test"]
    assert 0 <= test["accuracy"] <= 1 and 0 <= test["flip_accuracy"] <= 1
    assert f"test accuracy {100 * test['accuracy']:.2f}% ({100 * test['flip_accuracy']:.2f}% with flip)" in (
        capsys.readouterr().out
    )
    assert (out / "checkpoint.pt").stat().st_size > 100_000


# Runs `cnnbook train` in a process that kills itself (SIGKILL: no cleanup, its lock stays) right
# after the checkpoint of epoch $KILL_AFTER is written: the crash lands at the same place every time.
CRASH_AFTER_EPOCH = """
import os, signal, sys
import cnnbook.training.loop
from cnnbook.cli import main

save = cnnbook.training.loop.save_checkpoint

def save_then_die(path, model, **state):
    save(path, model, **state)
    if state["epoch"] == int(os.environ["KILL_AFTER"]):
        os.kill(os.getpid(), signal.SIGKILL)

cnnbook.training.loop.save_checkpoint = save_then_die
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_run_leaves_a_loadable_checkpoint_and_resumes(cifar, tmp_path):
    from cnnbook.training.checkpoint import load_checkpoint

    out = tmp_path / "run"
    args = ["train", "--model", "resnet20", "--budget", "smoke", "--subset", "256", "--epochs", "4"]
    args += ["--no-progress", "--out", str(out)]
    env = {**os.environ, "KILL_AFTER": "2"}
    killed = subprocess.Popen(
        [sys.executable, "-c", CRASH_AFTER_EPOCH, *args], env=env, stderr=subprocess.PIPE, text=True
    )
    assert killed.wait() == -signal.SIGKILL, killed.stderr.read()
    first = load_checkpoint(out / "checkpoint.pt")
    assert first["epoch"] == 2 and not (out / "history.json").exists()
    resumed = subprocess.run([sys.executable, "-m", "cnnbook", *args, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"taking over the lock of process {killed.pid}, which no longer runs" in resumed.stderr
    records = json.loads((out / "history.json").read_text())["records"]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert records[:2] == first["history"]["records"]


def test_ctrl_c_exits_130_keeps_the_checkpoint_and_frees_the_folder(tmp_path, monkeypatch, capsys):
    import cnnbook.cli

    def interrupted(args):
        (args.out / "checkpoint.pt").write_bytes(b"epoch 1")
        raise KeyboardInterrupt

    monkeypatch.setattr(cnnbook.cli, "_train", interrupted)
    out = tmp_path / "run"
    assert main(["train", "--model", "resnet20", "--out", str(out)]) == 130
    assert (
        "interrupted: the last completed epoch's checkpoint is intact; rerun with --resume" in capsys.readouterr().err
    )
    assert [p.name for p in out.iterdir()] == ["checkpoint.pt"]  # the lock is released, the checkpoint kept


def test_the_command_line_never_loads_the_book_layer():
    """CLI processes, torchrun workers and reproduce --jobs children do not pay for matplotlib."""
    import subprocess
    import sys

    code = (
        "import sys, runpy\n"
        "sys.argv = ['cnnbook', '--help']\n"
        "try:\n    runpy.run_module('cnnbook', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('matplotlib', 'cnnbook.book.viz', 'cnnbook.book.chapter') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


# `reproduce` in a process that sends itself SIGTERM (as `kill` or a job scheduler would) once the
# first epoch of its run has finished: the signal lands at the same place every time.
TERMINATE_AFTER_EPOCH_1 = """
import os, signal, sys
import cnnbook.runs.reproduce as reproduce
from cnnbook.cli import main

train_run = reproduce.train_run

def terminated_after_epoch_1(spec, data, **options):
    options["callbacks"] = [lambda history: os.kill(os.getpid(), signal.SIGTERM)]
    return train_run(spec, data, **options)

reproduce.train_run = terminated_after_epoch_1
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_during_reproduce_leaves_the_stored_run_byte_identical_and_the_next_one_finishes(cifar, tmp_path):
    """The real command line on a copy of the package (results empty), so the stored runs it
    replaces are its own and the package's reference runs are never touched."""
    import shutil

    import cnnbook
    from cnnbook.runs.rundir import LOCK

    shutil.copytree(
        Path(cnnbook.__file__).parent, tmp_path / "cnnbook", ignore=shutil.ignore_patterns("results", "__pycache__")
    )
    (tmp_path / "cnnbook" / "results").mkdir()
    command = ["reproduce", "--budget", "smoke", "--only", "side-plain20", "--no-progress"]

    def python(*args):
        return subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True, text=True)

    first = python("-m", "cnnbook", *command)
    assert first.returncode == 0, first.stderr
    stored = tmp_path / "cnnbook" / "results" / "smoke" / "side-plain20"
    before = {p.name: p.read_bytes() for p in stored.iterdir()}
    assert "history.json" in before

    terminated = python("-c", TERMINATE_AFTER_EPOCH_1, *command)
    assert terminated.returncode == 128 + signal.SIGTERM, terminated.stderr
    assert "terminated (SIGTERM): every stored run is unchanged" in terminated.stderr
    assert "Traceback" not in terminated.stderr
    assert {p.name: p.read_bytes() for p in stored.iterdir()} == before
    partial = stored.with_name(".side-plain20.partial")
    assert (partial / "resume.pt").exists() and not (partial / LOCK).exists()  # epoch 1 kept, lock released

    again = python("-m", "cnnbook", *command)
    assert again.returncode == 0, again.stderr
    assert not partial.exists() and (stored / "history.json").exists()
