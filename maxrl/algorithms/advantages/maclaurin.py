"""Explicit order-T estimators of ∇J^(T) = Σ_{k≤T} (1/k)∇pass@k, the truncated maximum-likelihood gradient.

Each term (1/k)∇pass@k = -(1/k)∇fail@k is estimated from the group's size-k subsets. A sample's weight
depends only on the group size N, the success count K and its own outcome, so every estimator here is a
pair of weight tables indexed by K. Weights already include the 1/N of the sample mean. Orders above N
cannot be estimated from N samples: the effective order is min(T, N) (T = `algorithm.truncate_order`).
"""

from __future__ import annotations

import functools
import math

import torch

from maxrl.algorithms.advantages.combinatorics import comb_ratio, log_comb
from maxrl.algorithms.advantages.outcome import count_weights, sequence_scores, successes, to_tokens
from maxrl.algorithms.grouping import GroupIndex
from maxrl.algorithms.registry import register_advantage


def _check_order(truncate_order) -> int:
    if int(truncate_order) != truncate_order or truncate_order < 1:
        raise ValueError(f"algorithm.truncate_order must be an integer >= 1, got {truncate_order!r}")
    return int(truncate_order)


def _counts(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Success counts K = 0..n and the matching failure counts F = n - K, as float64 columns."""
    k = torch.arange(n + 1, dtype=torch.float64).unsqueeze(1)
    return k, n - k


@functools.lru_cache(maxsize=256)
def maclaurin_weights(n: int, truncate_order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """U-statistic weights. k = 1: success 1/n. k ≥ 2: a failure lies in C(F-1, k-1) all-fail subsets,
    each weighted -(1/k)/C(n, k), which sums to -(1/n) C(F-1, k-1)/C(n-1, k-1)."""
    _, failures = _counts(n)
    orders = torch.arange(2, min(truncate_order, n) + 1, dtype=torch.float64)
    all_fail_share = comb_ratio(failures - 1, orders - 1, n - 1, orders - 1)
    success = torch.full((n + 1,), 1.0 / n, dtype=torch.float64)
    return success, -all_fail_share.sum(1) / n


@functools.lru_cache(maxsize=256)
def cross_fitted_maclaurin_weights(n: int, truncate_order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Maclaurin weights with a cross-fitted baseline per order k ≥ 2 (when n ≥ 2k).

    Each scored k-subset U gets the baseline b_U = share of all-fail k-subsets among the n - k samples
    outside U. b_U is independent of U's samples, so subtracting b_U Σ_{i∈U} S_i keeps the estimator
    unbiased. Summing b_U over the subsets U that contain sample i (t other failures and k-1-t successes
    in U) gives A_F for a failure and A_S for a success; both are scaled by 1/(k C(n, k)).
    """
    successes_, failures = _counts(n)
    success = torch.full((n + 1,), 1.0 / n, dtype=torch.float64)
    failure = torch.zeros(n + 1, dtype=torch.float64)
    for k in range(2, min(truncate_order, n) + 1):
        log_scale = -math.log(k) - log_comb(n, k)
        failure -= torch.exp(log_comb(failures.squeeze(1) - 1, k - 1) + log_scale)
        if n < 2 * k:
            continue  # no disjoint k-subset outside U: no baseline for this order
        t = torch.arange(k, dtype=torch.float64)  # other failures in U
        log_outside = log_comb(n - k, k)
        log_a_fail = torch.logsumexp(
            log_comb(failures - 1, t) + log_comb(successes_, k - 1 - t) + log_comb(failures - 1 - t, k), dim=1
        )
        log_a_success = torch.logsumexp(
            log_comb(failures, t) + log_comb(successes_ - 1, k - 1 - t) + log_comb(failures - t, k), dim=1
        )
        failure += torch.exp(log_a_fail - log_outside + log_scale)
        success += torch.exp(log_a_success - log_outside + log_scale)
    return success, failure


@functools.lru_cache(maxsize=256)
def oversample_subset_vr_weights(n: int, truncate_order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rao-Blackwellised conditional estimator on a random T-subset (T = min(truncate_order, n)), plus the
    full control variate -(1/n)ΣS_i: success c(K) - 1/n, failure -1/n, where
    c(K) = C(n, T)^-1 Σ_{k=1}^{min(T,K)} (1/k) C(K-1, k-1) C(F, T-k) is the mean of 1/(successes in the
    subset) over the T-subsets holding the sample. T = n reproduces vr_cond."""
    order = min(truncate_order, n)
    successes_, failures = _counts(n)
    k = torch.arange(1, order + 1, dtype=torch.float64)
    log_terms = log_comb(successes_ - 1, k - 1) + log_comb(failures, order - k) - torch.log(k)
    mean_inverse_count = torch.exp(torch.logsumexp(log_terms, dim=1) - log_comb(n, order))
    return mean_inverse_count - 1.0 / n, torch.full((n + 1,), -1.0 / n, dtype=torch.float64)


def _order_t_advantage(table, token_level_rewards, response_mask, group_ids, truncate_order):
    order = _check_order(truncate_order)
    scores = sequence_scores(token_level_rewards, response_mask)
    groups = GroupIndex.from_ids(group_ids, device=scores.device)
    weights = count_weights(successes(scores), groups, lambda n: table(n, order), scores.dtype)
    advantages = to_tokens(weights, response_mask)
    return advantages, advantages


@register_advantage("maclaurin", divided_by_group_size=True)
def maclaurin_advantage(token_level_rewards, response_mask, group_ids, truncate_order: int = 16):
    """Unbiased for ∇J^(min(T, N)); no baseline beyond the k = 1 success form."""
    return _order_t_advantage(maclaurin_weights, token_level_rewards, response_mask, group_ids,
                              truncate_order)


@register_advantage("cross_fitted_maclaurin", divided_by_group_size=True)
def cross_fitted_maclaurin_advantage(token_level_rewards, response_mask, group_ids, truncate_order: int = 16):
    """Unbiased for ∇J^(min(T, N)); lower variance than `maclaurin` via disjoint-subset baselines."""
    return _order_t_advantage(cross_fitted_maclaurin_weights, token_level_rewards, response_mask, group_ids,
                              truncate_order)


@register_advantage("oversample_subset_vr", divided_by_group_size=True)
def oversample_subset_vr_advantage(token_level_rewards, response_mask, group_ids, truncate_order: int = 16):
    """Unbiased for ∇J^(min(T, N)): MaxRL's order-T conditional estimator averaged over T-subsets."""
    return _order_t_advantage(oversample_subset_vr_weights, token_level_rewards, response_mask, group_ids,
                              truncate_order)
