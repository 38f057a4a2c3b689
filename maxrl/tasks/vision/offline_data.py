"""Classification sets that need no download, so the ImageNet effect can be reproduced anywhere in minutes.

* ``digits``: scikit-learn's 8x8 handwritten digits (10 classes, 1,797 images, shipped with the library).
* ``gaussian_mixture``: a generated task with many classes (default 250). An untrained classifier puts about
  1/num_classes on the true label, so, as on ImageNet-1k, a policy that samples a few labels almost never
  sees a reward at the start. Each class is a Gaussian blob around a random centre; the noise level sets how
  much the classes overlap (how hard the task is).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import TensorDataset


@dataclass(frozen=True)
class ClassificationData:
    """A train/eval pair of datasets yielding ``(input, label)`` plus what a model needs to know about them."""

    train: torch.utils.data.Dataset
    eval: torch.utils.data.Dataset
    num_classes: int
    input_shape: tuple[int, ...]


def _standardise(train: torch.Tensor, other: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero mean, unit variance per feature, with statistics from the training split only.

    A feature that is constant in training (digits' always-blank corner pixels) is only centred: dividing by
    its zero spread would blow up any non-constant value it takes in the eval split.
    """
    mean, std = train.mean(dim=0), train.std(dim=0)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    return (train - mean) / std, (other - mean) / std


def load_digits_data(eval_fraction: float = 0.2, seed: int = 0) -> ClassificationData:
    """scikit-learn's digits as 1x8x8 images, split into train/eval with a fixed seeded permutation."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32)  # [1797, 8, 8], values 0..16
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    num_eval = int(round(eval_fraction * len(labels)))
    eval_idx, train_idx = order[:num_eval], order[num_eval:]
    flat_train, flat_eval = _standardise(images[train_idx].flatten(1), images[eval_idx].flatten(1))
    return ClassificationData(
        train=TensorDataset(flat_train.view(-1, 1, 8, 8), labels[train_idx]),
        eval=TensorDataset(flat_eval.view(-1, 1, 8, 8), labels[eval_idx]),
        num_classes=10,
        input_shape=(1, 8, 8),
    )


def make_gaussian_mixture_data(
    num_classes: int = 250,
    dim: int = 32,
    noise: float = 0.5,
    train_per_class: int = 40,
    eval_per_class: int = 10,
    seed: int = 0,
) -> ClassificationData:
    """A many-class task: inputs ``centre[y] + noise * eps`` with unit-norm-scaled random centres.

    Centres are drawn as standard normal vectors divided by sqrt(dim) (so their norm is about 1 and the
    noise level is comparable across dimensions). Deterministic given ``seed``.
    """
    if num_classes < 2 or dim < 1 or train_per_class < 1 or eval_per_class < 1 or noise < 0:
        raise ValueError(
            "gaussian_mixture needs num_classes >= 2, dim >= 1, train/eval_per_class >= 1 and noise >= 0 "
            f"(data.mixture_*), got classes={num_classes} dim={dim} train={train_per_class} "
            f"eval={eval_per_class} noise={noise}"
        )
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(num_classes, dim, generator=generator) / dim**0.5

    def draw(per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(num_classes).repeat_interleave(per_class)
        inputs = centres[labels] + noise / dim**0.5 * torch.randn(len(labels), dim, generator=generator)
        return inputs, labels

    train_x, train_y = draw(train_per_class)
    eval_x, eval_y = draw(eval_per_class)
    train_x, eval_x = _standardise(train_x, eval_x)
    return ClassificationData(
        train=TensorDataset(train_x, train_y),
        eval=TensorDataset(eval_x, eval_y),
        num_classes=num_classes,
        input_shape=(dim,),
    )
