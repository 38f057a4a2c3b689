"""Helpers shared by outcome-reward estimators: one scalar per response, broadcast over its tokens."""

from __future__ import annotations

from collections.abc import Callable

import torch

from maxrl.algorithms.grouping import GroupIndex
from maxrl.algorithms.masked import masked_sum

SUCCESS_THRESHOLD = 0.5  # a response "succeeds" when its reward is > 0.5 (binary rewards are unchanged)

# n -> (success_weight[K], failure_weight[K]) for K = 0..n successes in a group of n; float64 tensors.
CountWeightTable = Callable[[int], tuple[torch.Tensor, torch.Tensor]]


def sequence_scores(token_level_rewards: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """[B, L] -> [B]: the response's total reward (rewards on padding are ignored)."""
    return masked_sum(token_level_rewards, response_mask, dim=-1)


def to_tokens(per_row: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """[B] -> [B, L]: the row's value on each valid response token, 0 on padding."""
    return per_row.unsqueeze(-1) * response_mask.to(per_row.dtype)


def successes(scores: torch.Tensor) -> torch.Tensor:
    """Binarise rewards for estimators defined on success counts."""
    return scores > SUCCESS_THRESHOLD


def count_weights(success: torch.Tensor, groups: GroupIndex, table: CountWeightTable,
                  dtype: torch.dtype) -> torch.Tensor:
    """Per-row weight w(N, K, own outcome) from a table of group size N and success count K.

    Estimators built on success counts depend on a row only through its own outcome and its group's
    (N, K), so each distinct group size needs one table; rows are then looked up without a row loop.
    """
    group_successes = groups.sum(success.to(torch.long))
    row_k = groups.broadcast(group_successes)
    row_n = groups.row_sizes()
    weights = torch.zeros(success.shape, dtype=torch.float64, device=success.device)
    for n in torch.unique(row_n).tolist():
        rows = row_n == n
        success_weight, failure_weight = (t.to(success.device) for t in table(int(n)))
        k = row_k[rows]
        weights[rows] = torch.where(success[rows], success_weight[k], failure_weight[k])
    return weights.to(dtype)
