"""Densely connected networks (Huang et al., 2017).

Inside a dense block every layer reads the concatenation of the block input and of all
earlier layers' outputs, and adds ``growth_rate`` (k) new feature maps to it. Transitions
between blocks compress the channels (1x1 conv) and halve the resolution (2x2 average pool).

* ``densenet121``: the ImageNet network of the source, module for module torchvision's
  ``densenet121`` (same names, so its state_dict loads into ours).
* ``densenet_bc100``: DenseNet-BC with L=100, k=12 for CIFAR (0.8M parameters in the paper).
* ``densenet_cifar``: a compact DenseNet-BC (0.2M parameters) that trains in minutes on a CPU.

``memory_efficient=True`` recomputes each layer's concatenation and bottleneck during the
backward pass instead of storing them (Pleiss et al., 2017).
"""

from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager, nullcontext

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .base import ImageClassifier, evaluation_mode
from .registry import ModelMeta, register_model

STEMS = ("imagenet", "cifar")


@contextmanager
def frozen_running_stats(norm: nn.BatchNorm2d):
    """Normalise with batch statistics as usual, but leave the running averages untouched.

    Used while a checkpointed layer is recomputed, so that it updates them only once.
    """
    momentum, count = norm.momentum, norm.num_batches_tracked.clone()
    norm.momentum = 0.0
    try:
        yield
    finally:
        norm.momentum = momentum
        norm.num_batches_tracked.copy_(count)


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (to ``bn_size * k``), BN-ReLU-3x3 conv (to ``k``) on all earlier maps.

    ``forward`` takes the list of feature maps produced so far in the block and returns the
    ``growth_rate`` new maps; the block appends them to the list (the concatenation).
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4, memory_efficient: bool = False):
        super().__init__()
        width = bn_size * growth_rate
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, growth_rate, 3, padding=1, bias=False)
        self.memory_efficient = memory_efficient

    def bottleneck(self, *features: torch.Tensor) -> torch.Tensor:
        """Concatenate, normalise and squeeze to ``bn_size * k`` channels."""
        return self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        if self.memory_efficient and torch.is_grad_enabled() and any(f.requires_grad for f in features):
            # Keep only the (shared) inputs; rebuild the concatenation when gradients need it.
            contexts = lambda: (nullcontext(), frozen_running_stats(self.norm1))  # noqa: E731
            out = checkpoint(self.bottleneck, *features, use_reentrant=False, context_fn=contexts)
        else:
            out = self.bottleneck(*features)
        return self.conv2(self.relu2(self.norm2(out)))


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; the output concatenates the input and every new map."""

    def __init__(
        self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4, memory_efficient: bool = False
    ):
        super().__init__()
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = DenseLayer(
                in_channels + i * growth_rate, growth_rate, bn_size, memory_efficient
            )
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv to ``out_channels`` (the compression), then 2x2 average pooling."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            OrderedDict(
                [
                    ("norm", nn.BatchNorm2d(in_channels)),
                    ("relu", nn.ReLU(inplace=True)),
                    ("conv", nn.Conv2d(in_channels, out_channels, 1, bias=False)),
                    ("pool", nn.AvgPool2d(2, stride=2)),
                ]
            )
        )


def make_stem(kind: str, out_channels: int) -> list[tuple[str, nn.Module]]:
    """ImageNet: 7x7/2 conv, BN, ReLU, 3x3/2 max-pool (4x smaller). CIFAR: one 3x3 conv."""
    if kind == "imagenet":
        return [
            ("conv0", nn.Conv2d(3, out_channels, 7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(out_channels)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(3, stride=2, padding=1)),
        ]
    if kind == "cifar":
        return [("conv0", nn.Conv2d(3, out_channels, 3, padding=1, bias=False))]
    raise ValueError(f"unknown stem {kind!r}; valid: {', '.join(STEMS)}")


class DenseNet(ImageClassifier):
    """Stem, dense blocks separated by compressing transitions, BN-ReLU, pool, linear.

    ``block_config[i]`` is the number of layers of block ``i``; each adds ``growth_rate`` maps.
    A transition keeps ``floor(compression * channels)`` of the channels it receives.
    """

    def __init__(
        self,
        growth_rate: int,
        block_config: tuple[int, ...],
        num_init_features: int,
        bn_size: int = 4,
        compression: float = 0.5,
        stem: str = "imagenet",
        num_classes: int = 10,
        memory_efficient: bool = False,
    ):
        super().__init__()
        if not 0 < compression <= 1:
            raise ValueError(f"compression must be in (0, 1], got {compression!r}")
        self.config = {
            "growth_rate": growth_rate,
            "block_config": tuple(block_config),
            "num_init_features": num_init_features,
            "bn_size": bn_size,
            "compression": compression,
            "stem": stem,
        }
        modules = make_stem(stem, num_init_features)
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bn_size, memory_efficient)
            modules.append((f"denseblock{i + 1}", block))
            channels = block.out_channels
            if i < len(block_config) - 1:
                out = int(channels * compression)
                modules.append((f"transition{i + 1}", Transition(channels, out)))
                channels = out
        modules.append((f"norm{len(block_config) + 1}", nn.BatchNorm2d(channels)))
        self.features = nn.Sequential(OrderedDict(modules))
        self.classifier = nn.Linear(channels, num_classes)
        self.min_size = (4 if stem == "imagenet" else 1) * 2 ** (len(block_config) - 1)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


@register_model(
    meta=ModelMeta(
        "huang2017densely",
        chapter="densenet",
        input_size=224,
        published_params=7_978_856,
        published_with={"num_classes": 1000},
        published_in="torchvision",
        exact=True,
    )
)
def densenet121(num_classes: int = 10, memory_efficient: bool = False) -> DenseNet:
    """DenseNet-121 (k=32, blocks 6/12/24/16, ImageNet stem): torchvision's layout, 8.0M params."""
    return DenseNet(
        32, (6, 12, 24, 16), 64, stem="imagenet", num_classes=num_classes, memory_efficient=memory_efficient
    )


