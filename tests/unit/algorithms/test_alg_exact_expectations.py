"""Exact expectations in a one-parameter Bernoulli-logit policy (no Monte Carlo).

A prompt is solved with probability p = sigmoid(θ). A sample's score is S = ∂/∂θ log π = 1 - p on a
success and -p on a failure, and ∇p = p(1 - p). An estimator gives sample i a weight w_i (its advantage
times a stated scale, e.g. 1/N for the sample mean) and the gradient estimate ĝ = Σ_i w_i S_i.
We compute E[ĝ] exactly, either by enumerating all 2^N outcome vectors, or (for larger N) by
exchangeability: w_i depends only on the own outcome and the success count K, so
E[ĝ] = N p(1-p) (E[w | own success] - E[w | own failure]), with the other N-1 outcomes ~ Binomial(N-1, p).
Targets: ∇J^(T) = Σ_{k≤T} (1/k)∇pass@k = (1 - (1-p)^T)/p · ∇p.
"""

import itertools
import math

import pytest
import torch

from maxrl.algorithms import compute_advantage
from maxrl.algorithms.advantages.pkpo import pkpo_success_weights

PROBS = (0.05, 0.3, 0.77)
SMALL_N = (2, 3, 4, 7)
LARGE_N = (16, 41)


def grad_p(p):
    return p * (1 - p)


def grad_truncated(order, p):
    """∇J^(T) for the logit parameter."""
    return (1 - (1 - p) ** order) / p * grad_p(p)


def binomial_pmf(n, p):
    pmf = [math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(n + 1)]
    return torch.tensor(pmf, dtype=torch.float64)


def advantages_of(name, rewards, ids, **knobs):
    """Outcome rewards [B] -> per-row advantage, with the rows shuffled before the call and unshuffled after
    (so the expectation also proves grouping by id) and a padded second token that must stay inert."""
    batch = rewards.shape[0]
    perm = torch.randperm(batch, generator=torch.Generator().manual_seed(batch))
    token_rewards = torch.stack([rewards[perm], torch.full((batch,), 5.0, dtype=torch.float64)], dim=1)
    mask = torch.tensor([[1.0, 0.0]], dtype=torch.float64).expand(batch, 2)
    adv, _ = compute_advantage(name, token_rewards, mask, [ids[i] for i in perm.tolist()], **knobs)
    assert torch.all(adv[:, 1] == 0)
    out = torch.empty(batch, dtype=torch.float64)
    out[perm] = adv[:, 0]
    return out


def expectation_by_enumeration(name, n, p, scale, **knobs):
    """E[Σ_i scale·A_i S_i] summing over all 2^n outcome vectors (one group per vector)."""
    outcomes = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)
    ids = [g for g in range(outcomes.shape[0]) for _ in range(n)]
    weights = scale * advantages_of(name, outcomes.reshape(-1), ids, **knobs).reshape(outcomes.shape)
    scores = outcomes - p  # S = 1 - p on a success, -p on a failure (float64 throughout)
    successes = outcomes.sum(1)
    probability = p**successes * (1 - p) ** (n - successes)
    return float((probability * (weights * scores).sum(1)).sum())


def weights_by_count(name, n, scale, **knobs):
    """(w_success[K], w_failure[K]) for K = 0..n from one call with a group per K; checks exchangeability."""
    rewards = torch.tensor([float(i < k) for k in range(n + 1) for i in range(n)], dtype=torch.float64)
    ids = [f"K={k}" for k in range(n + 1) for _ in range(n)]
    weights = (scale * advantages_of(name, rewards, ids, **knobs)).reshape(n + 1, n)
    success = torch.zeros(n + 1, dtype=torch.float64)
    failure = torch.zeros(n + 1, dtype=torch.float64)
    for k in range(n + 1):
        row = weights[k]
        if k > 0:
            assert torch.allclose(row[:k], row[0], rtol=0, atol=1e-15), "success weight depends on position"
            success[k] = row[0]
        if k < n:
            assert torch.allclose(row[k:], row[k], rtol=0, atol=1e-15), "failure weight depends on position"
            failure[k] = row[k]
    return success, failure


def expectation_from_weights(success, failure, n, p):
    """N p(1-p) (E[w_success(J+1)] - E[w_failure(J)]), J ~ Binomial(N-1, p)."""
    pmf = binomial_pmf(n - 1, p)
    return float(n * grad_p(p) * ((pmf * success[1:]).sum() - (pmf * failure[:-1]).sum()))


def expectation(name, n, p, scale, **knobs):
    if n <= 8:
        return expectation_by_enumeration(name, n, p, scale, **knobs)
    return expectation_from_weights(*weights_by_count(name, n, scale, **knobs), n, p)


