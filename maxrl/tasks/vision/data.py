"""One entry point for every dataset (``data.name``), and the per-rank train/eval loaders.

The training loader is a torchdata ``StatefulDataLoader`` over a ``DistributedSampler`` (also for a single
process), so a checkpoint can record the position inside an epoch and a resumed run sees the same batches.
Evaluation shards the eval set by rank without padding, so summed metrics count every example exactly once.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, DistributedSampler, Subset
from torchdata.stateful_dataloader import StatefulDataLoader

from maxrl.tasks.vision.distributed import DistInfo
from maxrl.tasks.vision.image_data import IMAGE_PRESETS, load_image_classification
from maxrl.tasks.vision.offline_data import ClassificationData, load_digits_data, make_gaussian_mixture_data
from maxrl.utils.stateful_loader import stateful_dataloader


def load_classification_data(data: DictConfig) -> ClassificationData:
    """The train/eval datasets named by ``data.name`` (see ``DataConfig`` for the keys)."""
    if data.name == "digits":
        return load_digits_data(seed=data.seed)
    if data.name == "gaussian_mixture":
        return make_gaussian_mixture_data(
            num_classes=data.mixture_classes, dim=data.mixture_dim, noise=data.mixture_noise,
            train_per_class=data.mixture_train_per_class, eval_per_class=data.mixture_eval_per_class,
            seed=data.seed,
        )
    if data.name in IMAGE_PRESETS:
        return load_image_classification(
            data.name, data_dir=data.data_dir, hub_id=data.hub_id, train_split=data.train_split,
            eval_split=data.eval_split, image_column=data.image_column, label_column=data.label_column,
        )
    raise ValueError(f"unknown data.name {data.name!r}")


def build_train_loader(
    dataset, batch_size: int, info: DistInfo, seed: int, num_workers: int
) -> tuple[StatefulDataLoader, DistributedSampler]:
    """Shuffled, rank-sharded batches of ``batch_size`` (per rank); incomplete batches are dropped."""
    if len(dataset) < batch_size * info.world_size:
        raise ValueError(
            f"the training set has {len(dataset)} examples, fewer than one global batch "
            f"({batch_size} x {info.world_size} ranks); lower trainer.batch_size"
        )
    sampler = DistributedSampler(
        dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed, drop_last=True
    )
    loader = stateful_dataloader(
        dataset, batch_size=batch_size, sampler=sampler, drop_last=True, num_workers=num_workers,
        pin_memory=info.device.type == "cuda", persistent_workers=num_workers > 0,
    )
    return loader, sampler


def build_eval_loader(dataset, batch_size: int, info: DistInfo, num_workers: int) -> DataLoader:
    """Rank r evaluates examples r, r + W, r + 2W, ... in order (no padding, no duplicates)."""
    shard = Subset(dataset, range(info.rank, len(dataset), info.world_size))
    return DataLoader(
        shard, batch_size=batch_size, shuffle=False, num_workers=num_workers,
        pin_memory=info.device.type == "cuda",
    )


def per_rank_batch_size(global_batch: int, world_size: int) -> int:
    if global_batch % world_size:
        raise ValueError(
            f"trainer.batch_size={global_batch} is the global batch and must be divisible by the number of "
            f"ranks ({world_size})"
        )
    return global_batch // world_size


def to_device(batch: tuple[torch.Tensor, torch.Tensor], device: torch.device, channels_last: bool):
    images, labels = batch
    images = images.to(device, non_blocking=True)
    if channels_last and images.dim() == 4:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, labels.to(device, non_blocking=True)
