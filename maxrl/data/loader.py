"""The resumable prompt loader: a torchdata ``StatefulDataLoader`` whose state goes into checkpoints.

The shuffle order comes from one ``torch.Generator`` seeded with ``data.seed``; each epoch draws a fresh
permutation from it. The loader's ``state_dict()`` holds that generator's state at the start of the epoch
and the number of batches already taken, so ``load_state_dict`` resumes at the very next batch, also when
the saved state sits at an epoch boundary.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import RandomSampler

from maxrl.utils.stateful_loader import stateful_dataloader

NON_TENSOR_KEYS = ("data_source", "ground_truth", "extra_info", "index", "raw_prompt")


def _object_array(values: list) -> np.ndarray:
    """A 1-D object array, even when every value is a list of the same length."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def collate_prompts(items: list[dict], pad_token_id: int, pad_to: int) -> dict:
    """Left-pad the prompts to ``pad_to`` tokens (or the longest prompt, if longer) and stack them.

    Returns ``input_ids``, ``attention_mask``, ``position_ids`` (``[B, P]`` long tensors; positions count
    real tokens only) and, as object arrays, ``raw_prompt_ids`` (unpadded id lists) plus every key of
    ``NON_TENSOR_KEYS``.
    """
    width = max([pad_to] + [len(item["input_ids"]) for item in items])
    input_ids = torch.full((len(items), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, item in enumerate(items):
        length = len(item["input_ids"])
        if length:
            input_ids[row, -length:] = item["input_ids"]
            attention_mask[row, -length:] = 1
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}
    batch["raw_prompt_ids"] = _object_array([item["input_ids"].tolist() for item in items])
    batch.update({key: _object_array([item[key] for item in items]) for key in NON_TENSOR_KEYS})
    return batch


def build_dataloader(
    dataset,
    data_config,
    batch_size: int,
    shuffle: bool | None = None,
    seed: int | None = None,
    drop_last: bool = True,
) -> StatefulDataLoader:
    """A resumable loader over ``dataset`` (an ``RLDataset``). ``shuffle`` and ``seed`` default to
    ``data.shuffle`` and ``data.seed``; ``data.dataloader_num_workers`` sets the worker processes."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: expected a positive integer")
    if drop_last and batch_size > len(dataset):
        raise ValueError(
            f"batch_size={batch_size} is larger than the dataset ({len(dataset)} prompts from {dataset.files}) "
            "and incomplete batches are dropped: every epoch would be empty"
        )
    shuffle = bool(data_config["shuffle"]) if shuffle is None else shuffle
    seed = int(data_config["seed"]) if seed is None else seed
    sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)) if shuffle else None
    return stateful_dataloader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=int(data_config["dataloader_num_workers"]),
        collate_fn=partial(
            collate_prompts, pad_token_id=dataset.pad_token_id, pad_to=dataset.max_prompt_length
        ),
    )
