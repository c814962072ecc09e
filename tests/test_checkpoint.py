import os
import pickle

import pytest
import torch

from cnnbook.models import get_model
from cnnbook.training.checkpoint import CheckpointError, atomic_save, load_checkpoint, safe_load, save_checkpoint


def test_round_trip_restores_weights(tmp_path):
    model = get_model("resnet20")
    save_checkpoint(tmp_path / "a.pt", model, epoch=3)
    other = get_model("resnet20")
    ckpt = load_checkpoint(tmp_path / "a.pt", other)
    assert ckpt["epoch"] == 3
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))


def test_truncated_file_is_reported(tmp_path):
    save_checkpoint(tmp_path / "a.pt", get_model("resnet20"))
    data = (tmp_path / "a.pt").read_bytes()
    (tmp_path / "a.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated, corrupt or not a PyTorch file"):
        load_checkpoint(tmp_path / "a.pt")


def test_other_architecture_and_class_count_are_reported(tmp_path):
    save_checkpoint(tmp_path / "a.pt", get_model("resnet20"))
    with pytest.raises(CheckpointError, match="holds a 'resnet20' model, not 'plain20'"):
        load_checkpoint(tmp_path / "a.pt", get_model("plain20"))
    with pytest.raises(CheckpointError, match="trained for 10 classes, the model has 5"):
        load_checkpoint(tmp_path / "a.pt", get_model("resnet20", num_classes=5))


def test_a_plain_torch_file_is_not_a_checkpoint(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="not a cnnbook checkpoint"):
        load_checkpoint(tmp_path / "a.pt")


class Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": "cnnbook-checkpoint", "x": Evil(marker)}, f)
    torch.save({"obj": Evil(marker)}, tmp_path / "evil2.pt")
    for name in ("evil.pt", "evil2.pt"):
        with pytest.raises(CheckpointError):
            safe_load(tmp_path / name)
    assert not marker.exists()
    pickle.loads((tmp_path / "evil.pt").read_bytes())  # the payload does run when unpickled unsafely
    assert marker.exists()


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nope.pt")


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    atomic_save({"v": 1}, tmp_path / "a.pt")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(CheckpointError, match="No space left on device.*previous file, if any, is intact"):
        atomic_save({"v": 2}, tmp_path / "a.pt")
    monkeypatch.undo()
    assert safe_load(tmp_path / "a.pt") == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]


def test_unwritable_destination_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(CheckpointError, match="cannot write .*Choose a writable folder"):
        atomic_save({"v": 1}, blocker / "sub" / "a.pt")


def test_a_checkpoint_that_does_not_fit_the_model_is_reported(tmp_path):
    save_checkpoint(tmp_path / "a.pt", get_model("resnet20", shortcut="projection"))
    with pytest.raises(CheckpointError, match=r"does not fit this model: .*(Missing|Unexpected) key"):
        load_checkpoint(tmp_path / "a.pt", get_model("resnet20"))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"hello world", "truncated, corrupt or not a PyTorch file"),
        ({"format": "cnnbook-checkpoint"}, r"damaged cnnbook checkpoint \(no model_name, num_classes, model_state\)"),
        ([1, 2, 3], "not a cnnbook checkpoint"),
    ],
)
def test_arbitrary_content_is_a_checkpoint_error(tmp_path, content, message):
    path = tmp_path / "checkpoint.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    for model in (None, get_model("resnet20")):
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(path, model)


def test_a_bare_state_dict_says_how_to_load_it(tmp_path):
    model = get_model("resnet20")
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "weights.pt", model)
    fix = f"model.load_state_dict(torch.load({str(tmp_path / 'weights.pt')!r}, weights_only=True))"
    assert "bare state_dict" in str(err.value) and fix in str(err.value)
    model.load_state_dict(torch.load(tmp_path / "weights.pt", weights_only=True))  # the fix works


def test_weights_without_training_state_cannot_be_resumed(tmp_path):
    save_checkpoint(tmp_path / "a.pt", get_model("resnet20"))
    assert load_checkpoint(tmp_path / "a.pt")["num_classes"] == 10
    with pytest.raises(CheckpointError, match="without the training state to resume from .*start a new run"):
        load_checkpoint(tmp_path / "a.pt", resumable=True)


def test_a_full_disk_is_named_with_the_folder_and_the_space_needed_and_the_old_checkpoint_survives(
    tmp_path, monkeypatch
):
    import shutil
    from collections import namedtuple

    from cnnbook.training import checkpoint

    path = tmp_path / "run" / "checkpoint.pt"
    save_checkpoint(path, get_model("resnet20"))
    before = path.read_bytes()

    def disk_full(obj, f):
        f.write(b"x" * 100)
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 669696 vs 669592")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(checkpoint.torch, "save", disk_full)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 4096, 4096))
    with pytest.raises(
        CheckpointError, match=r"the disk holding .*run is full \(0.0 MB free, the file needs about 1.0 MB\)"
    ):
        save_checkpoint(path, get_model("resnet20"))
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt"]
