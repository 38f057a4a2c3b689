"""Hand-computed advantages for every estimator on small batches with shuffled, unequal groups.

Golden batch (rows deliberately interleaved): group a = [1, 0, 0, 1] (N=4, K=2), b = [1, 0, 0] (N=3, K=1),
c = [0, 0] (all fail), d = [1, 1] (all succeed), e = [1, 1, 0, 0, 0] (N=5, K=2). The reward sits on the
last valid token; rewards on padding are garbage (7.0) and must be ignored.
"""

import math

import pytest
import torch

from maxrl.algorithms import compute_advantage
from maxrl.algorithms.masked import masked_whiten

ROWS = [  # (group, reward, response length)
    ("a", 1, 1), ("b", 1, 3), ("c", 0, 2), ("e", 0, 1), ("a", 0, 3), ("d", 1, 2), ("b", 0, 1), ("e", 1, 3),
    ("a", 0, 1), ("c", 0, 3), ("e", 0, 2), ("b", 0, 2), ("d", 1, 1), ("e", 1, 2), ("a", 1, 2), ("e", 0, 3),
]
WIDTH = 4


def golden_batch():
    rewards = torch.full((len(ROWS), WIDTH), 7.0, dtype=torch.float64)
    mask = torch.zeros(len(ROWS), WIDTH, dtype=torch.float64)
    for i, (_, reward, length) in enumerate(ROWS):
        rewards[i, :length] = 0.0
        rewards[i, length - 1] = reward
        mask[i, :length] = 1.0
    return rewards, mask, [group for group, _, _ in ROWS]


def expected_tokens(per_group_outcome: dict, mask):
    """Broadcast {(group, reward): advantage} to the golden batch's tokens."""
    values = torch.tensor([per_group_outcome[(g, r)] for g, r, _ in ROWS], dtype=torch.float64)
    return values.unsqueeze(1) * mask


def run(name, **knobs):
    rewards, mask, ids = golden_batch()
    adv, returns = compute_advantage(name, rewards, mask, ids, **knobs)
    return adv, returns, mask


def check(name, table, rtol=1e-12, **knobs):
    adv, returns, mask = run(name, **knobs)
    torch.testing.assert_close(adv, expected_tokens(table, mask), rtol=rtol, atol=1e-12)
    torch.testing.assert_close(returns, adv)


SQRT3 = math.sqrt(3.0)  # groups a and b both have unbiased std 1/sqrt(3)


def test_maxrl_golden():
    table = {("a", 1): 1.0, ("a", 0): -1.0, ("b", 1): 2.0, ("b", 0): -1.0, ("c", 0): 0.0, ("d", 1): 0.0,
             ("e", 1): 1.5, ("e", 0): -1.0}
    check("maxrl", table, epsilon=0.0)
    check("maxrl", table, rtol=3e-6)  # the default ε = 1e-6 shrinks by r̄/(r̄ + ε)


def test_vr_cond_golden():
    table = {("a", 1): 1 / 4, ("a", 0): -1 / 4, ("b", 1): 2 / 3, ("b", 0): -1 / 3, ("c", 0): -1 / 2,
             ("d", 1): 0.0, ("e", 1): 1 / 2 - 1 / 5, ("e", 0): -1 / 5}
    check("vr_cond", table)


def test_maclaurin_golden():
    # success 1/N; failure -(1/N) C(F-1, 1)/C(N-1, 1) for T = 2.
    table = {("a", 1): 1 / 4, ("a", 0): -1 / 12, ("b", 1): 1 / 3, ("b", 0): -1 / 6, ("c", 0): -1 / 2,
             ("d", 1): 1 / 2, ("e", 1): 1 / 5, ("e", 0): -1 / 10}
    check("maclaurin", table, truncate_order=2)
    sizes = {"a": 4, "b": 3, "c": 2, "d": 2, "e": 5}
    order_one = {key: (1 / sizes[key[0]] if key[1] else 0.0) for key in table}
    check("maclaurin", order_one, truncate_order=1)


