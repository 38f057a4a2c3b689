"""Cutting one rank's rows into micro-batches: by a sample count, or by a token budget (verl's
``use_dynamic_bsz``).

A token budget keeps every forward near the same cost whatever the lengths: rows are sorted by length
(longest first) and filled into micro-batches while ``rows x longest row`` stays within the budget, the
memory a trimmed micro-batch (`maxrl.workers.log_probs.ForwardOptions.remove_padding`) needs. Sorting
puts similar lengths together, so trimming leaves little padding. FSDP gathers parameters in every
forward, so every rank must run the same number of micro-batches: the count is the maximum over ranks,
and a rank below it splits its largest micro-batches. The loss is normalised by the whole mini-batch,
so none of this changes a result (parity tests in ``tests/unit/workers/test_wrk_policy_update.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

if TYPE_CHECKING:  # the driver's config checks import this module; tensordict would add a second to them
    from maxrl.data.batch import Batch

__all__ = ["MicroBatching", "token_budget_plan"]


def _max_over_ranks(count: int) -> int:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return count
    value = torch.tensor([count], dtype=torch.long)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return int(value)


def token_budget_plan(lengths: torch.Tensor, max_tokens: int, min_count: int = 1) -> list[torch.Tensor]:
    """Row indices of micro-batches with ``rows x longest row <= max_tokens`` (a row longer than the budget
    goes alone), at least `min_count` of them (when there are that many rows), longest rows first."""
    order = torch.argsort(lengths.cpu(), descending=True, stable=True)
    chunks: list[list[int]] = []
    for row in order.tolist():
        if chunks and (len(chunks[-1]) + 1) * int(lengths[chunks[-1][0]]) <= max_tokens:
            chunks[-1].append(row)
        else:
            chunks.append([row])
    while len(chunks) < min(min_count, len(order)):
        largest = max(range(len(chunks)), key=lambda i: (len(chunks[i]) * int(lengths[chunks[i][0]]), -i))
        chunk = chunks.pop(largest)
        half = (len(chunk) + 1) // 2
        chunks[largest:largest] = [chunk[:half], chunk[half:]]
    return [torch.tensor(chunk, dtype=torch.long) for chunk in chunks]


@dataclass(frozen=True)
class MicroBatching:
    """At most `max_samples` rows per micro-batch (``None`` = all), or, when `max_tokens` is set, the
    token-budget plan above (then `max_samples` is ignored)."""

    max_samples: int | None = None
    max_tokens: int | None = None

    def plan(self, batch: Batch) -> list[torch.Tensor]:
        """The row indices of each micro-batch of `batch`; together they cover every row once."""
        if self.max_tokens is None:
            return list(torch.arange(len(batch)).split(self.max_samples or max(len(batch), 1)))
        lengths = batch["attention_mask"].sum(dim=-1)
        local = token_budget_plan(lengths, self.max_tokens)
        return token_budget_plan(lengths, self.max_tokens, min_count=_max_over_ranks(len(local)))
