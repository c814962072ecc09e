import math
from dataclasses import fields

import pytest
import torch

import cnnbook
from cnnbook.runs.reference import fingerprint
from cnnbook.training import loop
from cnnbook.training.checkpoint import load_checkpoint
from cnnbook.training.evaluation import evaluate_with_flip, per_class_accuracy
from cnnbook.training.history import DETERMINISTIC_KEYS
from cnnbook.training.loop import TrainingDiverged, fit
from cnnbook.training.optim import make_scheduler
from cnnbook.training.recipe import Recipe, RecipeError, check_value

RECIPE_FIELDS = {f.name for f in fields(cnnbook.Recipe)}


def recipe(**kw) -> cnnbook.Recipe:
    """A recipe for tiny runs: one epoch of batch 16 unless ``kw`` says otherwise."""
    return cnnbook.Recipe(**{"epochs": 1, "batch_size": 16, **kw})


def small_run(split, **kw):
    cnnbook.set_seed(0)
    model = cnnbook.get_model("resnet20")
    settings = recipe(**{"epochs": 2, "lr": 0.05, **{k: v for k, v in kw.items() if k in RECIPE_FIELDS}})
    options = {"device": "cpu", "progress": False, **{k: v for k, v in kw.items() if k not in RECIPE_FIELDS}}
    return model, fit(model, split, split, settings, **options)


def deterministic(history):
    return [{k: r[k] for k in DETERMINISTIC_KEYS} for r in history.records]


def test_history_has_the_promised_keys(tiny_split):
    _, h = small_run(tiny_split, epochs=1, batch_size=24)
    assert set(h.last) >= {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "images_per_s"}
    assert len(h) == 1 and h.last["images"] == 48  # two full batches of 24; the last 16 images are dropped
    assert h.last["images_per_s"] == pytest.approx(48 / h.last["seconds"])


def test_auxiliary_classifiers_add_their_weighted_loss_to_the_main_one(tiny_split, monkeypatch):
    def train(weight):
        monkeypatch.setattr(loop, "AUX_WEIGHT", weight)
        cnnbook.set_seed(0)
        model = cnnbook.get_model("googlenet_cifar", aux_logits=True)
        history = fit(model, tiny_split, tiny_split, recipe(epochs=2, lr=0.05), device="cpu", progress=False)
        return model, history

    model, history = train(0.3)
    unweighted, _ = train(0.0)  # the heads run (same random stream) but send no gradient
    assert all(r["train_aux_loss"] > 0 for r in history.records)
    assert not torch.equal(model.stem[0].conv.weight, unweighted.stem[0].conv.weight)
    _, plain = small_run(tiny_split, epochs=1)
    assert "train_aux_loss" not in plain.last


def test_same_seed_same_history_another_seed_another(tiny_split):
    _, a = small_run(tiny_split, epochs=1)
    _, b = small_run(tiny_split, epochs=1)
    _, c = small_run(tiny_split, epochs=1, seed=1)
    assert deterministic(a) == deterministic(b)
    assert deterministic(c)[0]["train_loss"] != deterministic(a)[0]["train_loss"]


def test_resume_after_a_mid_epoch_interruption_gives_the_uninterrupted_history(tiny_split, tmp_path):
    _, full = small_run(tiny_split, epochs=3)
    calls = {"n": 0}

    def interrupt_in_second_epoch(x):  # 4 training batches of 16 per epoch: the 6th is mid-epoch 2
        calls["n"] += len(x) == 16
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
    with pytest.raises(cnnbook.training.checkpoint.CheckpointError, match="settings differ.*lr"):
        small_run(tiny_split, epochs=1, checkpoint=ckpt, resume=True, lr=0.5)


