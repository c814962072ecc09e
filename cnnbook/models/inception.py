"""GoogLeNet and its Inception modules (Szegedy et al., 2015), with batch normalisation.

Every convolution is a :class:`ConvBNReLU` unit, including the last one of each branch:
the source text's module has no nonlinearity after the last convolution of a branch, which
lets it collapse with the next module's 1x1 convolutions into a single linear map.

* ``googlenet``: the ImageNet network (7x7 stem, modules 3a ... 5b, 6.6M parameters without
  its two auxiliary heads); ``wide_kernel=3`` reproduces torchvision's layout exactly.
* ``inception_net``: the source text's small network (stem, 3a, 3b, max-pool, 4a).
* ``googlenet_cifar``: a compact GoogLeNet for 32x32 images that trains in minutes on a CPU.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from .base import ImageClassifier
from .registry import ModelMeta, register_model


class ConvBNReLU(nn.Sequential):
    """Convolution (no bias, "same" padding) -> BatchNorm -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
                bn=nn.BatchNorm2d(out_channels),
                relu=nn.ReLU(inplace=True),
            )
        )


class InceptionSpec(NamedTuple):
    """Channel plan of one module, in the column order of Szegedy et al.'s Table 1."""

    ch1x1: int  # 1x1 branch
    red3x3: int  # 1x1 reduction before the 3x3 convolution
    ch3x3: int
    red5x5: int  # 1x1 reduction before the wide (5x5) convolution
    ch5x5: int
    pool_proj: int  # 1x1 projection after the 3x3 max-pool

    @property
    def out_channels(self) -> int:
        return self.ch1x1 + self.ch3x3 + self.ch5x5 + self.pool_proj


