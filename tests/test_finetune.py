import socket
import time
import urllib.request

import pytest
import torch
import torchvision

from cnnbook import get_budget
from cnnbook.experiments import finetune
from cnnbook.training.loop import fit_head


def test_offline_weights_give_one_clear_error(monkeypatch, capsys):
    def offline(*args, **kwargs):
        print('Downloading: "https://download.pytorch.org/models/resnet50.pth" to /root/.cache/torch/hub')  # torch.hub
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(torchvision.models, "get_model", offline)
    with pytest.raises(finetune.WeightsUnavailableError) as caught:
        finetune.pretrained("resnet50", 10, weights="DEFAULT")
    assert str(caught.value) == (
        "torchvision's ImageNet weights for resnet50 could not be downloaded (<urlopen error [Errno -2] Name or "
        "service not known>); they need network access once and are cached by torchvision afterwards"
    )
    assert capsys.readouterr() == ("", "")  # no download line with the build machine's cache path


def test_a_download_that_stalls_gives_up_with_the_same_error(monkeypatch):
    """A server that accepts the connection and never answers, as behind a packet-dropping firewall."""
    silent = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/resnet50.pth"

    def download(*args, **kwargs):  # what torch.hub does: urlopen with no timeout of its own
        return urllib.request.urlopen(url).read()

    monkeypatch.setattr(torchvision.models, "get_model", download)
    monkeypatch.setattr(finetune, "DOWNLOAD_TIMEOUT_S", 0.5)
    t0 = time.perf_counter()
    with silent, pytest.raises(finetune.WeightsUnavailableError, match="timed out"):
        finetune.pretrained("resnet50", 10, weights="DEFAULT")
    assert time.perf_counter() - t0 < 10
    assert socket.getdefaulttimeout() is None  # the process-wide default is restored


@pytest.mark.parametrize(
    "name, size", [("resnet50", 224), ("densenet121", 224), ("googlenet", 224), ("inception_v3", 299)]
)
def test_random_init_replaces_the_head_and_uses_the_weights_preprocessing(name, size):
    model, prep = finetune.pretrained(name, 10, weights=None)
    assert finetune.head_of(model).out_features == 10
    assert prep.size == size and prep.mean == (0.485, 0.456, 0.406)
    assert not getattr(model, "aux_logits", False)


def test_inception_v3_with_aux_head_is_stripped_after_loading(monkeypatch):
    real = torchvision.models.get_model

    def fake_pretrained(name, weights=None, **kw):
        assert "aux_logits" not in kw  # passing aux_logits=False with weights raises in torchvision
        return real(name, weights=None, aux_logits=True, init_weights=False)

    monkeypatch.setattr(torchvision.models, "get_model", fake_pretrained)
    model, _ = finetune.pretrained("inception_v3", 10, weights="DEFAULT", input_size=75)
    assert model.AuxLogits is None and model.aux_logits is False
    model.train()
    assert model(torch.randn(2, 3, 75, 75)).shape == (2, 10)


def test_freeze_leaves_only_the_head_trainable():
    model, _ = finetune.pretrained("resnet50", 10, weights=None, freeze=True)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]


def test_unknown_pretrained_name():
    with pytest.raises(ValueError, match="unknown pretrained model 'vgg16'"):
        finetune.pretrained("vgg16", 10)


def test_cached_features_train_a_head(tiny_split):
    model, prep = finetune.pretrained("resnet50", 10, weights=None, input_size=32)
    feats = finetune.extract_features(model, tiny_split, prep, batch_size=32)
    assert feats.shape == (64, 2048)
    assert isinstance(model.fc, torch.nn.Linear)  # head restored
    head = torch.nn.Linear(2048, 10)
    h = fit_head(head, feats, tiny_split.labels, feats, tiny_split.labels, epochs=30)
    assert h["train_loss"][-1] < h["train_loss"][0]