def test_a_diverging_loss_stops_with_the_step_and_keeps_the_last_checkpoint(tiny_split, tmp_path, monkeypatch):
    ckpt = tmp_path / "run.pt"
    model, _ = small_run(tiny_split, epochs=1, checkpoint=ckpt)
    good = load_checkpoint(ckpt)["model_state"]
    with pytest.raises(TrainingDiverged, match=r"NaN/inf at epoch 1/1, step \d+.*Lower the learning rate"):
        monkeypatch.setattr("cnnbook.training.loop.CHECK_EVERY", 1)
        fit(model, tiny_split, None, recipe(lr=1e12), device="cpu", progress=False, checkpoint=ckpt)
    kept = load_checkpoint(ckpt)["model_state"]
    assert all(torch.equal(good[k], kept[k]) for k in good)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": -1}, "batch_size must be a positive integer"),
        ({"lr": float("nan")}, "lr must be a positive number"),
        ({"schedule": "step"}, "unknown schedule 'step'"),
        ({"precision": "fp16"}, "unknown precision 'fp16'; valid: auto, bf16, fp32"),
        ({"small_epochs": -1}, "small_epochs must be an integer of at least 0"),
        ({"small_epochs": 1, "small_size": 4}, "small_size must be an integer of at least 8"),
        ({"epochs": 2, "small_epochs": 2}, r"small_epochs \(2\) must be fewer than epochs \(2\)"),
    ],
)
def test_bad_training_settings_are_rejected(tiny_split, kw, message):
    with pytest.raises(ValueError, match=message):
        small_run(tiny_split, **kw)


@pytest.mark.parametrize(
    "field, value",
    [("epochs", 0), ("epochs", True), ("subset", 0), ("batch_size", 2.5), ("lr", 0), ("lr", True), ("small_size", 4)],
)
def test_one_rule_per_recipe_value_for_recipes_parameters_and_options(field, value):
    with pytest.raises(RecipeError) as made:
        Recipe(**{"epochs": 2, field: value})
    with pytest.raises(RecipeError) as checked:
        check_value(field, value)  # what a parameters cell or a command-line option checks before a recipe exists
    assert (made.value.field, made.value.value) == (checked.value.field, checked.value.value) == (field, value)
    assert str(made.value.named("--x")).startswith(f"--x = {value!r}: must be ")


def test_a_batch_must_fit_the_training_images():
    for batch, images in ((1, 100), (101, 100)):
        with pytest.raises(RecipeError) as err:
            Recipe(epochs=1, batch_size=batch).check_trains_on(images)
        assert (err.value.field, err.value.value) == ("batch_size", batch)
    Recipe(epochs=1, batch_size=100).check_trains_on(100)


def test_small_epochs_train_on_scaled_down_images_then_full_size(tiny_split):
    seen = []

    def record_size(x):
        seen.append(x.shape[-1])
        return cnnbook.data.normalize(x)

    _, h = small_run(tiny_split, epochs=3, small_epochs=2, small_size=16, batch_size=32, transform=record_size)
    assert seen.count(16) == 4 and len(h) == 3  # two small epochs of two training batches each
    assert seen[-3:] == [32, 32, 32]  # the last epoch's two batches, then validation (always at full size)
    assert (h.small_epochs, h.small_size) == (2, 16)  # the history says so: every plot of the run shades them


def test_a_recipe_without_small_epochs_keeps_its_old_record_and_fingerprint():
    plain = cnnbook.Recipe(epochs=15)
    assert "small_epochs" not in plain.as_dict() and "small_size" not in plain.as_dict()
    small = plain.with_(small_epochs=10)
    assert small.as_dict()["small_epochs"] == 10 and small.as_dict()["small_size"] == 24
    assert [small.image_size(e) for e in (0, 9, 10, 14)] == [24, 24, None, None]
    assert fingerprint("resnet20", small, 0) != fingerprint("resnet20", plain, 0)


def test_fewer_epochs_keep_the_share_of_small_epochs_and_end_at_full_size():
    quick = cnnbook.Recipe(epochs=14, small_epochs=10)
    assert quick.with_(epochs=7).small_epochs == 5
    assert quick.with_(epochs=28).small_epochs == 20
    assert quick.with_(epochs=1).small_epochs == 0  # one epoch: at full size
    assert quick.with_(epochs=7, small_epochs=2).small_epochs == 2  # an explicit value wins
    assert cnnbook.get_budget("quick", epochs=3).chapter.small_epochs == 2