def test_cross_fitted_maclaurin_golden():
    # a (N=4, T=2): pair {s1, s2} has baseline 1 from the all-fail complement -> successes +1/12.
    # e (N=5, T=2): success +(A_S=2)/20, failure +(A_F=2/3)/20 on top of maclaurin's weights.
    table = {("a", 1): 1 / 3, ("a", 0): -1 / 12, ("b", 1): 1 / 3, ("b", 0): -1 / 6, ("c", 0): -1 / 2,
             ("d", 1): 1 / 2, ("e", 1): 3 / 10, ("e", 0): -1 / 15}
    check("cross_fitted_maclaurin", table, truncate_order=2)
    # T = 3 adds, for e only, the order-3 term -C(2,2)/(3 C(5,3)) = -1/30 on failures (no baseline: N < 6).
    table_3 = {**table, ("e", 0): -1 / 15 - 1 / 30}
    check("cross_fitted_maclaurin", table_3, truncate_order=3)


def test_oversample_subset_vr_golden():
    # c(K) = mean over 2-subsets of 1{i in subset}/successes-in-subset; success c - 1/N, failure -1/N.
    table = {("a", 1): 5 / 12 - 1 / 4, ("a", 0): -1 / 4, ("b", 1): 2 / 3 - 1 / 3, ("b", 0): -1 / 3,
             ("c", 0): -1 / 2, ("d", 1): 0.0, ("e", 1): 0.35 - 0.2, ("e", 0): -0.2}
    check("oversample_subset_vr", table, truncate_order=2)


def test_pkpo_golden():
    # k = 2: ρ = (N-K)/(N-1) on successes, then A_i = (N a_i - Σ a)/(N-1).
    table = {("a", 1): 4 / 9, ("a", 0): -4 / 9, ("b", 1): 1.0, ("b", 0): -1 / 2, ("c", 0): 0.0, ("d", 1): 0.0,
             ("e", 1): 9 / 16, ("e", 0): -3 / 8}
    check("pkpo", table, pass_k=2)


def test_pkpo_with_k_1_is_rloo():
    torch.testing.assert_close(run("pkpo", pass_k=1)[0], run("rloo")[0])


def test_grpo_golden():
    s = 1 / SQRT3
    eps = 1e-6
    table = {("a", 1): 0.5 / (s + eps), ("a", 0): -0.5 / (s + eps), ("b", 1): (2 / 3) / (s + eps),
             ("b", 0): (-1 / 3) / (s + eps), ("c", 0): 0.0, ("d", 1): 0.0,
             ("e", 1): 0.6 / (math.sqrt(0.3) + eps), ("e", 0): -0.4 / (math.sqrt(0.3) + eps)}
    check("grpo", table)


def test_dr_grpo_golden():
    table = {("a", 1): 0.5, ("a", 0): -0.5, ("b", 1): 2 / 3, ("b", 0): -1 / 3, ("c", 0): 0.0, ("d", 1): 0.0,
             ("e", 1): 0.6, ("e", 0): -0.4}
    check("grpo", table, norm_adv_by_std_in_grpo=False)


def test_rloo_golden():
    table = {("a", 1): 2 / 3, ("a", 0): -2 / 3, ("b", 1): 1.0, ("b", 0): -1 / 2, ("c", 0): 0.0, ("d", 1): 0.0,
             ("e", 1): 1 - 1 / 4, ("e", 0): -2 / 4}
    check("rloo", table)


def test_opo_golden():
    # Baseline Σ ℓ s / Σ ℓ: a = (1 + 2)/(1+3+1+2) = 3/7; b = 3/6; e = (3+2)/(1+3+2+2+3) = 5/11.
    table = {("a", 1): 1 - 3 / 7, ("a", 0): -3 / 7, ("b", 1): 0.5, ("b", 0): -0.5, ("c", 0): 0.0,
             ("d", 1): 0.0, ("e", 1): 1 - 5 / 11, ("e", 0): -5 / 11}
    check("opo", table)