class InceptionModule(nn.Module):
    """Four parallel branches on the same input, concatenated along the channels.

    ``wide_kernel`` is the kernel of the "5x5" branch (torchvision's GoogLeNet uses 3).
    """

    branches = ("branch1x1", "branch3x3", "branch5x5", "branch_pool")

    def __init__(self, in_channels: int, spec: InceptionSpec, wide_kernel: int = 5):
        super().__init__()
        self.out_channels = spec.out_channels
        self.branch1x1 = ConvBNReLU(in_channels, spec.ch1x1, 1)
        self.branch3x3 = nn.Sequential(ConvBNReLU(in_channels, spec.red3x3, 1), ConvBNReLU(spec.red3x3, spec.ch3x3, 3))
        self.branch5x5 = nn.Sequential(
            ConvBNReLU(in_channels, spec.red5x5, 1), ConvBNReLU(spec.red5x5, spec.ch5x5, wide_kernel)
        )
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), ConvBNReLU(in_channels, spec.pool_proj, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([getattr(self, name)(x) for name in self.branches], dim=1)


class AuxClassifier(nn.Module):
    """Side classifier on an intermediate map: average-pool to ``pool_size``, 1x1 conv, two linears."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        pool_size: int = 4,
        channels: int = 128,
        hidden: int = 1024,
        dropout: float = 0.7,
    ):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.conv = ConvBNReLU(in_channels, channels, 1)
        self.fc1 = nn.Linear(channels * pool_size * pool_size, hidden)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class InceptionOutputs(NamedTuple):
    """What a GoogLeNet with auxiliary heads returns in training mode."""

    logits: torch.Tensor
    aux: tuple[torch.Tensor, ...]  # one logit tensor per auxiliary head, input to output


# A stage is a tuple of module specs; a pooling layer separates consecutive stages.
Stages = tuple[tuple[InceptionSpec, ...], ...]


class GoogLeNet(ImageClassifier):
    """A stem, stages of Inception modules (``inception3a``, ``inception3b``, ``inception4a``, ...)
    separated by ``pools``, then global average pooling, dropout and a linear classifier.

    ``aux_heads`` maps module names to :class:`AuxClassifier` keyword arguments. With heads,
    training mode returns :class:`InceptionOutputs`; evaluation mode returns plain logits.
    """

    def __init__(
        self,
        stem: nn.Sequential,
        stem_channels: int,
        stages: Stages,
        pools: tuple[nn.Module, ...],
        num_classes: int,
        min_size: int = 1,
        dropout: float = 0.4,
        wide_kernel: int = 5,
        aux_heads: dict[str, dict] | None = None,
    ):
        super().__init__()
        if len(pools) != len(stages) - 1:
            raise ValueError(f"{len(stages)} stages need {len(stages) - 1} pooling layers, got {len(pools)}")
        self.stem = stem
        body: OrderedDict[str, nn.Module] = OrderedDict()
        channels = stem_channels
        for number, stage in enumerate(stages, start=3):  # GoogLeNet's numbering starts at 3
            if number > 3:
                body[f"maxpool{number - 1}"] = pools[number - 4]
            for letter, spec in zip("abcdefgh", stage):
                body[f"inception{number}{letter}"] = module = InceptionModule(channels, spec, wide_kernel)
                channels = module.out_channels
        self.body = nn.Sequential(body)
        self.aux = nn.ModuleDict(
            {
                name: AuxClassifier(body[name].out_channels, num_classes, **kwargs)
                for name, kwargs in (aux_heads or {}).items()
            }
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        self.min_size = min_size
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @property
    def aux_logits(self) -> bool:
        """Whether the network has auxiliary heads (they only run in training mode)."""
        return len(self.aux) > 0

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor | InceptionOutputs:
        x = self.stem(x)
        aux = []
        for name, layer in self.body.named_children():
            x = layer(x)
            if self.training and name in self.aux:
                aux.append(self.aux[name](x))
        logits = self.classify(x)
        return InceptionOutputs(logits, tuple(aux)) if aux else logits

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """The head: global average pooling, dropout and the linear classifier."""
        return self.fc(self.dropout(torch.flatten(self.pool(features), 1)))

    def forward_from(self, x: torch.Tensor, start: int) -> torch.Tensor:
        """Logits from ``x``, the input of the ``start``-th layer of ``body`` (auxiliary heads unused)."""
        return self.classify(self.body[start:](x))


S = InceptionSpec  # a short name for the tables below


# Szegedy et al. (2015), Table 1: stages 3 (28x28), 4 (14x14) and 5 (7x7) at 224x224 input.
GOOGLENET_STAGES: Stages = (
    (S(64, 96, 128, 16, 32, 32), S(128, 128, 192, 32, 96, 64)),  # 3a -> 256, 3b -> 480
    (
        S(192, 96, 208, 16, 48, 64),
        S(160, 112, 224, 24, 64, 64),
        S(128, 128, 256, 24, 64, 64),
        S(112, 144, 288, 32, 64, 64),
        S(256, 160, 320, 32, 128, 128),
    ),  # 4a ... 4e -> 512 ... 832
    (S(256, 160, 320, 32, 128, 128), S(384, 192, 384, 48, 128, 128)),  # 5a -> 832, 5b -> 1024
)
# The source text's small network: 3a, 3b, max-pool, 4a (256, 480 and 512 channels).
INCEPTION_NET_STAGES: Stages = (GOOGLENET_STAGES[0], GOOGLENET_STAGES[1][:1])
# A CIFAR-sized plan: two modules at 16x16, three at 8x8, every width a multiple of 16.
GOOGLENET_CIFAR_STAGES: Stages = (
    (S(32, 32, 48, 16, 16, 16), S(48, 48, 64, 16, 16, 16)),  # 16x16: 3a -> 112, 3b -> 144
    (S(64, 48, 80, 16, 32, 32), S(64, 64, 96, 16, 32, 32), S(96, 64, 128, 16, 48, 48)),  # 8x8: -> 208, 224, 320
)


@register_model(
    meta=ModelMeta(
        "szegedy2015going",
        chapter="inception",
        input_size=224,
        published_params=6_624_904,  # torchvision's googlenet without its auxiliary heads
        published_with={"num_classes": 1000, "wide_kernel": 3},
        published_in="torchvision",
        exact=True,
    )
)
def googlenet(num_classes: int = 10, aux_logits: bool = False, wide_kernel: int = 5) -> GoogLeNet:
    """GoogLeNet (Inception v1) for 224x224 ImageNet images, BatchNorm after every convolution.

    ``aux_logits=True`` adds the paper's two side classifiers after 4a and 4d. ``wide_kernel=3``
    matches torchvision's ``googlenet`` (pytorch/vision#906) parameter for parameter.
    """
    stem = nn.Sequential(
        ConvBNReLU(3, 64, 7, stride=2),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        ConvBNReLU(64, 64, 1),
        ConvBNReLU(64, 192, 3),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
    )
    pools = (nn.MaxPool2d(3, stride=2, ceil_mode=True), nn.MaxPool2d(2, stride=2, ceil_mode=True))
    aux = {"inception4a": {}, "inception4d": {}} if aux_logits else None
    return GoogLeNet(
        stem, 192, GOOGLENET_STAGES, pools, num_classes, min_size=15, wide_kernel=wide_kernel, aux_heads=aux
    )


# Its stem is GoogLeNet's, but the source text (and Chapter 2) feed it 32x32 CIFAR-10 images.
@register_model(meta=ModelMeta("szegedy2015going", chapter="inception", input_size=32))
def inception_net(num_classes: int = 10) -> GoogLeNet:
    """The source text's small Inception network: a 7x7 stem, modules 3a, 3b and 4a."""
    stem = nn.Sequential(
        ConvBNReLU(3, 64, 7, stride=2),
        nn.MaxPool2d(3, stride=2, padding=1),
        ConvBNReLU(64, 192, 3),
        nn.MaxPool2d(3, stride=2, padding=1),
    )
    pools = (nn.MaxPool2d(3, stride=2, padding=1),)
    return GoogLeNet(stem, 192, INCEPTION_NET_STAGES, pools, num_classes)


@register_model(meta=ModelMeta("szegedy2015going", chapter="inception", input_size=32))
def googlenet_cifar(num_classes: int = 10, aux_logits: bool = False) -> GoogLeNet:
    """A compact GoogLeNet for 32x32 images: a 3x3 stem, then modules at 16x16 and at 8x8.

    ``aux_logits=True`` adds small side classifiers after 3b (16x16) and 4b (8x8).
    """
    stem = nn.Sequential(
        ConvBNReLU(3, 16, 3),
        ConvBNReLU(16, 64, 3, stride=2),
    )
    pools = (nn.MaxPool2d(3, stride=2, padding=1),)
    head = dict(pool_size=2, channels=64, hidden=128)
    aux = {"inception3b": head, "inception4b": head} if aux_logits else None
    return GoogLeNet(stem, 64, GOOGLENET_CIFAR_STAGES, pools, num_classes, dropout=0.2, aux_heads=aux)
