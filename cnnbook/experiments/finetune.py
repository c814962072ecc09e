"""Transfer learning with torchvision's ImageNet models, done the modern way.

* ``weights="DEFAULT"`` (the ``weights=`` API, not the removed ``pretrained=True``);
  offline it fails with one :class:`WeightsUnavailableError` instead of a stack of URL errors.
* ``inception_v3`` is loaded with its auxiliary head (the weights require it) and the head
  is dropped afterwards; passing ``aux_logits=False`` together with weights raises.
* A frozen backbone is run once over the data (:func:`extract_features`); only the new
  head trains, on the cached features (:func:`~cnnbook.training.loop.fit_head`).
* :func:`fine_tune` trains the whole network with its new head; offline it says so and runs
  the same code from random initialisation (``FineTuned.pretrained`` is then False).
"""

from __future__ import annotations

import io
import socket
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split
from ..models.base import evaluation_mode
from ..training.evaluation import evaluate
from ..training.history import History
from ..training.loop import fit
from ..training.recipe import Recipe

# name -> (torchvision weights enum, attribute of the classification head)
MODELS = {
    "resnet50": ("ResNet50_Weights", "fc"),
    "inception_v3": ("Inception_V3_Weights", "fc"),
    "densenet121": ("DenseNet121_Weights", "classifier"),
    "googlenet": ("GoogLeNet_Weights", "fc"),
}


# torch.hub downloads without a timeout: behind a firewall that drops packets, a download would hang.
DOWNLOAD_TIMEOUT_S = 60


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be loaded (usually: no network)."""


@contextmanager
def socket_timeout(seconds: float):
    """Inside the block, socket operations that set no timeout of their own give up after ``seconds``."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds if previous is None else previous)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def resize_antialias(source: int, target: int, device: torch.device) -> bool:
    """Whether resizing ``source`` pixels to ``target`` antialiases: only when shrinking (enlarging, the
    bilinear weights are the same either way), and never on MPS (older torch releases lack it there)."""
    return target < source and device.type != "mps"


@dataclass(frozen=True)
class ImageNetInput:
    """uint8 CIFAR batch -> the pretrained model's input: resized, ImageNet-normalised."""

    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().div_(255)
        if x.shape[-1] != self.size:
            antialias = resize_antialias(x.shape[-1], self.size, x.device)
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=antialias, align_corners=False)
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def pretrained(
    name: str, num_classes: int, weights: str | None = "DEFAULT", freeze: bool = False, input_size: int | None = None
) -> tuple[nn.Module, ImageNetInput]:
    """A torchvision model with a new ``num_classes`` head and its input transform.

    ``weights="DEFAULT"`` loads ImageNet weights (download needs the network); ``None`` starts
    from random initialisation. ``freeze=True`` stops gradients everywhere but the new head.
    ``input_size`` overrides the weights' crop size (e.g. smaller images on a CPU).
    """
    import torchvision

    if name not in MODELS:
        raise ValueError(f"unknown pretrained model {name!r}; valid: {', '.join(MODELS)}")
    enum_name, head = MODELS[name]
    weights_enum = getattr(torchvision.models, enum_name)
    if weights not in (None, "DEFAULT"):
        weights = weights_enum[weights] if isinstance(weights, str) else weights
    kwargs = {}
    if weights is None and name in ("inception_v3", "googlenet"):
        kwargs = {"aux_logits": False, "init_weights": True}
    try:  # torch.hub's "Downloading: <url> to <cache path>" line (stdout) and progress bar (stderr) stay off pages
        with socket_timeout(DOWNLOAD_TIMEOUT_S), redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            model = torchvision.models.get_model(name, weights=weights, **kwargs)
    except (OSError, RuntimeError) as exc:  # URLError and TimeoutError are OSErrors
        timed_out = isinstance(exc, TimeoutError) or "timed out" in str(exc)
        reason = f"timed out after {DOWNLOAD_TIMEOUT_S:g} s" if timed_out else str(getattr(exc, "reason", exc))
        raise WeightsUnavailableError(
            f"torchvision's ImageNet weights for {name} could not be downloaded ({reason}); "
            "they need network access once and are cached by torchvision afterwards"
        ) from None
    if name in ("inception_v3", "googlenet") and getattr(model, "aux_logits", False):
        model.aux_logits = False  # the weights come with auxiliary heads; drop them now
        for aux in ("AuxLogits", "aux1", "aux2"):
            if hasattr(model, aux):
                setattr(model, aux, None)
    if freeze:
        for p in model.parameters():
            p.requires_grad_(False)
    old = getattr(model, head)
    setattr(model, head, nn.Linear(old.in_features, num_classes))
    model.registry_name = f"torchvision.{name}"
    preset = (weights_enum.DEFAULT if weights in (None, "DEFAULT") else weights).transforms()
    size = input_size or preset.crop_size[0]
    return model, ImageNetInput(size, tuple(preset.mean), tuple(preset.std))