def assert_exact(value, target):
    assert value == pytest.approx(target, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("n", SMALL_N + LARGE_N)
def test_maxrl_is_unbiased_for_order_n_minus_1(n):
    # ε = 0 removes the 1e-6 guard; zero-on-all-fail drops the control variate's E[V_N 1{K=0}] ≠ 0 part.
    for p in PROBS:
        assert_exact(expectation("maxrl", n, p, 1 / n, epsilon=0.0), grad_truncated(n - 1, p))


@pytest.mark.parametrize("n", (2, 4, 16))
def test_maxrl_default_epsilon_only_perturbs_at_1e_minus_6(n):
    p = 0.3
    value = expectation("maxrl", n, p, 1 / n)
    assert value == pytest.approx(grad_truncated(n - 1, p), rel=1e-5)
    assert value != pytest.approx(grad_truncated(n, p), rel=1e-3)


def test_maxrl_order_n_minus_1_matters_for_small_groups():
    # The spec's example: N = 4, p = 0.05 recovers only ~77% of the order-N gradient.
    ratio = expectation("maxrl", 4, 0.05, 1 / 4, epsilon=0.0) / grad_truncated(4, 0.05)
    assert ratio == pytest.approx((1 - 0.95**3) / (1 - 0.95**4), rel=1e-12)
    assert 0.76 < ratio < 0.78


@pytest.mark.parametrize("n", SMALL_N + LARGE_N)
def test_vr_cond_is_unbiased_for_order_n(n):
    for p in PROBS:
        assert_exact(expectation("vr_cond", n, p, 1.0), grad_truncated(n, p))


@pytest.mark.parametrize("name", ["maclaurin", "cross_fitted_maclaurin", "oversample_subset_vr"])
@pytest.mark.parametrize("n", (2, 4, 7, 16))
def test_order_t_estimators_are_unbiased_for_order_min_t_n(name, n):
    for order in (1, 2, 3, 5, 64):
        for p in PROBS:
            assert_exact(expectation(name, n, p, 1.0, truncate_order=order), grad_truncated(min(order, n), p))


@pytest.mark.parametrize("name", ["maclaurin", "cross_fitted_maclaurin", "oversample_subset_vr"])
def test_order_t_estimators_large_group(name):
    n, p, order = 41, 0.3, 9
    assert_exact(expectation(name, n, p, 1.0, truncate_order=order), grad_truncated(order, p))


def test_oversample_subset_vr_with_order_n_is_vr_cond():
    n = 7
    oversampled = torch.stack(weights_by_count("oversample_subset_vr", n, 1.0, truncate_order=n))
    vr_cond = torch.stack(weights_by_count("vr_cond", n, 1.0))
    assert torch.allclose(oversampled, vr_cond, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("n", (2, 3, 6, 16))
def test_pkpo_success_weight_is_unbiased_for_pass_at_k_over_k(n):
    for k, p in itertools.product(range(1, n + 1), PROBS):
        rho, failure = pkpo_success_weights(n, k)
        mean_weight = (rho / n, failure / n)  # the group mean (1/N) Σ ρ_i r_i S_i
        target = grad_p(p) * (1 - p) ** (k - 1)  # (1/k) ∇pass@k, ∇pass@k = k (1-p)^(k-1) ∇p
        assert_exact(expectation_from_weights(*mean_weight, n, p), target)


@pytest.mark.parametrize("n", (2, 4, 7))
def test_pkpo_leave_one_out_bias_has_closed_form(n):
    """The LOO baseline uses K, which contains the sample's own reward. The exact expectation is
    [(1-p)^(k-1) + (k-1) p (1-p)^(k-2) / (N-1)] ∇p (derivation in docs/algorithms.md): unbiased only
    at k = 1."""
    for k, p in itertools.product(range(1, n + 1), PROBS):
        bias = (k - 1) * p * (1 - p) ** (k - 2) / (n - 1) if k > 1 else 0.0
        target = ((1 - p) ** (k - 1) + bias) * grad_p(p)
        assert_exact(expectation("pkpo", n, p, 1 / n, pass_k=k), target)


@pytest.mark.parametrize("n", SMALL_N + LARGE_N)
def test_rloo_is_unbiased_for_pass_at_1(n):
    for p in PROBS:
        assert_exact(expectation("rloo", n, p, 1 / n), grad_p(p))


@pytest.mark.parametrize("n", SMALL_N + LARGE_N)
def test_dr_grpo_is_unbiased_for_scaled_pass_at_1(n):
    for p in PROBS:
        value = expectation("grpo", n, p, 1 / n, norm_adv_by_std_in_grpo=False)
        assert_exact(value, (n - 1) / n * grad_p(p))


@pytest.mark.parametrize("name,knobs", [("maxrl", {"epsilon": 0.0}), ("pkpo", {"pass_k": 3}),
                                        ("cross_fitted_maclaurin", {"truncate_order": 3})])
def test_enumeration_and_exchangeability_shortcut_agree(name, knobs):
    n, p = 6, 0.23
    by_counts = expectation_from_weights(*weights_by_count(name, n, 1.0, **knobs), n, p)
    assert_exact(expectation_by_enumeration(name, n, p, 1.0, **knobs), by_counts)
