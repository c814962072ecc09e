"""Residual networks (He et al., 2016) and their plain twins without shortcuts.

Two families share one block vocabulary:

* ``resnet18`` / ``resnet50``: the ImageNet layout (four stages, 64-512 channels) with the
  3x3 CIFAR stem used in the source text; projection (1x1 conv) shortcuts when shapes change.
* ``resnet20/32/44/56/110`` and ``plain20/...``: He et al.'s CIFAR networks, three stages of
  16/32/64 channels with ``n`` blocks each (depth ``6n + 2``); identity shortcuts that
  zero-pad new channels when shapes change ("option A" in the paper), as in its Table 6.
* ``preact_resnet20/56``: the same CIFAR layout with pre-activation blocks (He et al., 2016b,
  "Identity mappings"): BN-ReLU-conv in the branch and nothing after the sum, so the shortcut
  is a pure identity path from block to block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import ImageClassifier
from .registry import ModelMeta, register_model


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class ProjectionShortcut(nn.Sequential):
    """1x1 strided convolution + BatchNorm: matches shape when a block changes it."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )


class PaddingShortcut(nn.Module):
    """Parameter-free shortcut: subsample by ``stride`` and zero-pad the new channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.extra_channels = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))


SHORTCUTS = {"projection": ProjectionShortcut, "padding": PaddingShortcut}


def make_shortcut(kind: str, in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity when shapes match, else the ``kind`` of shortcut ("projection"/"padding")."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return SHORTCUTS[kind](in_channels, out_channels, stride)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers; output = ReLU(F(x) + shortcut(x))."""

    expansion = 1
    pre_activation = False

    def __init__(
        self, in_channels: int, channels: int, stride: int = 1, shortcut: str = "projection", residual: bool = True
    ):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.residual = residual
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)

    def zero_init_branch(self) -> None:
        """Zero the branch's last BN scale, so F(x) = 0 and the block starts as ReLU(shortcut(x))."""
        nn.init.zeros_(self.bn2.weight)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 -> 1x1 expand (x4), the block of ResNet-50 and deeper."""

    expansion = 4
    pre_activation = False

    def __init__(
        self, in_channels: int, channels: int, stride: int = 1, shortcut: str = "projection", residual: bool = True
    ):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.residual = residual
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)

    def zero_init_branch(self) -> None:
        """Zero the branch's last BN scale, so F(x) = 0 and the block starts as ReLU(shortcut(x))."""
        nn.init.zeros_(self.bn3.weight)


class PreActBasicBlock(nn.Module):
    """BN-ReLU-conv twice in the branch; output = F(x) + shortcut(x), no ReLU after the sum.

    He et al. (2016b): with nothing after the addition, the identity path passes the signal and
    its gradient from block to block unchanged. When the shape changes, the shortcut reads the
    pre-activated input, as the branch does.
    """

    expansion = 1
    pre_activation = True

    def __init__(
        self, in_channels: int, channels: int, stride: int = 1, shortcut: str = "projection", residual: bool = True
    ):
        super().__init__()
        out_channels = channels * self.expansion
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, out_channels)
        self.residual = residual
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(pre))))
        if not self.residual:
            return out
        identity = x if isinstance(self.shortcut, nn.Identity) else self.shortcut(pre)
        return out + identity

    def zero_init_branch(self) -> None:
        """Zero the branch's last BN scale, so F(x) = 0 and the block starts as the identity."""
        nn.init.zeros_(self.bn2.weight)


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck, "preact_basic": PreActBasicBlock}