def test_grpo_passk_golden():
    # Binary groups: only b has a single success (margin 1); ties (K >= 2) and K = 0 give 0.
    zero = {key: 0.0 for key in [("a", 1), ("a", 0), ("b", 0), ("c", 0), ("d", 1), ("e", 1), ("e", 0)]}
    check("grpo_passk", {**zero, ("b", 1): 1.0}, norm_adv_by_std_in_grpo=False)
    check("grpo_passk", {**zero, ("b", 1): 1.0 / (1 / SQRT3 + 1e-6)})
    # Continuous rewards: the best of [0.2, 0.9, 0.5] gets 0.9 - 0.5 = 0.4, the others 0.
    rewards = torch.tensor([[0.2], [0.9], [0.5]], dtype=torch.float64)
    adv, _ = compute_advantage("grpo_passk", rewards, torch.ones_like(rewards), ["q"] * 3,
                               norm_adv_by_std_in_grpo=False)
    torch.testing.assert_close(adv.flatten(), torch.tensor([0.0, 0.4, 0.0], dtype=torch.float64))


def test_reinforce_plus_plus_baseline_golden():
    # Group x: rewards 1 (2 tokens), 0 (1 token) -> +0.5, +0.5, -0.5; group y: 1, 1 -> 0, 0.
    # Token values [.5, .5, -.5, 0, 0]: mean 0.1, unbiased variance 0.7/4 = 0.175.
    rewards = torch.tensor([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1], [1, 0], [1, 0], [1, 0]], dtype=torch.float64)
    adv, returns = compute_advantage("reinforce_plus_plus_baseline", rewards, mask, ["x", "x", "y", "y"])
    std = math.sqrt(0.175 + 1e-8)
    expected = torch.tensor([[0.4, 0.4], [-0.6, 0.0], [-0.1, 0.0], [-0.1, 0.0]], dtype=torch.float64) / std
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(returns, adv)


