import torch

import cnnbook
from cnnbook.data import CIFAR10


def test_train_chapter_model_trains_the_named_model_with_the_budget_and_draws_it(tiny_split, capsys):
    data = CIFAR10(tiny_split, tiny_split.take(16, seed=0), tiny_split, tuple("abcdefghij"), "test", "memory")
    cfg = cnnbook.get_budget("smoke", epochs=2, batch_size=16)
    model, history, minutes = cnnbook.train_chapter_model("resnet20", cfg, data, torch.device("cpu"), seed=1)
    assert model.registry_name == "resnet20"
    assert len(history) == 2 and [r["images"] for r in history.records] == [64, 64]
    assert 0 < minutes < 5
    out = capsys.readouterr().out
    assert "No committed reference run of resnet20 at budget 'smoke'" in out  # smoke has no reference set
    assert "Figure(" in out  # the live plot was displayed (outside IPython, as its text repr)