def test_one_cycle_warms_up_then_anneals():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = make_scheduler(opt, "onecycle", 100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.05) and lrs[-1] < 0.01
    peak = lrs.index(max(lrs))
    assert peak == 25 and max(lrs) == pytest.approx(1.0, abs=0.01)  # warm-up over the first quarter
    assert all(a < b for a, b in zip(lrs[:peak], lrs[1 : peak + 1]))
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1 :]))
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    make_scheduler(opt, "onecycle", 1)  # a single step: it warms up from lr / 20
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_per_class_accuracy():
    acc = per_class_accuracy(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
    assert acc.tolist() == [1.0, 1.0, 0.5]


def test_budgets_resolve_and_validate(monkeypatch):
    monkeypatch.setenv("CNNBOOK_BUDGET", "smoke")
    assert cnnbook.get_budget().name == "smoke"
    assert cnnbook.get_budget("quick", epochs=3, subset=None).chapter.epochs == 3
    with pytest.raises(ValueError, match="unknown budget 'fast'; valid budgets: smoke, quick, full"):
        cnnbook.get_budget("fast")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        cnnbook.get_budget("quick", epochs=0)
    with pytest.raises(TypeError, match="unknown recipe field"):
        cnnbook.get_budget("quick", epoch=3)


def test_a_callback_returning_true_stops_training_early(tiny_split):
    _, h = small_run(tiny_split, epochs=5, callbacks=[lambda history: len(history) == 2])
    assert len(h) == 2


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_learn_and_record_their_choice(cifar, precision, tmp_path):
    """The loss falls on real images in either precision (bf16 is emulated, and slow, on CPUs without it)."""
    train = cifar.train.take(256, seed=0)
    cnnbook.set_seed(0)
    settings = recipe(epochs=3, batch_size=32, lr=0.05, label_smoothing=0.0, precision=precision)
    h = fit(cnnbook.get_model("resnet20"), train, train.take(32, seed=1), settings, checkpoint=tmp_path / "ckpt.pt",
            device="cpu", progress=False)  # fmt: skip
    assert h["train_loss"][-1] < h["train_loss"][0] - 0.1
    assert h["train_loss"][-1] < math.log(10)
    assert load_checkpoint(tmp_path / "ckpt.pt", cnnbook.get_model("resnet20"))["run_config"]["precision"] == precision


@pytest.mark.parametrize(
    "avx512_bf16, amx, expected", [(False, False, "fp32"), (True, False, "bf16"), (False, True, "bf16")]
)
def test_auto_precision_is_bf16_only_on_a_cpu_that_has_it(monkeypatch, avx512_bf16, amx, expected):
    from cnnbook.training.device import resolve_precision

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    assert resolve_precision("auto", "cpu") == expected
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("auto", "meta") == "fp32"


def test_bf16_autocast_runs_the_convolutions_in_bf16():
    from cnnbook.training.device import autocast

    conv = torch.nn.Conv2d(3, 4, 3)
    with autocast(torch.device("cpu"), "bf16"):
        assert conv(torch.randn(1, 3, 8, 8)).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert conv(torch.randn(1, 3, 8, 8)).dtype == torch.float32


def test_progress_bars_can_be_switched_off_for_static_builds(monkeypatch, capsys):
    from cnnbook.training.loop import progress_bar

    assert progress_bar(4, "epoch 1/1", enabled=False).disable
    monkeypatch.setenv("TQDM_DISABLE", "1")
    silent = progress_bar(4, "epoch 1/1", enabled=True)
    silent.update()
    silent.close()
    assert silent.disable and capsys.readouterr().err == ""  # its calls draw nothing
    monkeypatch.delenv("TQDM_DISABLE")
    bar = progress_bar(4, "epoch 1/1", enabled=True)
    assert not bar.disable and bar.total == 4
    bar.close()


def constant_model(predicted: int, num_classes: int = 10) -> torch.nn.Module:
    """A linear model that predicts ``predicted`` for every image (logit 2 there, 0 elsewhere)."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, num_classes))
    torch.nn.init.zeros_(model[1].weight)
    with torch.no_grad():
        model[1].bias.copy_(2.0 * torch.nn.functional.one_hot(torch.tensor(predicted), num_classes))
    return model


@pytest.mark.parametrize("batch_size", [1000, 10])
def test_evaluate_and_predict_return_the_right_numbers(tiny_split, batch_size):
    model = constant_model(3)
    logits = 2.0 * torch.nn.functional.one_hot(torch.full((64,), 3), 10).float()
    expected_loss = torch.nn.functional.cross_entropy(logits, tiny_split.labels).item()
    result = cnnbook.evaluate(model, tiny_split, batch_size=batch_size, precision="fp32")
    assert result["accuracy"] == pytest.approx(7 / 64)  # labels 3, 13, ..., 63 are class 3
    assert result["loss"] == pytest.approx(expected_loss)
    assert torch.equal(cnnbook.predict(model, tiny_split, batch_size=batch_size), torch.full((64,), 3))
    with_predictions = cnnbook.evaluate(model, tiny_split, batch_size=batch_size, predictions=True)
    assert torch.equal(with_predictions.pop("predictions"), torch.full((64,), 3))
    assert with_predictions == result


def test_flip_averages_the_logits_of_each_image_and_its_mirror_image(tiny_split):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    x = cnnbook.data.normalize(tiny_split.images)
    with torch.no_grad():
        logits = (model(x) + model(x.flip(-1))) / 2
    result = cnnbook.evaluate(model, tiny_split, batch_size=16, precision="fp32", flip=True, predictions=True)
    assert torch.equal(result["predictions"], logits.argmax(1))
    assert result["loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, tiny_split.labels).item())
    assert result["loss"] != pytest.approx(cnnbook.evaluate(model, tiny_split, precision="fp32")["loss"])
    both = evaluate_with_flip(model, tiny_split, precision="fp32")
    assert both["flip_accuracy"] == result["accuracy"]
    assert both["accuracy"] == cnnbook.evaluate(model, tiny_split, precision="fp32")["accuracy"]


def test_augment_false_trains_on_the_images_themselves(tiny_split):
    originals = {bytes(img.numpy()) for img in tiny_split.images}

    def seen_images(augment):
        seen = []

        def keep(x):
            if len(x) == 16:  # training batches, not the checks or the validation pass
                seen.extend(bytes(img.numpy()) for img in x)
            return cnnbook.data.normalize(x)

        fit(constant_model(0), tiny_split, None, recipe(augment=augment), device="cpu", progress=False, transform=keep)
        return seen

    assert set(seen_images(augment=False)) == originals
    assert not set(seen_images(augment=True)) <= originals


def test_an_empty_split_is_one_clear_error(tiny_split):
    empty = tiny_split.take(1)
    empty = type(empty)(empty.images[:0], empty.labels[:0])
    with pytest.raises(ValueError, match="the training split is empty"):
        fit(constant_model(0), empty, None, recipe(), device="cpu", progress=False)
    with pytest.raises(ValueError, match="the evaluated split is empty"):
        cnnbook.evaluate(constant_model(0), empty)
    with pytest.raises(ValueError, match="the validation split is empty"):
        fit(constant_model(0), tiny_split, empty, recipe(), device="cpu", progress=False)


def test_a_model_with_too_few_classes_is_named_before_training(tiny_split):
    for run in (
        lambda model: fit(model, tiny_split, None, recipe(), device="cpu", progress=False),
        lambda model: cnnbook.evaluate(model, tiny_split),
        lambda model: cnnbook.predict(model, tiny_split),
    ):
        with pytest.raises(ValueError, match="labels need 10 classes but the model has 5 outputs: .*num_classes=10"):
            run(constant_model(0, num_classes=5))


def test_a_model_with_more_classes_than_the_labels_is_warned_about(tiny_split):
    with pytest.warns(UserWarning, match="the model has 100 outputs but the evaluated labels use 10 classes"):
        cnnbook.evaluate(constant_model(0, num_classes=100), tiny_split)


def test_inputs_of_another_dtype_are_named_with_the_fix(tiny_split):
    def as_numpy_gives(x):  # what torch.from_numpy gives for a float64 array
        return torch.from_numpy(cnnbook.data.normalize(x).numpy().astype("float64"))

    message = (
        r"the transform gives torch.float64 inputs but the model's weights are torch.float32: .*\.to\(torch.float32\)"
    )
    with pytest.raises(TypeError, match=message):
        fit(constant_model(0), tiny_split, None, recipe(), device="cpu", progress=False, transform=as_numpy_gives)
    with pytest.raises(TypeError, match=message):
        cnnbook.evaluate(constant_model(0), tiny_split, transform=as_numpy_gives)