def test_masked_whiten_golden():
    values = torch.tensor([[1.0, 3.0, 100.0], [5.0, 100.0, 100.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    # mean 3, unbiased variance (4 + 0 + 4)/2 = 4
    expected = torch.tensor([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]) * (2 / math.sqrt(4 + 1e-8))
    torch.testing.assert_close(masked_whiten(values, mask), expected)


def test_reinforce_plus_plus_golden():
    # γ = 0.5: row 1 rewards [0, 0, 1] -> returns [0.25, 0.5, 1]; row 2 [0, 2 | pad] -> [1, 2, 0].
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 2.0, 9.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.float64)
    adv, returns = compute_advantage("reinforce_plus_plus", rewards, mask, ["p", "q"], gamma=0.5)
    expected_returns = torch.tensor([[0.25, 0.5, 1.0], [1.0, 2.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(returns, expected_returns)
    # valid returns [.25, .5, 1, 1, 2]: mean .95, unbiased variance 1.8/4 = .45
    std = math.sqrt(0.45 + 1e-8)
    expected = torch.tensor([[-0.7, -0.45, 0.05], [0.05, 1.05, 0.0]], dtype=torch.float64) / std
    torch.testing.assert_close(adv, expected)


def test_remax_golden():
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 2.0, 9.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.float64)
    adv, returns = compute_advantage("remax", rewards, mask, ["p", "q"],
                                     reward_baselines=torch.tensor([0.5, 1.0], dtype=torch.float64))
    torch.testing.assert_close(returns, torch.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 0.0]], dtype=torch.float64))
    torch.testing.assert_close(adv, torch.tensor([[0.5, 0.5, 0.5], [1.0, 1.0, 0.0]], dtype=torch.float64))


def test_gae_golden():
    # γ = λ = 0.5. Row 1 (2 valid tokens, V = [.5, .2]): A1 = 1 - .2 = .8, A0 = (.5·.2 - .5) + .25·.8 = -.2.
    # Row 2 (V = [.1, .2, .3]): A2 = .7, A1 = (.15 - .2) + .25·.7 = .125, A0 = (.1 - .1) + .25·.125 = .03125.
    rewards = torch.tensor([[0.0, 1.0, 5.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    values = torch.tensor([[0.5, 0.2, 9.0], [0.1, 0.2, 0.3]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.float64)
    adv, returns = compute_advantage("gae", rewards, mask, ["p", "q"], values=values, gamma=0.5, lam=0.5)
    raw = torch.tensor([[-0.2, 0.8, 0.0], [0.03125, 0.125, 0.7]], dtype=torch.float64)
    expected_returns = torch.tensor([[0.3, 1.0, 0.0], [0.13125, 0.325, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(returns, expected_returns)
    torch.testing.assert_close(adv, masked_whiten(raw, mask))


def test_gae_with_gamma_lambda_one_is_return_minus_value():
    rewards = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64).repeat(2, 1)
    values = torch.tensor([[0.3, 0.6, 0.9], [0.1, 0.1, 0.1]], dtype=torch.float64)
    mask = torch.ones_like(rewards)
    _, returns = compute_advantage("gae", rewards, mask, [0, 1], values=values)
    torch.testing.assert_close(returns, torch.ones_like(rewards))


def test_float32_inputs_stay_float32():
    rewards, mask, ids = golden_batch()
    for name in ["maxrl", "vr_cond", "maclaurin", "pkpo", "grpo", "rloo"]:
        adv, _ = compute_advantage(name, rewards.float(), mask.float(), ids, pass_k=2)
        assert adv.dtype == torch.float32
        torch.testing.assert_close(adv, run(name, pass_k=2)[0].float())


@pytest.mark.parametrize("reward", [-1.0, -1e-9, 1.0 + 1e-6, 2.0])
def test_maxrl_rejects_rewards_outside_the_unit_interval_naming_the_row(reward):
    rewards = torch.tensor([[1.0], [reward], [0.0], [1.0]])
    with pytest.raises(ValueError, match=r"rewards in \[0, 1\].*row 1 \(group 'g1'\)"):
        compute_advantage("maxrl", rewards, torch.ones_like(rewards), ["g0", "g1", "g0", "g1"])


def test_maxrl_rejects_groups_of_one_naming_the_group():
    rewards = torch.tensor([[1.0], [0.0], [1.0]])
    with pytest.raises(ValueError, match=r"group 'solo' \(rows \[1\]\).*actor_rollout_ref\.rollout\.n >= 2"):
        compute_advantage("maxrl", rewards, torch.ones_like(rewards), ["pair", "solo", "pair"])


def test_pkpo_rejects_pass_k_larger_than_a_group():
    rewards, mask, ids = golden_batch()
    with pytest.raises(ValueError, match=r"algorithm\.pass_k=3 exceeds the size 2"):
        compute_advantage("pkpo", rewards, mask, ids, pass_k=3)


@pytest.mark.parametrize("name", ["maclaurin", "cross_fitted_maclaurin", "oversample_subset_vr"])
@pytest.mark.parametrize("order", [0, 2.5])
def test_order_t_estimators_reject_bad_truncate_order(name, order):
    rewards, mask, ids = golden_batch()
    with pytest.raises(ValueError, match="algorithm.truncate_order"):
        compute_advantage(name, rewards, mask, ids, truncate_order=order)


def test_count_estimators_binarise_at_one_half():
    # 0.5 is a failure, 0.51 a success: identical to rewards 0 and 1.
    soft = torch.tensor([[0.51], [0.5], [0.9], [0.1]], dtype=torch.float64)
    hard = torch.tensor([[1.0], [0.0], [1.0], [0.0]], dtype=torch.float64)
    ones = torch.ones_like(soft)
    for name in ["vr_cond", "maclaurin", "cross_fitted_maclaurin", "oversample_subset_vr", "pkpo"]:
        torch.testing.assert_close(compute_advantage(name, soft, ones, list("xxyy"), pass_k=2)[0],
                                   compute_advantage(name, hard, ones, list("xxyy"), pass_k=2)[0])
