"""Policy losses and loss aggregation against hand-computed values."""

import math

import pytest
import torch

from maxrl.algorithms import agg_loss, compute_policy_loss, loss_normalizer

# Row 0: four valid tokens; row 1: two valid tokens then padding; row 2: fully padded.
LOSS = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 99.0, 99.0], [99.0, 99.0, 99.0, 99.0]])
MASK = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("mode,expected,normaliser", [
    ("token-mean", (1 + 2 + 3 + 5 + 6) / 5, 5.0),
    ("seq-mean-token-sum", (6 + 11) / 2, 2.0),
    ("seq-mean-token-mean", (6 / 3 + 11 / 2) / 2, 2.0),
    ("seq-mean-token-sum-norm", (6 + 11) / (4 * 2), 2.0),
])
def test_agg_loss_golden(mode, expected, normaliser):
    assert float(loss_normalizer(MASK, mode)) == normaliser
    assert float(agg_loss(LOSS, MASK, mode)) == pytest.approx(expected)
    # an explicit (e.g. whole mini-batch) normaliser replaces the local one
    assert float(agg_loss(LOSS, MASK, mode, normalizer=4 * normaliser)) == pytest.approx(expected / 4)


def test_agg_loss_of_an_empty_batch_is_zero():
    assert float(agg_loss(LOSS, torch.zeros_like(MASK), "token-mean")) == 0.0


def test_unknown_agg_mode_names_the_config_key():
    with pytest.raises(ValueError, match=r"actor_rollout_ref\.actor\.loss_agg_mode"):
        agg_loss(LOSS, MASK, "mean")


