"""How a batch is shared out to the ranks of a worker group and how the results come back.

Three dispatch modes cover data parallelism (FSDP) and model parallelism (tensor-parallel rollout):

* broadcast: the same call on every rank, one result per rank;
* by data-parallel rank: the batch is padded to a multiple of the data-parallel size, split into
  equal shards, shard ``d`` goes to every rank whose data-parallel rank is ``d`` (tensor-parallel peers
  get the same shard), one result per data-parallel rank is kept, and the padding is stripped;
* rank zero: one call on rank 0.

This module holds the pure part (layout, sharding, gathering) so it can be tested without Ray.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from maxrl.data.batch import Batch


@dataclass(frozen=True)
class DataParallelLayout:
    """Which data-parallel rank each global rank serves, and whose result is kept per data-parallel rank."""

    dp_ranks: tuple[int, ...]
    dp_size: int

    @classmethod
    def from_reports(cls, reports: Sequence[tuple[int, int]]) -> DataParallelLayout:
        """Validate the ``(dp_rank, dp_size)`` every global rank reported, in global-rank order."""
        sizes = {size for _, size in reports}
        if len(sizes) != 1:
            raise ValueError(f"workers report different data-parallel sizes {sorted(sizes)}: {list(reports)}")
        (dp_size,) = sizes
        dp_ranks = tuple(rank for rank, _ in reports)
        if set(dp_ranks) != set(range(dp_size)):
            raise ValueError(
                f"workers report data-parallel ranks {list(dp_ranks)} for data-parallel size {dp_size}; "
                f"every rank in 0..{dp_size - 1} needs at least one worker"
            )
        return cls(dp_ranks, dp_size)

    @classmethod
    def pure_data_parallel(cls, world_size: int) -> DataParallelLayout:
        return cls(tuple(range(world_size)), world_size)

    @property
    def collect_ranks(self) -> list[int]:
        """For each data-parallel rank, the lowest global rank serving it (its result is the one kept)."""
        return [self.dp_ranks.index(dp_rank) for dp_rank in range(self.dp_size)]


def shard_batch(batch: Batch, dp_size: int) -> tuple[list[Batch], int]:
    """Pad `batch` to a multiple of `dp_size` and split it into `dp_size` equal shards.

    Returns ``(shards, num_pad)``; every shard carries the `sample_valid` field that marks pad rows.
    """
    if len(batch) == 0:
        raise ValueError("dispatch: the batch is empty; there is nothing to split across ranks")
    padded, num_pad = batch.pad_to_multiple(dp_size)
    return padded.split(dp_size), num_pad


def gather_shards(outputs: Sequence[Any], shard_size: int, num_pad: int, method: str) -> Batch | list[Any]:
    """Concatenate per-shard `Batch` outputs in order and strip the rows produced from padding.

    A worker may return ``m`` rows per input row (e.g. ``m`` samples per prompt, each prompt's rows
    consecutive); the last ``num_pad * m`` rows then stem from padding. Outputs that are not batches
    (e.g. metric dicts) come back as a list, one per data-parallel rank.
    """
    is_batch = [isinstance(out, Batch) for out in outputs]
    if not any(is_batch):
        return list(outputs)
    if not all(is_batch):
        raise TypeError(f"{method}(): some ranks returned a Batch and others did not: {[type(o) for o in outputs]}")
    rows = {len(out) for out in outputs}
    if len(rows) != 1 or next(iter(rows)) % shard_size:
        raise ValueError(
            f"{method}(): each rank got {shard_size} rows and returned {[len(o) for o in outputs]}; a "
            "dispatched method must return the same whole multiple of its input rows on every rank"
        )
    rows_per_input = next(iter(rows)) // shard_size
    return Batch.concat(outputs).strip(num_pad * rows_per_input)