class ResNet(ImageClassifier):
    """A 3x3 stem, then stages of blocks (the first of each may downsample), pool, linear.

    ``widths[i]`` is the inner width of stage ``i``; ``depths[i]`` its number of blocks.
    ``residual=False`` drops every shortcut, giving the "plain" network of the paper.
    ``zero_init_residual=True`` zeroes the last BN scale of every residual branch, so each block
    starts as (almost) the identity (Goyal et al., 2017; torchvision's option of the same name).
    Pre-activation blocks get a bare conv stem and a final BN-ReLU before the pooling.
    """

    def __init__(
        self,
        block: str,
        depths: list[int],
        widths: list[int],
        num_classes: int = 10,
        shortcut: str = "projection",
        residual: bool = True,
        zero_init_residual: bool = False,
    ):
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"unknown block {block!r}; valid: {', '.join(BLOCKS)}")
        if shortcut not in SHORTCUTS:
            raise ValueError(f"unknown shortcut {shortcut!r}; valid: {', '.join(SHORTCUTS)}")
        if zero_init_residual and not residual:
            raise ValueError("zero_init_residual=True needs residual=True: a plain net's blocks would output zeros")
        block_cls = BLOCKS[block]
        stem = [conv3x3(3, widths[0])]
        if not block_cls.pre_activation:
            stem += [nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        self.stem = nn.Sequential(*stem)
        in_channels = widths[0]
        stages = []
        for i, (depth, width) in enumerate(zip(depths, widths)):
            blocks = []
            for j in range(depth):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block_cls(in_channels, width, stride, shortcut=shortcut, residual=residual))
                in_channels = width * block_cls.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.final_activation = (
            nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True))
            if block_cls.pre_activation
            else nn.Identity()
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        self.min_size = 2 ** (len(depths) - 1)
        self._init_weights(zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for stage in self.stages:
                for block in stage:
                    block.zero_init_branch()

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        x = self.final_activation(self.stages(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


IMAGENET_WIDTHS = [64, 128, 256, 512]
CIFAR_WIDTHS = [16, 32, 64]
# He et al. (2016), Table 6: the CIFAR ResNets' parameters, rounded as the paper rounds them.
TABLE6_PARAMS = {20: 270_000, 32: 460_000, 44: 660_000, 56: 850_000, 110: 1_700_000}


@register_model(meta=ModelMeta("he2016deep", chapter="resnet", input_size=32))
def resnet18(num_classes: int = 10) -> ResNet:
    """ResNet-18 of the source text: basic blocks [2, 2, 2, 2], 3x3 CIFAR stem (11.2M params)."""
    return ResNet("basic", [2, 2, 2, 2], IMAGENET_WIDTHS, num_classes)


@register_model(meta=ModelMeta("he2016deep", chapter="resnet", input_size=32))
def resnet50(num_classes: int = 10) -> ResNet:
    """ResNet-50 layout with bottleneck blocks [3, 4, 6, 3] and the 3x3 CIFAR stem (23.5M)."""
    return ResNet("bottleneck", [3, 4, 6, 3], IMAGENET_WIDTHS, num_classes)


def cifar_resnet(
    depth: int,
    num_classes: int = 10,
    residual: bool = True,
    shortcut: str = "padding",
    block: str = "basic",
    zero_init_residual: bool = False,
) -> ResNet:
    """He et al.'s CIFAR network of ``depth = 6n + 2`` layers (three stages of ``n`` blocks)."""
    if (depth - 2) % 6 != 0 or depth < 8:
        raise ValueError(f"CIFAR ResNet depth must be 6n + 2 (20, 32, 44, ...), got {depth}")
    n = (depth - 2) // 6
    return ResNet(
        block,
        [n, n, n],
        CIFAR_WIDTHS,
        num_classes,
        shortcut=shortcut,
        residual=residual,
        zero_init_residual=zero_init_residual,
    )


def _register_cifar(depth: int) -> None:
    def resnet(num_classes: int = 10, shortcut: str = "padding", zero_init_residual: bool = False) -> ResNet:
        return cifar_resnet(depth, num_classes, shortcut=shortcut, zero_init_residual=zero_init_residual)

    def plain(num_classes: int = 10) -> ResNet:
        return cifar_resnet(depth, num_classes, residual=False)

    resnet.__doc__ = f"He et al.'s CIFAR ResNet-{depth} (Table 6), identity shortcuts."
    plain.__doc__ = f"Plain-{depth}: ResNet-{depth} without its shortcuts (He et al., Fig. 6)."
    published = ModelMeta("he2016deep", chapter="resnet", input_size=32, published_params=TABLE6_PARAMS[depth])
    register_model(f"resnet{depth}", meta=published)(resnet)
    register_model(f"plain{depth}", meta=ModelMeta("he2016deep", chapter="resnet", input_size=32))(plain)


def _register_cifar_preact(depth: int) -> None:
    def preact(num_classes: int = 10, shortcut: str = "padding", zero_init_residual: bool = False) -> ResNet:
        return cifar_resnet(
            depth, num_classes, shortcut=shortcut, block="preact_basic", zero_init_residual=zero_init_residual
        )

    preact.__doc__ = f"Pre-activation ResNet-{depth} (He et al., 2016b): ResNet-{depth} with BN-ReLU-conv blocks."
    register_model(f"preact_resnet{depth}", meta=ModelMeta("he2016identity", chapter="resnet", input_size=32))(preact)


for _depth in (20, 32, 44, 56, 110):
    _register_cifar(_depth)
for _depth in (20, 56):
    _register_cifar_preact(_depth)
