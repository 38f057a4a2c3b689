"""MaxRL: the conditional (success-averaged) score estimator with the REINFORCE control variate.

With N rollouts and K successes, Algorithm 1 of the paper weights sample i by (r_i - r̄)/(N r̄), i.e.
1/K - 1/N on a success and -1/N on a failure, and gives the whole group 0 when K = 0. The advantage
returned here is N times that weight, A_i = (r_i - r̄)/(r̄ + ε): the token-mean loss supplies the 1/N.
"""

from __future__ import annotations

import functools
import logging

import torch

from maxrl.algorithms.advantages.outcome import count_weights, sequence_scores, successes, to_tokens
from maxrl.algorithms.grouping import GroupIndex
from maxrl.algorithms.registry import register_advantage

logger = logging.getLogger(__name__)


@register_advantage("maxrl", min_group_size=2)
def maxrl_advantage(token_level_rewards, response_mask, group_ids, epsilon: float = 1e-6):
    """A = (r - r̄)/(r̄ + ε), 0 for groups whose mean reward is 0. Unbiased (ε = 0) for ∇J^(N-1).

    Rewards must lie in [0, 1] (binary in the theory: r̄ is a success rate); one outside would make r̄ a
    meaningless normaliser, so it is an error rather than a silently huge or sign-flipped advantage.
    """
    scores = sequence_scores(token_level_rewards, response_mask)
    groups = GroupIndex.from_ids(group_ids, device=scores.device)
    _check_reward_range(scores, groups)
    mean = groups.broadcast(groups.mean(scores))
    advantages = torch.where(mean > 0, (scores - mean) / (mean + epsilon), torch.zeros_like(scores))
    advantages = to_tokens(advantages, response_mask)
    return advantages, advantages


def _check_reward_range(scores: torch.Tensor, groups: GroupIndex) -> None:
    """Refuse rewards outside [0, 1]; warn once about rewards strictly between 0 and 1."""
    outside = torch.nonzero((scores < 0) | (scores > 1)).flatten()
    if outside.numel():
        row = int(outside[0])
        raise ValueError(
            f"maxrl needs rewards in [0, 1] (a success indicator or probability), but row {row} (group "
            f"{groups.ids[int(groups.index[row])]!r}) has reward {float(scores[row])} ({outside.numel()} row(s) "
            "outside [0, 1]); use a 0/1 verifier, rescale the reward into [0, 1], or another estimator (e.g. grpo)"
        )
    fractional = torch.nonzero((scores > 0) & (scores < 1)).flatten()
    if fractional.numel() and not _warned_non_binary:
        _warned_non_binary.append(True)
        row = int(fractional[0])
        logger.warning(
            "maxrl got non-binary rewards in [0, 1] (row %d has %g; %d such row(s) in this batch): it then reads "
            "the expected reward E[r] as the success probability and follows the gradient of log E[r] through the "
            "same N-sample truncation, whose maximum-likelihood guarantees hold for 0/1 rewards only (shown once)", row, float(scores[row]), fractional.numel(),
        )


_warned_non_binary: list[bool] = []  # non-empty once the non-binary warning was shown in this process


@functools.lru_cache(maxsize=256)
def vr_cond_weights(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Success weight 1/K - 1/n and failure weight -1/n, for K = 0..n (the control variate is kept on
    all-fail groups, which makes the estimator exactly unbiased for ∇J^(n))."""
    k = torch.arange(n + 1, dtype=torch.float64)
    success = torch.where(k > 0, 1.0 / k.clamp_min(1) - 1.0 / n, 0.0)
    failure = torch.full((n + 1,), -1.0 / n, dtype=torch.float64)
    return success, failure


@register_advantage("vr_cond", divided_by_group_size=True)
def vr_cond_advantage(token_level_rewards, response_mask, group_ids):
    """Per-sample weights of the conditional estimator minus (1/N)ΣS_i on every group (already ÷N)."""
    scores = sequence_scores(token_level_rewards, response_mask)
    groups = GroupIndex.from_ids(group_ids, device=scores.device)
    weights = count_weights(successes(scores), groups, vr_cond_weights, scores.dtype)
    advantages = to_tokens(weights, response_mask)
    return advantages, advantages
