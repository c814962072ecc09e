import torch

from cnnbook.data import CIFAR10, Split
from cnnbook.experiments import class_transfer
from cnnbook.models import get_model
from cnnbook.training.recipe import Recipe


def test_classes_of_keeps_only_those_classes_relabelled_in_order(tiny_split):
    target = class_transfer.classes_of(tiny_split, (9, 6))
    assert len(target) == 12 and set(target.labels.tolist()) == {0, 1}
    assert torch.equal(target.images[target.labels == 0], tiny_split.images[tiny_split.labels == 9])


def test_few_shot_is_balanced_and_refuses_too_many_shots(tiny_split):
    few = class_transfer.few_shot(tiny_split, 3, seed=1)
    assert torch.bincount(few.labels).tolist() == [3] * 10
    try:
        class_transfer.few_shot(tiny_split, 7)
    except ValueError as err:
        assert "fewer than shots=7" in str(err)
    else:
        raise AssertionError("7 shots of a class with 6 or 7 images must be refused")


def test_compare_trains_three_learners_on_the_target_classes(tiny_split):
    data = CIFAR10(tiny_split, tiny_split, tiny_split, tuple("abcdefghij"), "test", "memory")
    pretrained, history = class_transfer.pretrain("resnet20", Recipe(epochs=1, batch_size=16), data, progress=False)
    assert pretrained.fc.out_features == 6 and history.last["images"] == 32  # 6 source classes x 6 or 7 images
    settings = class_transfer.FewShot(shots=4, epochs=1, batch_size=8)
    before = {k: v.clone() for k, v in pretrained.state_dict().items()}
    rows = class_transfer.compare(pretrained, "resnet20", data, settings)
    assert [r["learner"].split()[0] for r in rows] == ["frozen", "fine-tune", "from"]
    assert (
        rows[0]["trained parameters"] == 64 * 4 + 4 and rows[1]["trained parameters"] == rows[2]["trained parameters"]
    )
    assert all(r["labelled images"] == 16 and 0 <= r["test accuracy"] <= 1 for r in rows)
    assert all(torch.equal(v, pretrained.state_dict()[k]) for k, v in before.items())  # fine-tuning used a copy


def test_body_features_are_what_the_head_reads():
    model = get_model("resnet20").eval()
    split = Split(torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8), torch.zeros(5, dtype=torch.long))
    features = class_transfer.body_features(model, split)
    with torch.no_grad():
        logits, from_features = model(next(split.batches(5))[0]), model.fc(features)
    assert features.shape == (5, 64) and torch.allclose(from_features, logits, atol=1e-5)
