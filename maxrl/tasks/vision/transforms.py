"""Image preprocessing: PIL image in, normalised float tensor [3, H, W] out.

CIFAR's augmentation (random 32x32 crop of the 4-pixel zero-padded image, horizontal flip) is a few lines of
plain torch, so CIFAR runs without torchvision. ImageNet's (RandomResizedCrop 224 with scale 0.08-1 and flip
for training; resize 256 and centre crop 224 for evaluation) uses torchvision, which ResNet-50 needs anyway.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

Transform = Callable[[object], torch.Tensor]


def require_torchvision():
    """Import torchvision or explain how to get a build that matches the installed torch."""
    try:
        import torchvision
    except ImportError as error:
        raise ImportError(
            "ImageNet (ResNet-50 and its RandomResizedCrop preprocessing) needs torchvision, which is not "
            f"installed. Install the torchvision release built for your torch {torch.__version__} (see the "
            "compatibility table at https://pytorch.org/get-started/previous-versions/), e.g. "
            "`pip install torchvision --index-url https://download.pytorch.org/whl/cu124` on a CUDA 12.4 "
            "machine. The CIFAR and offline tasks do not need it."
        ) from error
    return torchvision


def pil_to_uint8_tensor(image) -> torch.Tensor:
    """RGB PIL image -> uint8 tensor [3, H, W] (grey or RGBA inputs are converted to RGB first)."""
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


class Normalise:
    """uint8 [3, H, W] -> float in [0, 1] -> (x - mean) / std per channel."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return (image.float() / 255.0 - self.mean) / self.std


class PadCropFlip:
    """Random ``size`` crop of the zero-padded image, then a horizontal flip with probability 1/2."""

    def __init__(self, size: int, padding: int = 4):
        self.size, self.padding = size, padding

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        padded = F.pad(image, [self.padding] * 4)
        top, left = torch.randint(0, padded.shape[1] - self.size + 1, (2,)).tolist()
        crop = padded[:, top : top + self.size, left : left + self.size]
        return crop.flip(-1) if torch.rand(()) < 0.5 else crop


class CifarTransform:
    """CIFAR preprocessing in plain torch (augmentation only for training). A class, so it pickles."""

    def __init__(self, train: bool, mean: tuple[float, ...], std: tuple[float, ...], size: int = 32):
        self.normalise = Normalise(mean, std)
        self.augment = PadCropFlip(size) if train else None

    def __call__(self, image) -> torch.Tensor:
        tensor = pil_to_uint8_tensor(image)
        return self.normalise(self.augment(tensor) if self.augment else tensor)


def imagenet_transform(train: bool, crop: int = 224, resize: int = 256) -> Transform:
    """The standard ResNet ImageNet preprocessing, from torchvision."""
    transforms = require_torchvision().transforms
    if train:
        steps = [transforms.RandomResizedCrop(crop, scale=(0.08, 1.0)), transforms.RandomHorizontalFlip()]
    else:
        steps = [transforms.Resize(resize), transforms.CenterCrop(crop)]
    return transforms.Compose(
        [_to_rgb, *steps, transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )


def _to_rgb(image):
    """A picklable module-level step, so DataLoader workers started with spawn can receive the pipeline."""
    return image.convert("RGB")