# Huang et al. (2017), Table 2: 0.8M parameters.
@register_model(meta=ModelMeta("huang2017densely", chapter="densenet", input_size=32, published_params=800_000))
def densenet_bc100(num_classes: int = 10, memory_efficient: bool = False) -> DenseNet:
    """DenseNet-BC L=100, k=12 for CIFAR: three blocks of 16 bottleneck layers (0.8M params)."""
    return DenseNet(12, (16, 16, 16), 24, stem="cifar", num_classes=num_classes, memory_efficient=memory_efficient)


@register_model(meta=ModelMeta("huang2017densely", chapter="densenet", input_size=32))
def densenet_cifar(num_classes: int = 10, memory_efficient: bool = False) -> DenseNet:
    """A compact DenseNet-BC for CPU budgets: k=16, blocks 1/4/8/8 at 32/16/8/4 pixels (0.2M).

    Layers at full resolution are the expensive ones on a CPU, so one layer works at 32x32 and
    the depth sits at 8x8 and 4x4; a bottleneck of 2k (``bn_size=2``) keeps each layer light.
    """
    return DenseNet(
        16, (1, 4, 8, 8), 32, bn_size=2, stem="cifar", num_classes=num_classes, memory_efficient=memory_efficient
    )


def feature_reuse(block: DenseBlock, transition: Transition | None = None, fold_bn: bool = False) -> torch.Tensor:
    """How strongly each layer of a trained block reads each earlier source (Huang et al., Fig. 5).

    Entry ``[target, source]`` is the mean absolute weight of the target's first convolution
    over the input channels that came from ``source`` (0: the block input, ``s``: layer ``s``).
    Rows are the block's layers, then ``transition`` if given; sources a layer cannot see are NaN.
    With ``fold_bn`` each input channel's weights are first scaled by ``|gamma|`` of the batch norm
    in front of the convolution: the *effective* weight, since a channel the norm scales to nearly
    zero is hardly read, however large its convolution weights.
    """
    layers = list(block.values())
    growth = layers[0].conv2.out_channels
    in_channels = layers[0].conv1.in_channels
    sizes = [in_channels] + [growth] * len(layers)
    pairs = [(layer.norm1, layer.conv1) for layer in layers]
    pairs += [(transition.norm, transition.conv)] if transition is not None else []
    heat = torch.full((len(pairs), len(sizes)), float("nan"))
    for target, (norm, conv) in enumerate(pairs):  # target t reads sources 0..t
        weight = conv.weight.detach().abs().mean(dim=(0, 2, 3)).cpu()
        if fold_bn:
            weight = weight * norm.weight.detach().abs().cpu()
        for source, chunk in enumerate(weight.split(sizes[: target + 1])):
            heat[target, source] = chunk.mean()
    return heat


def feature_reuse_by_block(model: DenseNet, fold_bn: bool = False) -> dict[str, torch.Tensor]:
    """``feature_reuse`` of every block with more than one layer, each target's strongest source = 1.

    Keys are the blocks' names (``"denseblock2"``); each matrix is ``[target, source]`` with the
    following transition (if any) as the last target, NaN where a target cannot see a source.
    """
    children = dict(model.features.named_children())
    maps = {}
    for name, block in children.items():
        if isinstance(block, DenseBlock) and len(block) > 1:
            transition = children.get(name.replace("denseblock", "transition"))
            heat = feature_reuse(block, transition, fold_bn)
            maps[name] = heat / heat.nan_to_num(0).amax(dim=1, keepdim=True)
    return maps


def reads_by_kind(heat: torch.Tensor) -> dict[str, float]:
    """A block's ``feature_reuse`` map condensed over its layers (the transition's row left out): the
    mean weight with which a layer reads its direct predecessor, the block input, and the layers in
    between. Layer 1 reads only the block input and counts for none of the three."""
    n = heat.shape[1] - 1  # layers; row t is layer t + 1, reading sources 0..t
    if n < 3:
        raise ValueError(f"a map of {n} layer(s): reads_by_kind needs a block of 3 layers or more")
    layers = heat[:n]
    between = [layers[t, s] for t in range(2, n) for s in range(1, t)]
    return {
        "direct predecessor": torch.stack([layers[t, t] for t in range(1, n)]).mean().item(),
        "block input": layers[1:, 0].mean().item(),
        "layers in between": torch.stack(between).mean().item(),
    }


def trace_channels(model: DenseNet, images: torch.Tensor) -> list[dict]:
    """Channels read and written by the stem, every dense layer, block and transition of ``model``
    on the normalised batch ``images`` (recorded with forward hooks), one dict per module."""
    rows = []

    def record(name):
        def hook(module, inputs, output):
            first = inputs[0]
            channels_in = sum(t.shape[1] for t in first) if isinstance(first, list) else first.shape[1]
            size = f"{output.shape[2]}x{output.shape[3]}"
            rows.append({"module": name, "channels in": channels_in, "channels out": output.shape[1], "maps": size})

        return hook

    kinds = (DenseLayer, DenseBlock, Transition)
    named = [(n, m) for n, m in model.features.named_modules() if isinstance(m, kinds) or n == "conv0"]
    handles = [m.register_forward_hook(record(n)) for n, m in named]
    try:
        with torch.no_grad(), evaluation_mode(model):
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    return rows
