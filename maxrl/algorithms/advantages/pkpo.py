"""PKPO (pass@k policy optimisation, Walder & Karkhanis) for binary rewards.

A success in a group of N with K successes gets ρ = C(N-K, k-1)/C(N-1, k-1), the chance that k-1 other
samples drawn without replacement all fail; failures get 0. The group mean of ρ_i r_i S_i is unbiased for
(1/k)∇pass@k. A leave-one-out baseline then subtracts the mean of the other samples' weights:
A_i = (N a_i - Σ_j a_j)/(N - 1). That baseline depends on the sample's own reward (through K), so the
transformed estimator is unbiased only for k = 1, where it is RLOO (see docs/algorithms.md).
"""

from __future__ import annotations

import functools

import torch

from maxrl.algorithms.advantages.combinatorics import comb_ratio
from maxrl.algorithms.advantages.outcome import count_weights, sequence_scores, successes, to_tokens
from maxrl.algorithms.grouping import GroupIndex
from maxrl.algorithms.registry import register_advantage


@functools.lru_cache(maxsize=256)
def pkpo_success_weights(n: int, pass_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ρ(K) for successes, 0 for failures), K = 0..n, before the leave-one-out transform."""
    k = torch.arange(n + 1, dtype=torch.float64)
    rho = comb_ratio(n - k, pass_k - 1, n - 1, pass_k - 1)
    return torch.where(k > 0, rho, 0.0), torch.zeros(n + 1, dtype=torch.float64)


@register_advantage("pkpo", min_group_size=2)
def pkpo_advantage(token_level_rewards, response_mask, group_ids, pass_k: int = 1):
    scores = sequence_scores(token_level_rewards, response_mask)
    groups = GroupIndex.from_ids(group_ids, device=scores.device)
    if int(pass_k) != pass_k or pass_k < 1:
        raise ValueError(f"algorithm.pass_k must be an integer >= 1, got {pass_k!r}")
    smallest = int(groups.sizes.min()) if groups.num_groups else pass_k
    if pass_k > smallest:
        group = groups.ids[int(groups.sizes.argmin())]
        raise ValueError(f"pkpo: algorithm.pass_k={pass_k} exceeds the size {smallest} of group {group!r}; "
                         f"set algorithm.pass_k <= actor_rollout_ref.rollout.n")
    weights = count_weights(successes(scores), groups, lambda n: pkpo_success_weights(n, int(pass_k)),
                            scores.dtype)
    sizes = groups.row_sizes().to(scores.dtype)
    leave_one_out = (sizes * weights - groups.broadcast(groups.sum(weights))) / (sizes - 1)
    advantages = to_tokens(leave_one_out, response_mask)
    return advantages, advantages
