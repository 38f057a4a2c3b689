"""Rollout correction against hand-computed weights, on-policy identity, config errors, weighted losses."""

import math
import re

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
P = "rollout_corr/"
IS_MEAN, HIGH, LOW = P + "rollout_is_mean", P + "rollout_is_ratio_fraction_high", P + "rollout_is_ratio_fraction_low"
RS, WEIGHT = P + "rollout_rs_masked_fraction", P + "weight_mean"
TOKEN_RATIOS = E(0.5) + E(-1) + E(1) + E(-0.25) + E(2)  # the 5 valid ρ_t

CASES = {  # name: (settings, weights, metrics); the kept tokens are the valid ones of weight > 0 unless KEPT says
    "token_tis": (
        dict(rollout_is="token", rollout_is_threshold=2.0),
        [[E(0.5), E(-1), 2.0], [E(-0.25), 2.0, 0.0]],
        {IS_MEAN: (E(0.5) + E(-1) + 2 + E(-0.25) + 2) / 5, HIGH: 2 / 5, LOW: 1 / 5,  # low: ρ < 1/2 (e^-1)
         WEIGHT: (E(0.5) + E(-1) + 2 + E(-0.25) + 2) / 5},
    ),
    "sequence_tis": (
        dict(rollout_is="sequence", rollout_is_threshold=2.0),
        [[E(0.5)] * 3, [2.0, 2.0, 0.0]],
        {IS_MEAN: (3 * E(0.5) + 4) / 5, HIGH: 2 / 5, LOW: 0.0, WEIGHT: (3 * E(0.5) + 4) / 5},
    ),
    "icepop": (  # ρ inside [0.5, 2] keeps its weight, outside gets 0; nothing is rejected
        dict(rollout_is="token", rollout_is_threshold="0.5_2.0"),
        [[E(0.5), 0.0, 0.0], [E(-0.25), 0.0, 0.0]],
        {IS_MEAN: (E(0.5) + E(-0.25)) / 5, HIGH: 2 / 5, LOW: 1 / 5, WEIGHT: (E(0.5) + E(-0.25)) / 5},
    ),
    "token_k1": (
        dict(rollout_rs="token_k1", rollout_rs_threshold=2.0),  # -log ρ in [log 1/2, log 2]: ρ in [0.5, 2]
        [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
        {RS: 3 / 5, WEIGHT: 2 / 5},
    ),
    "token_k1_bounds_the_inverse_ratio": (
        # -log ρ in [log 0.5, log 3]: π_rollout/π_old in [0.5, 3], i.e. ρ in [1/3, 2]: e^-1 = 0.37 is kept,
        # e^1 = 2.72 is not (bounds on ρ itself would do the opposite)
        dict(rollout_rs="token_k1", rollout_rs_threshold="0.5_3.0"),
        [[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]],
        {RS: 2 / 5, WEIGHT: 3 / 5},
    ),
    "seq_sum_k1": (
        dict(rollout_rs="seq_sum_k1", rollout_rs_threshold=2.0),  # e^0.5 kept, e^1.75 rejected
        [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
        {RS: 2 / 5, WEIGHT: 3 / 5},
    ),
    "seq_sum_k1_tight": (
        dict(rollout_rs="seq_sum_k1", rollout_rs_threshold=1.2),  # e^0.5 = 1.65 is now outside too
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        {RS: 1.0, WEIGHT: 0.0},
    ),
    "seq_mean_k1": (
        dict(rollout_rs="seq_mean_k1", rollout_rs_threshold=1.2),  # e^(1/6) = 1.18 kept, e^0.875 = 2.40 rejected
        [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
        {RS: 2 / 5, WEIGHT: 3 / 5},
    ),
    "two_modes_one_threshold_each": (  # token_k1 in [1/3, 3] drops only e^2; seq_mean_k1 then drops row 1
        dict(rollout_rs="token_k1, seq_mean_k1", rollout_rs_threshold="3.0,1.2"),
        [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
        {RS: 2 / 5, WEIGHT: 3 / 5},
    ),
    "token_is_with_token_k1": (  # IcePop-style masked IS: ρ kept with its weight inside [0.5, 2]
        dict(rollout_is="token", rollout_is_threshold=10.0, rollout_rs="token_k1", rollout_rs_threshold=2.0),
        [[E(0.5), 0.0, 0.0], [E(-0.25), 0.0, 0.0]],
        {IS_MEAN: TOKEN_RATIOS / 5, HIGH: 0.0, LOW: 0.0, RS: 3 / 5, WEIGHT: (E(0.5) + E(-0.25)) / 5},
    ),
    "veto_with_token_tis": (  # row 0 holds ρ = e^-1 < 0.5: the whole row goes; capping is counted before
        dict(rollout_is="token", rollout_is_threshold=2.0, rollout_token_veto_threshold=0.5),
        [[0.0, 0.0, 0.0], [E(-0.25), 2.0, 0.0]],
        {IS_MEAN: (E(0.5) + E(-1) + 2 + E(-0.25) + 2) / 5, HIGH: 2 / 5, LOW: 1 / 5, RS: 3 / 5,
         WEIGHT: (E(-0.25) + 2) / 5},
    ),
}
KEPT = {"icepop": MASK.bool()}  # IcePop zeroes weights without rejecting tokens


@pytest.mark.parametrize("name", list(CASES))
def test_weights_and_metrics_match_hand_computation(name):
    config, weights, metrics = CASES[name]
    result = RolloutCorrection(**config)(OLD, ROLLOUT, MASK)
    expected = torch.tensor(weights, dtype=torch.float64)
    torch.testing.assert_close(result.weights, expected, rtol=1e-15, atol=0)
    assert torch.equal(result.keep, KEPT.get(name, MASK.bool() & (expected > 0)))
    assert sorted(result.metrics) == sorted(metrics)
    for key, value in metrics.items():
        assert float(result.metrics[key]) == pytest.approx(value, rel=1e-14, abs=1e-15), key
    assert not result.weights.requires_grad


ALL_ON = [
    dict(rollout_is="token"), dict(rollout_is="sequence"), dict(rollout_is="token", rollout_is_threshold="1_1"),
    dict(rollout_rs="token_k1", rollout_rs_threshold=2.0), dict(rollout_rs="seq_sum_k1", rollout_rs_threshold=2.0),
    dict(rollout_rs="seq_mean_k1", rollout_rs_threshold=1.0001), dict(rollout_token_veto_threshold=0.999),
    dict(rollout_is="sequence", rollout_is_threshold=1.0, rollout_rs="token_k1,seq_sum_k1,seq_mean_k1",
         rollout_rs_threshold="1.0", rollout_token_veto_threshold=0.9),
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
        expected = 1.0 if key in (IS_MEAN, WEIGHT) else 0.0
        assert float(value) == expected, key


def test_a_huge_sequence_ratio_stays_finite_and_is_capped():
    old = torch.full((1, 4), -0.1)
    rollout = torch.full((1, 4), -30.1)  # Σ log ρ = 120: clamped to 20 before exp
    result = RolloutCorrection(rollout_is="sequence", rollout_is_threshold=5.0)(old, rollout, torch.ones(1, 4))
    assert torch.equal(result.weights, torch.full((1, 4), 5.0))
    assert float(result.metrics[HIGH]) == 1.0 and torch.isfinite(result.metrics[IS_MEAN])


def test_off_by_default_and_built_from_config():
    assert not RolloutCorrection().enabled
    assert RolloutCorrection.from_config(None) == RolloutCorrection()
    section = OmegaConf.create({"rollout_is": "token", "rollout_is_threshold": 3, "rollout_rs": None,
                                "rollout_rs_threshold": None, "rollout_token_veto_threshold": 1e-4,
                                "is_level": None, "veto_threshold": None})
    built = RolloutCorrection.from_config(section)
    assert built.enabled and built.rollout_is_threshold == 3 and built.rollout_token_veto_threshold == 1e-4


@pytest.mark.parametrize("old, new", [
    ("is_level", "rollout_is"), ("rs_level", "rollout_rs (token -> token_k1"), ("rs_threshold", "rollout_rs_threshold"),
    ("rs_threshold_lower", "rollout_rs_threshold='<lower>_<upper>'"),
    ("rollout_rs_threshold_lower", "rollout_rs_threshold='<lower>_<upper>'"),
    ("veto_threshold", "rollout_token_veto_threshold"),
])
def test_a_renamed_key_is_refused_naming_its_new_key(old, new):
    with pytest.raises(ValueError, match=re.escape(f"algorithm.rollout_correction.{old} was renamed: use "
                                                   f"algorithm.rollout_correction.{new}")):
        RolloutCorrection.from_config({old: "token"})


@pytest.mark.parametrize("config, match", [
    (dict(rollout_is="geometric"), "rollout_is='geometric'"),
    (dict(rollout_rs="tokens", rollout_rs_threshold=2.0), "rollout_rs='tokens'"),
    (dict(rollout_rs="token_k3", rollout_rs_threshold=2.0), "k2, k3, max and binary_kl modes are not provided"),
    (dict(rollout_rs="token_k1"), "needs algorithm.rollout_correction.rollout_rs_threshold"),
    (dict(rollout_is="token", rollout_is_threshold=0.9), "rollout_is_threshold=0.9"),
    (dict(rollout_is="token", rollout_is_threshold="1.5_2"), "must hold 1"),
    (dict(rollout_rs="token_k1", rollout_rs_threshold=0.9), "lower <= 1 <= upper"),
    (dict(rollout_rs="token_k1", rollout_rs_threshold="1.5_2.0"), "lower <= 1 <= upper"),
    (dict(rollout_rs="token_k1", rollout_rs_threshold="0_2"), "0 < lower"),
    (dict(rollout_rs="token_k1", rollout_rs_threshold="low_high"), "give a number or '<lower>_<upper>'"),
    (dict(rollout_rs="token_k1,seq_sum_k1", rollout_rs_threshold="2,3,4"), "one per mode"),
    (dict(rollout_token_veto_threshold=1.0), "rollout_token_veto_threshold"),
])
def test_bad_settings_name_the_key(config, match):
    with pytest.raises(ValueError, match=re.escape(match)):
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
