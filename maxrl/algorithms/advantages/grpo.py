"""GRPO-style group-normalised advantages."""

from __future__ import annotations

import torch

from maxrl.algorithms.advantages.outcome import sequence_scores, to_tokens
from maxrl.algorithms.grouping import GroupIndex
from maxrl.algorithms.registry import register_advantage


@register_advantage("grpo", min_group_size=2)
def grpo_advantage(token_level_rewards, response_mask, group_ids, norm_adv_by_std_in_grpo: bool = True,
                   epsilon: float = 1e-6):
    """(s - s̄)/(σ + ε) with the unbiased group std σ; without the std (flag False) this is Dr.GRPO's
    s - s̄, whose group mean of A_i S_i is unbiased for ((N-1)/N)∇pass@1."""
    scores = sequence_scores(token_level_rewards, response_mask)
    groups = GroupIndex.from_ids(group_ids, device=scores.device)
    advantages = scores - groups.broadcast(groups.mean(scores))
    if norm_adv_by_std_in_grpo:
        advantages = advantages / (groups.broadcast(groups.std(scores)) + epsilon)
    advantages = to_tokens(advantages, response_mask)
    return advantages, advantages


@register_advantage("grpo_passk", min_group_size=2)
def grpo_passk_advantage(token_level_rewards, response_mask, group_ids, norm_adv_by_std_in_grpo: bool = True,
                         epsilon: float = 1e-6):
    """Only each group's best response is credited, with its margin over the runner-up (÷(σ + ε) when
    normalising). Ties for the best give a zero margin, so which tied row is "best" never matters."""
    scores = sequence_scores(token_level_rewards, response_mask)
    groups = GroupIndex.from_ids(group_ids, device=scores.device)
    # Order rows by group, best score first inside each group (two stable sorts = a lexicographic sort).
    by_score = torch.sort(scores, descending=True, stable=True).indices
    order = by_score[torch.sort(groups.index[by_score], stable=True).indices]
    group_start = torch.cumsum(groups.sizes, 0) - groups.sizes
    best, runner_up = order[group_start], order[group_start + 1]
    margin = scores[best] - scores[runner_up]
    if norm_adv_by_std_in_grpo:
        margin = margin / (groups.std(scores) + epsilon)
    advantages = torch.zeros_like(scores)
    advantages[best] = margin
    advantages = to_tokens(advantages, response_mask)
    return advantages, advantages
