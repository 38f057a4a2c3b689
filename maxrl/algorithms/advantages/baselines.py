"""REINFORCE with a baseline built from the other responses to the same prompt."""

from __future__ import annotations

from maxrl.algorithms.advantages.outcome import sequence_scores, to_tokens
from maxrl.algorithms.grouping import GroupIndex
from maxrl.algorithms.masked import masked_whiten
from maxrl.algorithms.registry import register_advantage


@register_advantage("rloo", min_group_size=2)
def rloo_advantage(token_level_rewards, response_mask, group_ids):
    """s_i minus the mean of the other N-1 scores (= N/(N-1)(s_i - s̄)); group mean unbiased for ∇pass@1."""
    scores = sequence_scores(token_level_rewards, response_mask)
    groups = GroupIndex.from_ids(group_ids, device=scores.device)
    sizes = groups.row_sizes().to(scores.dtype)
    advantages = sizes / (sizes - 1) * (scores - groups.broadcast(groups.mean(scores)))
    advantages = to_tokens(advantages, response_mask)
    return advantages, advantages


@register_advantage("opo", min_group_size=2)
def opo_advantage(token_level_rewards, response_mask, group_ids):
    """s_i minus the length-weighted group mean Σ ℓ_j s_j / Σ ℓ_j (ℓ = response length), the optimal
    baseline of On-Policy Optimisation for sequence-summed scores."""
    scores = sequence_scores(token_level_rewards, response_mask)
    groups = GroupIndex.from_ids(group_ids, device=scores.device)
    lengths = response_mask.to(scores.dtype).sum(-1)
    baseline = groups.sum(lengths * scores) / groups.sum(lengths).clamp_min(1)
    advantages = to_tokens(scores - groups.broadcast(baseline), response_mask)
    return advantages, advantages


@register_advantage("reinforce_plus_plus_baseline", min_group_size=2)
def reinforce_plus_plus_baseline_advantage(token_level_rewards, response_mask, group_ids):
    """s_i - s̄ on every token, then whitened over all valid tokens of the batch."""
    scores = sequence_scores(token_level_rewards, response_mask)
    groups = GroupIndex.from_ids(group_ids, device=scores.device)
    centred = to_tokens(scores - groups.broadcast(groups.mean(scores)), response_mask)
    advantages = masked_whiten(centred, response_mask)
    return advantages, advantages
