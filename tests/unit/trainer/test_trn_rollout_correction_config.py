"""`algorithm.rollout_correction` from the composed config: off by default, checked before start-up, and
built into the update's `PolicyLoss`."""

import re

import pytest

from maxrl.algorithms import RolloutCorrection
from maxrl.config import compose_config
from maxrl.config.checks import check_rollout_correction, check_types
from maxrl.workers.policy_update import PolicyLoss

KEY = "algorithm.rollout_correction."


def problems(*overrides):
    config = compose_config(list(overrides))
    return [p for p in check_types(config) if "rollout_correction" in p] + list(check_rollout_correction(config))


def test_off_by_default():
    assert problems() == []
    assert PolicyLoss.from_config(compose_config([])).rollout_correction == RolloutCorrection()


def test_set_keys_reach_the_policy_loss():
    overrides = [KEY + "rollout_is=sequence", KEY + "rollout_is_threshold=5", KEY + "rollout_rs=seq_mean_k1",
                 KEY + "rollout_rs_threshold=1.001", KEY + "rollout_token_veto_threshold=1e-4"]
    assert problems(*overrides) == []
    assert PolicyLoss.from_config(compose_config(overrides)).rollout_correction == RolloutCorrection(
        rollout_is="sequence", rollout_is_threshold=5, rollout_rs="seq_mean_k1", rollout_rs_threshold=1.001,
        rollout_token_veto_threshold=1e-4)


def test_verl_threshold_strings_compose():
    """verl writes bounds as '<lower>_<upper>' strings and several modes comma-separated (quoted for Hydra)."""
    overrides = [KEY + "rollout_is=token", KEY + "rollout_is_threshold='0.5_5.0'",
                 KEY + "rollout_rs='token_k1,seq_mean_k1'", KEY + "rollout_rs_threshold='0.5_2.0,0.999_1.001'"]
    assert problems(*overrides) == []
    built = PolicyLoss.from_config(compose_config(overrides)).rollout_correction
    assert built == RolloutCorrection(rollout_is="token", rollout_is_threshold="0.5_5.0",
                                      rollout_rs="token_k1,seq_mean_k1", rollout_rs_threshold="0.5_2.0,0.999_1.001")


@pytest.mark.parametrize("overrides, message", [
    ([KEY + "rollout_is=geometric"], "rollout_is='geometric' must be one of"),
    ([KEY + "rollout_rs=token_k1", KEY + "rollout_rs_threshold=-1"], "must satisfy 0 < lower <= 1 <= upper"),
    ([KEY + "rollout_rs=token_k1", KEY + "rollout_rs_threshold='1.5_2'"], "must satisfy 0 < lower <= 1 <= upper"),
    ([KEY + "rollout_is_threshold=0.5"], "rollout_is_threshold=0.5: a cap must be >= 1"),
    ([KEY + "rollout_rs=geometric"], r"rollout_rs='geometric': choose null or one or more of"),
    (["+" + KEY + "threshold=2"], r"unknown keys \['threshold'\]"),
])
def test_bad_settings_are_reported_with_the_key(overrides, message):
    (problem,) = problems(*overrides)
    assert KEY.rstrip(".") in problem
    assert re.search(message, problem), problem


@pytest.mark.parametrize("old, new", [("is_level=token", "rollout_is"), ("rs_level=geometric", "rollout_rs"),
                                      ("rs_threshold=1.001", "rollout_rs_threshold"),
                                      ("veto_threshold=1e-4", "rollout_token_veto_threshold")])
def test_earlier_names_are_refused_naming_the_new_key(old, new):
    """maxrl's earlier names (and verl 0.7's rollout_rs_threshold_lower) still compose, so a script that sets
    one learns its replacement before anything starts."""
    (problem,) = problems(KEY + old)
    assert f"{KEY}{old.split('=')[0]}" in problem and f"renamed, use {new}" in problem, problem
