"""`trainer.balance_batch`: lay a batch out so every data-parallel rank gets a similar number of tokens.

The update phase gives rank r the r-th slice of every mini-batch (see
`maxrl.workers.batch_sizes.update_order`), so balancing happens inside each mini-batch: its samples are
split into equal-count groups with near-equal token sums, group r becoming slice r. Mini-batch
composition does not change, and group estimators find groups by `uid`, never by position, so the
reorder cannot change any advantage or update.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np


def balanced_partition(lengths: Sequence[int], num_parts: int) -> list[list[int]]:
    """Split indices into `num_parts` groups of equal count with near-equal sums of `lengths`.

    Greedy longest-first: each index, longest first, joins the lightest group that still has room.
    `len(lengths)` must divide by `num_parts`.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) % num_parts:
        raise ValueError(f"cannot split {len(lengths)} samples into {num_parts} equal groups")
    capacity = len(lengths) // num_parts
    heap = [(0, part) for part in range(num_parts)]
    groups: list[list[int]] = [[] for _ in range(num_parts)]
    for index in np.argsort(-lengths, kind="stable"):
        tokens, part = heapq.heappop(heap)
        groups[part].append(int(index))
        if len(groups[part]) < capacity:
            heapq.heappush(heap, (tokens + int(lengths[index]), part))
    return [sorted(group) for group in groups]


def balanced_layout(lengths: Sequence[int], mini_batch_samples: int, num_ranks: int) -> np.ndarray:
    """Row order in which the r-th slice of every mini-batch is a token-balanced share for rank r."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = []
    for start in range(0, len(lengths), mini_batch_samples):
        groups = balanced_partition(lengths[start : start + mini_batch_samples], num_ranks)
        order += [start + index for group in groups for index in group]
    return np.asarray(order, dtype=np.int64)


def tokens_per_rank(lengths_in_dispatch_order: Sequence[int], num_ranks: int) -> list[int]:
    """Token count of each rank when a batch in this order is split into contiguous equal chunks."""
    return [int(chunk.sum()) for chunk in np.array_split(np.asarray(lengths_in_dispatch_order), num_ranks)]
