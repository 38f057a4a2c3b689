"""Classifiers whose softmax is the policy: an MLP, a small CNN, a CIFAR ResNet and torchvision's ResNet-50."""

from __future__ import annotations

import math

import torch
from torch import nn

from maxrl.tasks.vision.transforms import require_torchvision

MODEL_NAMES = ("mlp", "small_cnn", "resnet_cifar", "resnet50")


class MLP(nn.Module):
    """Flatten, then ``depth`` hidden ReLU layers of width ``hidden``, then a linear head."""

    def __init__(self, in_features: int, num_classes: int, hidden: int = 256, depth: int = 2):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """Three conv-BN-ReLU stages (widths w, 2w, 4w), the first two followed by 2x2 max-pooling, then a head."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, width), nn.MaxPool2d(2),
            *_conv_bn_relu(width, 2 * width), nn.MaxPool2d(2),
            *_conv_bn_relu(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (1x1 projection when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNetCIFAR(nn.Module):
    """He et al.'s CIFAR ResNet of depth 6n+2: three stages of n blocks with 16, 32, 64 channels."""

    def __init__(self, num_classes: int, depth: int = 20, in_channels: int = 3):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"model.resnet_depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 56, ...), got {depth}")
        blocks_per_stage = (depth - 2) // 6
        layers: list[nn.Module] = _conv_bn_relu(in_channels, 16)
        cin = 16
        for stage, cout in enumerate((16, 32, 64)):
            for block in range(blocks_per_stage):
                layers.append(BasicBlock(cin, cout, stride=2 if stage > 0 and block == 0 else 1))
                cin = cout
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(64, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def resnet50(num_classes: int) -> nn.Module:
    """torchvision's ResNet-50, randomly initialised, as in the paper."""
    return require_torchvision().models.resnet50(weights=None, num_classes=num_classes)


def default_model_name(dataset: str) -> str:
    """The model the paper (or, for the offline sets, this project) uses for each dataset."""
    return {"imagenet": "resnet50", "cifar10": "resnet_cifar", "cifar100": "resnet_cifar"}.get(dataset, "mlp")


def build_model(
    name: str,
    num_classes: int,
    input_shape: tuple[int, ...],
    hidden: int = 256,
    depth: int = 2,
    width: int = 32,
    resnet_depth: int = 20,
) -> nn.Module:
    """A classifier for inputs of ``input_shape`` (without the batch dimension) and ``num_classes`` outputs."""
    if name == "mlp":
        return MLP(math.prod(input_shape), num_classes, hidden=hidden, depth=depth)
    if name in ("small_cnn", "resnet_cifar") and len(input_shape) != 3:
        raise ValueError(f"model.name={name} needs image inputs [C, H, W], the data gives {list(input_shape)}")
    if name == "small_cnn":
        return SmallCNN(input_shape[0], num_classes, width=width)
    if name == "resnet_cifar":
        return ResNetCIFAR(num_classes, depth=resnet_depth, in_channels=input_shape[0])
    if name == "resnet50":
        return resnet50(num_classes)
    raise ValueError(f"unknown model.name {name!r}; expected one of {MODEL_NAMES}")