def head_of(model: nn.Module) -> nn.Module:
    """The classification head of a model built by :func:`pretrained`."""
    return getattr(model, MODELS[model.registry_name.removeprefix("torchvision.")][1])


@torch.inference_mode()
def head_inputs(model: nn.Module, head: str, split: Split, batch_size: int, transform=None) -> torch.Tensor:
    """What the submodule ``head`` of ``model`` reads for every image of ``split`` (the backbone's
    features, ``(N, D)`` on the CPU), with the model in evaluation mode and its head kept."""
    saved = getattr(model, head)
    setattr(model, head, nn.Identity())
    device = next(model.parameters()).device
    try:
        with evaluation_mode(model):
            batches = split.to(device).batches(batch_size, transform=transform)
            return torch.cat([model(x).float().cpu() for x, _ in batches])
    finally:
        setattr(model, head, saved)


def extract_features(model: nn.Module, split: Split, transform: ImageNetInput, batch_size: int = 64) -> torch.Tensor:
    """Run the backbone (everything but the head) once over ``split``: ``(N, D)`` features."""
    head = MODELS[model.registry_name.removeprefix("torchvision.")][1]
    return head_inputs(model, head, split, batch_size, transform)


@dataclass
class FineTuned:
    """What :func:`fine_tune` returns; ``unavailable`` says why ImageNet weights were not used."""

    model: nn.Module
    transform: ImageNetInput
    history: History
    test_accuracy: float
    pretrained: bool
    unavailable: str = ""

    @property
    def init(self) -> str:
        """How the backbone started, for labels and printouts."""
        return "ImageNet weights" if self.pretrained else "random init (no ImageNet weights)"


def fine_tune(
    name: str,
    train: Split,
    test: Split,
    recipe: Recipe,
    *,
    input_size: int | None = None,
    num_classes: int = 10,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    require_weights: bool = False,
) -> FineTuned:
    """Fine-tune torchvision's ImageNet ``name`` end to end with a new head, as ``recipe`` says (a
    budget's ``transfer`` recipe); test accuracy on ``test``.

    Without the weights (usually: offline) the same run starts from random initialisation,
    and the result says so: ``pretrained=False`` and the reason in ``unavailable``; with
    ``require_weights=True`` it raises :class:`WeightsUnavailableError` instead.
    """
    try:
        model, transform = pretrained(name, num_classes, weights="DEFAULT", input_size=input_size)
        unavailable = ""
    except WeightsUnavailableError as err:
        if require_weights:
            raise
        model, transform = pretrained(name, num_classes, weights=None, input_size=input_size)
        unavailable = str(err)
    history = fit(model, train, None, recipe, transform=transform, seed=seed, device=device, progress=progress)
    accuracy = evaluate(model, test, batch_size=100, transform=transform)["accuracy"]
    return FineTuned(model, transform, history, accuracy, not unavailable, unavailable)
