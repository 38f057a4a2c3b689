"""Rollout correction against hand-computed weights, on-policy identity, config errors, weighted losses."""

import math

import pytest
import torch
from omegaconf import OmegaConf

from maxrl.algorithms import RolloutCorrection, compute_policy_loss, register_policy_loss
from maxrl.algorithms.losses import agg_loss

E = math.exp
# Token log-ratios log π_old - log π_rollout: row 0 = [0.5, -1, 1] (sum 0.5, mean 1/6),
# row 1 = [-0.25, 2, padding] (sum 1.75, mean 0.875). Padding holds garbage (-inf) that must not leak.
ROLLOUT = torch.tensor([[-1.0, -2.0, -3.0], [-0.5, -4.0, -math.inf]], dtype=torch.float64)
OLD = torch.tensor([[-0.5, -3.0, -2.0], [-0.75, -2.0, 0.0]], dtype=torch.float64)
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])
P = "rollout_correction/"

CASES = {
    "token_tis": (
        dict(is_level="token", is_threshold=2.0),
        [[E(0.5), E(-1), 2.0], [E(-0.25), 2.0, 0.0]],
        {P + "is_ratio_mean": (E(0.5) + E(-1) + E(1) + E(-0.25) + E(2)) / 5, P + "capped_fraction": 2 / 5,
         P + "weight_mean": (E(0.5) + E(-1) + 2 + E(-0.25) + 2) / 5},
    ),
    "sequence_tis": (
        dict(is_level="sequence", is_threshold=2.0),
        [[E(0.5)] * 3, [2.0, 2.0, 0.0]],
        {P + "is_ratio_mean": (3 * E(0.5) + 2 * E(1.75)) / 5, P + "capped_fraction": 2 / 5,
         P + "weight_mean": (3 * E(0.5) + 4) / 5},
    ),
    "token_mask": (
        dict(rs_level="token", rs_threshold=2.0),  # kept range [0.5, 2]
        [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
        {P + "rejected_fraction": 3 / 5, P + "weight_mean": 2 / 5},
    ),
    "token_mask_explicit_lower": (
        dict(rs_level="token", rs_threshold=3.0, rs_threshold_lower=0.3),  # only e^2 is outside
        [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]],
        {P + "rejected_fraction": 1 / 5, P + "weight_mean": 4 / 5},
    ),
    "sequence_mask": (
        dict(rs_level="sequence", rs_threshold=2.0),  # e^0.5 kept, e^1.75 rejected
        [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
        {P + "rejected_fraction": 2 / 5, P + "weight_mean": 3 / 5},
    ),
    "sequence_mask_tight": (
        dict(rs_level="sequence", rs_threshold=1.2),  # e^0.5 = 1.65 is now outside too
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        {P + "rejected_fraction": 1.0, P + "weight_mean": 0.0},
    ),
    "geometric_mask": (
        dict(rs_level="geometric", rs_threshold=1.2),  # e^(1/6) = 1.18 kept, e^0.875 = 2.40 rejected
        [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
        {P + "rejected_fraction": 2 / 5, P + "weight_mean": 3 / 5},
    ),
    "icepop": (  # token IS inside the kept range, 0 outside
        dict(is_level="token", is_threshold=10.0, rs_level="token", rs_threshold=2.0),
        [[E(0.5), 0.0, 0.0], [E(-0.25), 0.0, 0.0]],
        {P + "is_ratio_mean": (E(0.5) + E(-1) + E(1) + E(-0.25) + E(2)) / 5, P + "capped_fraction": 0.0,
         P + "rejected_fraction": 3 / 5, P + "weight_mean": (E(0.5) + E(-0.25)) / 5},
    ),
    "veto_with_token_tis": (  # row 0 holds ρ = e^-1 < 0.5: the whole row goes; capping is counted before
        dict(is_level="token", is_threshold=2.0, veto_threshold=0.5),
        [[0.0, 0.0, 0.0], [E(-0.25), 2.0, 0.0]],
        {P + "is_ratio_mean": (E(0.5) + E(-1) + E(1) + E(-0.25) + E(2)) / 5, P + "capped_fraction": 2 / 5,
         P + "rejected_fraction": 3 / 5, P + "weight_mean": (E(-0.25) + 2) / 5},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_weights_and_metrics_match_hand_computation(name):
    config, weights, metrics = CASES[name]
    result = RolloutCorrection(**config)(OLD, ROLLOUT, MASK)
    expected = torch.tensor(weights, dtype=torch.float64)
    torch.testing.assert_close(result.weights, expected, rtol=1e-15, atol=0)
    assert torch.equal(result.keep, MASK.bool() & (expected > 0))
    assert sorted(result.metrics) == sorted(metrics)
    for key, value in metrics.items():
        assert float(result.metrics[key]) == pytest.approx(value, rel=1e-14, abs=1e-15), key
    assert not result.weights.requires_grad


ALL_ON = [
    dict(is_level="token"), dict(is_level="sequence"), dict(rs_level="token"), dict(rs_level="sequence"),
    dict(rs_level="geometric", rs_threshold=1.0001), dict(veto_threshold=0.999),
    dict(is_level="sequence", is_threshold=1.0, rs_level="geometric", rs_threshold=1.0, veto_threshold=0.9),
]


@pytest.mark.parametrize("config", ALL_ON, ids=str)
def test_on_policy_float32_data_gets_weights_exactly_one(config):
    generator = torch.Generator().manual_seed(0)
    log_probs = -torch.rand(16, 40, generator=generator) * 8  # float32, like the trainer's
    mask = (torch.arange(40)[None] < torch.randint(1, 41, (16, 1), generator=generator)).long()
    result = RolloutCorrection(**config)(log_probs, log_probs.clone(), mask)
    assert result.weights.dtype == torch.float32
    assert torch.equal(result.weights, mask.float())
    assert torch.equal(result.keep, mask.bool())
    for key, value in result.metrics.items():
        expected = 1.0 if key.endswith(("weight_mean", "ratio_mean")) else 0.0
        assert float(value) == expected, key


def test_a_huge_sequence_ratio_stays_finite_and_is_capped():
    old = torch.full((1, 4), -0.1)
    rollout = torch.full((1, 4), -30.1)  # Σ log ρ = 120: clamped to 20 before exp
    result = RolloutCorrection(is_level="sequence", is_threshold=5.0)(old, rollout, torch.ones(1, 4))
    assert torch.equal(result.weights, torch.full((1, 4), 5.0))
    assert float(result.metrics[P + "is_ratio_mean"]) == pytest.approx(E(20), rel=1e-6)


def test_off_by_default_and_built_from_config():
    assert not RolloutCorrection().enabled
    assert RolloutCorrection.from_config(None) == RolloutCorrection()
    section = OmegaConf.create({"is_level": "token", "is_threshold": 3, "rs_level": None, "rs_threshold": 2.0,
                                "rs_threshold_lower": None, "veto_threshold": 1e-4})
    built = RolloutCorrection.from_config(section)
    assert built.enabled and built.is_threshold == 3 and built.veto_threshold == 1e-4
    assert RolloutCorrection(rs_level="token", rs_threshold=4.0).rs_threshold_low == 0.25


@pytest.mark.parametrize("config, match", [
    (dict(is_level="geometric"), "is_level"),
    (dict(rs_level="tokens"), "rs_level"),
    (dict(is_level="token", is_threshold=0.9), "is_threshold"),
    (dict(rs_level="token", rs_threshold=0.9), "lower <= 1 <= upper"),
    (dict(rs_level="token", rs_threshold_lower=1.5), "lower <= 1 <= upper"),
    (dict(rs_level="token", rs_threshold_lower=0.0), "0 < lower"),
    (dict(veto_threshold=1.0), "veto_threshold"),
])
def test_bad_settings_name_the_key(config, match):
    with pytest.raises(ValueError, match=match):
        RolloutCorrection(**config)


def test_unknown_keys_are_refused():
    with pytest.raises(ValueError, match=r"unknown keys \['threshold'\]"):
        RolloutCorrection.from_config({"threshold": 2.0})


# ------------------------------------------------------------------ weights in the policy losses
ADVANTAGES = torch.tensor([[1.0, -2.0, 3.0], [0.5, 1.0, 9.0]])
WEIGHTS = torch.tensor([[2.0, 0.5, 0.0], [1.0, 3.0, 7.0]])  # padding weight 7 must not matter


@pytest.mark.parametrize("loss_mode", ["vanilla", "gspo"])
def test_token_weights_multiply_the_per_token_loss(loss_mode):
    """At ratio 1 (π = π_old) both losses are -A per token with gradient -A ∇log π; the weights scale both,
    and the token-mean normaliser stays 5 although one valid token has weight 0."""
    log_prob = torch.tensor([[-1.0, -2.0, -0.5], [-0.3, -1.5, 0.0]], requires_grad=True)
    loss, _ = compute_policy_loss(loss_mode, log_prob.detach(), log_prob, ADVANTAGES, MASK, "token-mean",
                                  token_weights=WEIGHTS)
    assert float(loss.detach()) == pytest.approx(-(2 * 1 + 0.5 * -2 + 0 + 1 * 0.5 + 3 * 1) / 5)
    loss.backward()
    torch.testing.assert_close(log_prob.grad, -WEIGHTS * ADVANTAGES * MASK / 5)


@pytest.mark.parametrize("loss_mode", ["vanilla", "gspo"])
def test_unit_weights_give_the_unweighted_loss_exactly(loss_mode):
    generator = torch.Generator().manual_seed(1)
    old, log_prob = -torch.rand(2, 3, generator=generator), -torch.rand(2, 3, generator=generator)
    plain, plain_metrics = compute_policy_loss(loss_mode, old, log_prob, ADVANTAGES, MASK, "seq-mean-token-mean")
    weighted, weighted_metrics = compute_policy_loss(loss_mode, old, log_prob, ADVANTAGES, MASK,
                                                     "seq-mean-token-mean", token_weights=torch.ones(2, 3))
    assert torch.equal(plain, weighted)
    assert all(torch.equal(plain_metrics[k], weighted_metrics[k]) for k in plain_metrics)


def test_a_plugin_loss_without_token_weights_refuses_them():
    @register_policy_loss("test_rollout_correction_plain", override=True)
    def plain(old_log_prob, log_prob, advantages, response_mask, loss_agg_mode, normalizer):
        return agg_loss(-advantages * log_prob, response_mask, loss_agg_mode, normalizer), {}

    args = (torch.zeros(2, 3), torch.zeros(2, 3), ADVANTAGES, MASK)
    compute_policy_loss("test_rollout_correction_plain", *args)  # fine without weights
    with pytest.raises(ValueError, match="token_weights.*algorithm.rollout_correction"):
        compute_policy_loss("test_rollout_correction_plain", *args, token_weights=WEIGHTS)