def test_imagenet_input_resizes_and_normalises():
    prep = finetune.ImageNetInput(64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    out = prep(torch.full((2, 3, 32, 32), 255, dtype=torch.uint8))
    assert out.shape == (2, 3, 64, 64) and torch.allclose(out, torch.ones_like(out))


def test_fine_tune_offline_says_so_and_trains_from_random_init(tiny_split, monkeypatch):
    real = torchvision.models.get_model

    def offline_for_weights(name, weights=None, **kw):
        if weights is not None:
            raise OSError("<urlopen error [Errno -2] Name or service not known>")
        return real(name, weights=None, **kw)

    monkeypatch.setattr(torchvision.models, "get_model", offline_for_weights)
    recipe = get_budget("smoke").transfer
    result = finetune.fine_tune(
        "densenet121", tiny_split, tiny_split.take(20), recipe, input_size=32, device="cpu", progress=False
    )
    assert not result.pretrained and "need network access once" in result.unavailable
    assert result.init.startswith("random init")
    assert len(result.history) == 1 and 0 <= result.test_accuracy <= 1
    assert finetune.head_of(result.model).out_features == 10


@pytest.fixture
def cached_imagenet_weights(tmp_path, monkeypatch):
    """torchvision's weight cache ($TORCH_HOME/hub/checkpoints/<the file the weights' URL names>)
    filled with a state_dict of the right architecture, as after one online download: the real
    ``weights=`` path then loads it without the network."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    saved = {}

    def cache(name: str) -> dict:
        enum = getattr(torchvision.models, finetune.MODELS[name][0])
        options = {"aux_logits": True, "init_weights": False} if name == "inception_v3" else {}
        torch.manual_seed(0)
        state = torchvision.models.get_model(name, weights=None, **options).state_dict()
        torch.save(state, checkpoints / enum.DEFAULT.url.rsplit("/", 1)[1])
        saved[name] = state
        return state

    def offline(*args, **kwargs):
        raise AssertionError("tried to download although the weights are cached")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return cache


@pytest.mark.slow
@pytest.mark.parametrize("name, size", [("resnet50", 64), ("densenet121", 64)])
def test_chapters_fine_tune_through_torchvisions_real_weight_loader(
    cached_imagenet_weights, tiny_split, monkeypatch, name, size
):
    state = cached_imagenet_weights(name)
    started_from, fit = {}, finetune.fit

    def spy(model, *args, **kwargs):  # what fine-tuning starts from: every cached weight but the head
        body = {k: v for k, v in model.state_dict().items() if not k.startswith(("fc.", "classifier."))}
        started_from["cached"] = all(torch.equal(v, state[k]) for k, v in body.items())
        return fit(model, *args, **kwargs)

    monkeypatch.setattr(finetune, "fit", spy)
    recipe = get_budget("smoke").transfer
    result = finetune.fine_tune(name, tiny_split, tiny_split.take(16), recipe, input_size=size, device="cpu",
                                progress=False, require_weights=True)  # fmt: skip
    assert started_from == {"cached": True}
    assert result.pretrained and result.init == "ImageNet weights"
    assert result.transform.mean == (0.485, 0.456, 0.406) and result.transform.size == size
    assert finetune.head_of(result.model).out_features == 10 and len(result.history) == 1
    first = next(iter(state))  # the stem convolution: trained
    assert not torch.equal(result.model.state_dict()[first], state[first])
    assert 0 <= result.test_accuracy <= 1


@pytest.mark.slow
def test_chapter_2s_frozen_inception_loads_the_cached_weights_and_trains_its_head(cached_imagenet_weights, tiny_split):
    state = cached_imagenet_weights("inception_v3")
    model, prep = finetune.pretrained("inception_v3", 10, weights="DEFAULT", freeze=True, input_size=75)
    body = {k: v for k, v in model.state_dict().items() if not k.startswith(("fc.", "AuxLogits."))}
    assert all(torch.equal(v, state[k]) for k, v in body.items())  # every ImageNet weight, loaded
    assert model.AuxLogits is None and prep.size == 75
    features = finetune.extract_features(model, tiny_split, prep, batch_size=32)
    assert features.shape == (64, 2048)
    history = fit_head(finetune.head_of(model), features, tiny_split.labels, epochs=20, lr=0.01)
    assert history["train_loss"][-1] < history["train_loss"][0]
