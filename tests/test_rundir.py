import json
import os
import socket
import subprocess
import sys

import pytest

from cnnbook.cli import main
from cnnbook.models import get_model
from cnnbook.runs import rundir
from cnnbook.runs.rundir import LOCK, RunDirError, claim
from cnnbook.storage import write_json
from cnnbook.training.checkpoint import save_checkpoint

TRAIN = ["train", "--model", "resnet20", "--budget", "smoke", "--subset", "256", "--no-progress"]


def finished_run(folder, epochs=3):
    """A folder as `cnnbook train` leaves it: checkpoint.pt, then history.json."""
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(folder / "checkpoint.pt", get_model("resnet20"), epoch=epochs)
    record = {"model": "resnet20", "test": {"accuracy": 0.8537}, "records": [{"epoch": e + 1} for e in range(epochs)]}
    (folder / "history.json").write_text(json.dumps(record))
    return folder


def unfinished_run(folder, epochs=2):
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(folder / "checkpoint.pt", get_model("resnet20"), epoch=epochs)
    return folder


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_finished_run_is_refused_and_kept(tmp_path):
    run = finished_run(tmp_path / "run")
    before = snapshot(run)
    with pytest.raises(RunDirError) as err, claim(run):
        pass
    message = str(err.value)
    assert "already holds a finished resnet20 run (3 epochs, test accuracy 85.37%)" in message
    assert "--overwrite" in message and "choose another --out" in message and "--resume" not in message
    assert snapshot(run) == before  # nothing deleted, no lock left behind


def test_an_unfinished_run_is_refused_with_resume_offered(tmp_path):
    run = unfinished_run(tmp_path / "run")
    with pytest.raises(RunDirError, match=r"unfinished resnet20 run \(2 epochs done\): continue it with --resume"):
        with claim(run):
            pass
    with claim(run, resume=True) as out:
        assert (out / "checkpoint.pt").exists()


def test_overwrite_deletes_the_old_run_and_says_what_it_replaced(tmp_path):
    run = finished_run(tmp_path / "run")
    (run / "notes.txt").write_text("mine")
    said = []
    with claim(run, overwrite=True, notice=said.append):
        assert not (run / "history.json").exists() and not (run / "checkpoint.pt").exists()
    assert said == [f"--overwrite: deleted a finished resnet20 run (3 epochs, test accuracy 85.37%) in {run} "
                    "(history.json, checkpoint.pt)"]  # fmt: skip
    assert (run / "notes.txt").read_text() == "mine"  # files that are not the run's stay


@pytest.mark.parametrize("case", ["missing folder", "empty folder", "history only"])
def test_resume_without_a_checkpoint_is_an_error_not_a_fresh_start(tmp_path, case):
    run = tmp_path / "run"
    if case != "missing folder":
        run.mkdir()
    if case == "history only":
        (run / "history.json").write_text("{}")
    with pytest.raises(RunDirError, match="nothing to resume: .*(does not exist|has no checkpoint.pt).*--resume"):
        with claim(run, resume=True):
            pass
    assert run.exists() == (case != "missing folder")  # a mistyped path is not created


def test_a_path_that_cannot_be_a_folder_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunDirError, match=r"--out .*file is a file, not a folder: choose a folder path"):
        rundir.make_folder(blocker)
    with pytest.raises(RunDirError, match=r"cannot be a folder: .*file is a file"):
        rundir.make_folder(blocker / "sub" / "run")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "mkdir", denied)
    with pytest.raises(RunDirError, match="cannot be created \\(Permission denied\\): choose a writable folder"):
        rundir.make_folder(tmp_path / "new")


def test_a_folder_another_live_run_writes_is_refused(tmp_path):
    with claim(tmp_path / "run") as out:
        assert (out / LOCK).read_text().split() == [str(os.getpid()), socket.gethostname()]
        with pytest.raises(
            RunDirError, match=f"being written by another run \\(process {os.getpid()} on .*delete .*lock"
        ):
            with claim(out):
                pass
        assert (out / LOCK).exists()  # the refused claim left the holder's lock alone
    assert not (out / LOCK).exists()


def test_the_lock_of_a_dead_process_is_taken_over_with_a_notice(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    pid = dead_pid()
    (run / LOCK).write_text(f"{pid} {socket.gethostname()}\n")
    said = []
    with claim(run, notice=said.append):
        assert (run / LOCK).read_text().split() == [str(os.getpid()), socket.gethostname()]
    assert said == [f"{run}: taking over the lock of process {pid}, which no longer runs"]
    assert sorted(p.name for p in run.iterdir()) == []


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path, monkeypatch):
    target = tmp_path / "history.json"
    write_json(target, {"v": 1})

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_json(target, {"v": 2})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


def test_train_refuses_a_finished_run_before_loading_anything(tmp_path, capsys):
    run = finished_run(tmp_path / "run")
    before = snapshot(run)
    assert main([*TRAIN, "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds a finished resnet20 run" in err
    assert snapshot(run) == before


def test_train_into_a_folder_in_use_is_refused(tmp_path, capsys):
    with claim(tmp_path / "run") as out:
        assert main([*TRAIN, "--out", str(out)]) == 2
    assert "being written by another run" in capsys.readouterr().err


def test_train_resume_of_a_mistyped_folder_and_an_impossible_out_are_one_line_errors(tmp_path, capsys):
    assert main([*TRAIN, "--resume", "--out", str(tmp_path / "typo")]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main([*TRAIN, "--out", str(tmp_path / "file")]) == 2
    assert (
        capsys.readouterr().err == f"error: --out {tmp_path / 'file'} is a file, not a folder: choose a folder path\n"
    )


def test_resume_and_overwrite_cannot_be_combined(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([*TRAIN, "--resume", "--overwrite", "--out", str(tmp_path)])
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_lock_from_another_host_is_respected_and_says_how_to_clear_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK).write_text(f"{dead_pid()} some-other-host\n")  # its pid means nothing here
    with pytest.raises(RunDirError, match=f"on some-other-host\\): wait .*delete {run / LOCK}"):
        with claim(run):
            pass


def _race_for(folder, go, results, done):
    go.wait()
    try:
        with claim(folder):
            results.put("claimed")
            done.wait(30)  # hold the folder until both have tried
    except RunDirError as err:
        results.put(str(err))


def test_of_two_runs_started_together_exactly_one_gets_the_folder(tmp_path):
    import multiprocessing

    mp = multiprocessing.get_context("fork")
    go, done, results = mp.Event(), mp.Event(), mp.Queue()
    racers = [mp.Process(target=_race_for, args=(tmp_path / "run", go, results, done)) for _ in range(2)]
    for racer in racers:
        racer.start()
    go.set()
    outcomes = sorted((results.get(timeout=30) for _ in racers), key=lambda outcome: outcome != "claimed")
    done.set()
    for racer in racers:
        racer.join(30)
    assert outcomes[0] == "claimed" and "being written by another run" in outcomes[1]
    assert not (tmp_path / "run" / LOCK).exists()
