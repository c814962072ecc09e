import math

import pytest
import torch

import cnnbook
from cnnbook.checkpoint import load_checkpoint
from cnnbook.train import DETERMINISTIC_KEYS, TrainingDiverged, fit, make_scheduler, per_class_accuracy


def small_run(split, **kw):
    cnnbook.set_seed(0)
    model = cnnbook.get_model("resnet20")
    args = dict(epochs=2, batch_size=16, lr=0.05, device="cpu", progress=False)
    args.update(kw)
    return model, fit(model, split, split, **args)


def deterministic(history):
    return [{k: r[k] for k in DETERMINISTIC_KEYS} for r in history.records]


def test_loss_falls_on_a_small_real_subset(cifar):
    train = cifar.train.take(512, seed=0)
    _, h = small_run(train, epochs=4, batch_size=64, lr=0.1, label_smoothing=0.0)
    assert h["train_loss"][-1] < h["train_loss"][0] - 0.1
    assert h["train_loss"][-1] < math.log(10)


def test_history_has_the_promised_keys(tiny_split):
    _, h = small_run(tiny_split, epochs=1)
    assert set(h.last) >= {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "images_per_s"}
    assert len(h) == 1 and h.last["images_per_s"] > 0


def test_same_seed_same_history_on_cpu(tiny_split):
    _, a = small_run(tiny_split)
    _, b = small_run(tiny_split)
    assert deterministic(a) == deterministic(b)


def test_resume_after_a_mid_epoch_interruption_gives_the_uninterrupted_history(tiny_split, tmp_path):
    _, full = small_run(tiny_split, epochs=3)
    calls = {"n": 0}

    def interrupt_in_second_epoch(x):  # 4 batches per epoch: the 6th batch is mid-epoch 2
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return cnnbook.data.normalize(x)

    ckpt = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        small_run(tiny_split, epochs=3, checkpoint=ckpt, transform=interrupt_in_second_epoch)
    assert load_checkpoint(ckpt)["epoch"] == 1
    model, resumed = small_run(tiny_split, epochs=3, checkpoint=ckpt, resume=True)
    assert deterministic(resumed) == deterministic(full)
    assert load_checkpoint(ckpt, model)["epoch"] == 3


def test_resume_refuses_changed_settings(tiny_split, tmp_path):
    ckpt = tmp_path / "run.pt"
    small_run(tiny_split, epochs=1, checkpoint=ckpt)
    with pytest.raises(cnnbook.checkpoint.CheckpointError, match="settings differ.*lr"):
        small_run(tiny_split, epochs=1, checkpoint=ckpt, resume=True, lr=0.5)


def test_a_diverging_loss_stops_with_the_step_and_keeps_the_last_checkpoint(tiny_split, tmp_path):
    ckpt = tmp_path / "run.pt"
    model, _ = small_run(tiny_split, epochs=1, checkpoint=ckpt)
    good = load_checkpoint(ckpt)["model_state"]
    with pytest.raises(TrainingDiverged, match=r"NaN/inf at epoch 1/1, step \d+.*Lower the learning rate"):
        fit(
            model,
            tiny_split,
            epochs=1,
            batch_size=16,
            lr=1e12,
            device="cpu",
            progress=False,
            checkpoint=ckpt,
            check_every=1,
        )
    kept = load_checkpoint(ckpt)["model_state"]
    assert all(torch.equal(good[k], kept[k]) for k in good)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"epochs": 0}, "epochs must be positive"),
        ({"batch_size": -1}, "batch_size must be positive"),
        ({"lr": float("nan")}, "lr must be positive"),
        ({"schedule": "step"}, "unknown schedule 'step'"),
        ({"precision": "fp16"}, "unknown precision 'fp16'; valid: auto, bf16, fp32"),
    ],
)
def test_bad_training_settings_are_rejected(tiny_split, kw, message):
    with pytest.raises(ValueError, match=message):
        small_run(tiny_split, **kw)


def test_one_cycle_warms_up_then_anneals():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = make_scheduler(opt, "onecycle", 1.0, 100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] < 0.1 and max(lrs) == pytest.approx(1.0, abs=0.01) and lrs[-1] < 0.01
    assert make_scheduler(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), "onecycle", 1.0, 1)


def test_per_class_accuracy():
    acc = per_class_accuracy(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
    assert acc.tolist() == [1.0, 1.0, 0.5]


def test_budgets_resolve_and_validate(monkeypatch):
    monkeypatch.setenv("CNNBOOK_BUDGET", "smoke")
    assert cnnbook.get_budget().name == "smoke"
    assert cnnbook.get_budget("quick", epochs=3, subset=None).epochs == 3
    with pytest.raises(ValueError, match="unknown budget 'fast'; valid budgets: smoke, quick, full"):
        cnnbook.get_budget("fast")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        cnnbook.get_budget("quick", epochs=0)
    with pytest.raises(TypeError, match="unknown budget field"):
        cnnbook.get_budget("quick", epoch=3)


def test_a_callback_returning_true_stops_training_early(tiny_split):
    _, h = small_run(tiny_split, epochs=5, callbacks=[lambda history: len(history) == 2])
    assert len(h) == 2


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_learn_and_record_their_choice(cifar, precision, tmp_path):
    train = cifar.train.take(512, seed=0)
    _, h = small_run(
        train,
        epochs=3,
        batch_size=64,
        lr=0.1,
        label_smoothing=0.0,
        precision=precision,
        checkpoint=tmp_path / "ckpt.pt",
    )
    assert h["train_loss"][-1] < h["train_loss"][0] - 0.1
    assert load_checkpoint(tmp_path / "ckpt.pt", cnnbook.get_model("resnet20"))["run_config"]["precision"] == precision


def test_auto_precision_is_bf16_only_where_the_hardware_has_it():
    from cnnbook.train import native_bf16, resolve_precision

    assert resolve_precision("auto", "cpu") == ("bf16" if native_bf16("cpu") else "fp32")
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert not native_bf16("meta")


def test_bf16_autocast_runs_the_convolutions_in_bf16():
    from cnnbook.train import autocast

    conv = torch.nn.Conv2d(3, 4, 3)
    with autocast(torch.device("cpu"), "bf16"):
        assert conv(torch.randn(1, 3, 8, 8)).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert conv(torch.randn(1, 3, 8, 8)).dtype == torch.float32


def test_progress_bars_can_be_switched_off_for_static_builds(monkeypatch):
    from cnnbook.train import _progress_bar

    assert _progress_bar(4, "epoch 1/1", enabled=False) is None
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert _progress_bar(4, "epoch 1/1", enabled=True) is None
    monkeypatch.delenv("TQDM_DISABLE")
    bar = _progress_bar(4, "epoch 1/1", enabled=True)
    assert bar is not None and bar.total == 4
    bar.close()