# Six valid tokens with chosen ratios ρ = π/π_old and advantages; clip 0.2, dual clip c = 3:
#  ρ=1.5, A=+1: max(-1.5, -1.2) = -1.2 (clipped)    ρ=0.5, A=+1: max(-0.5, -0.8) = -0.5
#  ρ=1.1, A=-1: 1.1                                  ρ=0.7, A=-1: max(0.7, 0.8) = 0.8 (clipped)
#  ρ=4.0, A=-2: max(8, 2.4) = 8 -> dual clip min(8, 6) = 6     ρ=1.0, A=0.5: -0.5
RATIOS = torch.tensor([[1.5, 0.5, 1.1, 0.7], [4.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
ADVANTAGES = torch.tensor([[1.0, 1.0, -1.0, -1.0], [-2.0, 0.5, 7.0, 7.0]], dtype=torch.float64)
PPO_MASK = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.float64)
OLD = torch.full_like(RATIOS, -1.3)


def vanilla(**cfg):
    return compute_policy_loss("vanilla", OLD, OLD + RATIOS.log(), ADVANTAGES, PPO_MASK, "token-mean", **cfg)


def test_vanilla_ppo_golden():
    loss, metrics = vanilla(clip_ratio=0.2, clip_ratio_c=3.0)
    assert float(loss) == pytest.approx((-1.2 - 0.5 + 1.1 + 0.8 + 6.0 - 0.5) / 6)
    assert float(metrics["pg_clipfrac"]) == pytest.approx(2 / 6)
    assert float(metrics["pg_clipfrac_lower"]) == pytest.approx(1 / 6)
    assert float(metrics["ppo_kl"]) == pytest.approx(-math.log(1.5 * 0.5 * 1.1 * 0.7 * 4.0) / 6)


def test_vanilla_asymmetric_clip_and_fallback():
    loss, _ = vanilla(clip_ratio=0.2, clip_ratio_low=0.1, clip_ratio_high=0.4)
    # ρ=1.5,A=+1 -> -1.4; ρ=0.7,A=-1 -> 0.9; ρ=4,A=-2 -> max(8, 2.8) -> dual 6
    assert float(loss) == pytest.approx((-1.4 - 0.5 + 1.1 + 0.9 + 6.0 - 0.5) / 6)
    # low/high = None fall back to clip_ratio
    torch.testing.assert_close(vanilla(clip_ratio=0.1, clip_ratio_high=None)[0],
                               vanilla(clip_ratio_low=0.1, clip_ratio_high=0.1)[0])


def test_vanilla_dual_clip_inactive_with_large_c():
    loss, metrics = vanilla(clip_ratio_c=10.0)
    assert float(loss) == pytest.approx((-1.2 - 0.5 + 1.1 + 0.8 + 8.0 - 0.5) / 6)
    assert float(metrics["pg_clipfrac_lower"]) == 0.0


@pytest.mark.parametrize("bad", [1.0, 0.5])
def test_dual_clip_constant_must_exceed_one(bad):
    with pytest.raises(ValueError, match=r"clip_ratio_c must be > 1"):
        vanilla(clip_ratio_c=bad)


def test_bad_clip_range_is_an_error():
    with pytest.raises(ValueError, match="clip_ratio_low"):
        vanilla(clip_ratio_low=1.0)


def test_vanilla_gradient_is_on_policy_policy_gradient_at_ratio_one():
    # ratio 1 (π = π_old): loss = -Σ m A ρ / #tokens, so ∂/∂log π_t = -A_t m_t / #tokens.
    log_prob = OLD.clone().requires_grad_(True)
    loss, _ = compute_policy_loss("vanilla", OLD, log_prob, ADVANTAGES, PPO_MASK, "token-mean")
    loss.backward()
    torch.testing.assert_close(log_prob.grad, -ADVANTAGES * PPO_MASK / 6)


def test_log_ratio_is_clamped_at_20():
    old = torch.zeros(1, 1, dtype=torch.float64)
    advantage = torch.tensor([[-1.0]], dtype=torch.float64)
    mask = torch.ones(1, 1)
    loss, metrics = compute_policy_loss("vanilla", old, old + 50.0, advantage, mask, clip_ratio_c=1e12)
    assert float(loss) == pytest.approx(math.exp(20.0))
    assert float(metrics["ppo_kl"]) == -20.0


def test_gspo_golden():
    # Sequence 1: token log-ratios [0.1, 0.3] -> s = e^0.2 = 1.2214 > 1.2, A = 1 -> both tokens -1.2.
    # Sequence 2: one valid token, log-ratio -0.5 -> s = 0.6065 < 0.8, A = -1 -> max(0.6065, 0.8) = 0.8.
    old = torch.zeros(2, 2, dtype=torch.float64)
    new = torch.tensor([[0.1, 0.3], [-0.5, 9.0]], dtype=torch.float64)
    adv = torch.tensor([[1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1], [1, 0]], dtype=torch.float64)
    loss, metrics = compute_policy_loss("gspo", old, new, adv, mask, "seq-mean-token-mean", clip_ratio=0.2)
    assert float(loss) == pytest.approx((-1.2 + 0.8) / 2)
    assert float(metrics["pg_clipfrac"]) == 1.0
    assert float(metrics["pg_clipfrac_lower"]) == 0.0
    assert float(metrics["ppo_kl"]) == pytest.approx(-(0.1 + 0.3 - 0.5) / 3)


def test_gspo_gradient_uses_the_sequence_ratio():
    # Unclipped: each token's gradient is -A s_i / (len_i · #sequences) with s_i the sequence ratio.
    old = torch.zeros(2, 3, dtype=torch.float64)
    new = torch.tensor([[0.02, -0.04, 0.08], [0.05, 0.01, 7.0]], dtype=torch.float64).requires_grad_(True)
    adv = torch.tensor([[2.0] * 3, [-1.0] * 3], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.float64)
    loss, _ = compute_policy_loss("gspo", old, new, adv, mask, "seq-mean-token-mean", clip_ratio=0.5)
    loss.backward()
    s = torch.tensor([math.exp(0.02), math.exp(0.03)], dtype=torch.float64)
    lengths = torch.tensor([3.0, 2.0], dtype=torch.float64)
    expected = -adv * (s / lengths / 2).unsqueeze(1) * mask
    torch.testing.assert_close(new.grad, expected)
    assert float(loss.detach()) == pytest.approx(float((-2.0 * s[0] + 1.0 * s[1]) / 2))
