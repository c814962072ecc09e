import json
import os
import signal
import subprocess
import sys
import time

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


def test_train_writes_history_and_checkpoint(cifar, tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            ["train", "--model", "resnet20", "--budget", "smoke", "--subset", "256", "--no-progress", "--out", str(out)]
        )
        == 0
    )
    record = json.loads((out / "history.json").read_text())
    assert record["model"] == "resnet20" and len(record["records"]) == 1
    assert 0 <= record["test"]["accuracy"] <= 1
    assert (out / "checkpoint.pt").stat().st_size > 100_000


def test_a_killed_run_leaves_a_loadable_checkpoint_and_resumes(cifar, tmp_path):
    from cnnbook.checkpoint import load_checkpoint

    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "cnnbook",
        "train",
        "--model",
        "resnet20",
        "--budget",
        "smoke",
        "--subset",
        "256",
        "--epochs",
        "4",
        "--no-progress",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = load_checkpoint(out / "checkpoint.pt")
    assert 1 <= first["epoch"] < 4
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    records = json.loads((out / "history.json").read_text())["records"]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert records[0]["train_loss"] == first["history"]["records"][0]["train_loss"]
