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
    overrides = [KEY + "is_level=sequence", KEY + "is_threshold=5", KEY + "rs_level=geometric",
                 KEY + "rs_threshold=1.001", KEY + "veto_threshold=1e-4"]
    assert problems(*overrides) == []
    assert PolicyLoss.from_config(compose_config(overrides)).rollout_correction == RolloutCorrection(
        is_level="sequence", is_threshold=5, rs_level="geometric", rs_threshold=1.001, veto_threshold=1e-4)


@pytest.mark.parametrize("overrides, message", [
    ([KEY + "is_level=geometric"], "is_level='geometric' must be one of"),
    ([KEY + "rs_threshold=-1"], "rs_threshold=-1 must be a number > 0"),
    ([KEY + "rs_level=token", KEY + "rs_threshold_lower=1.5"], "must satisfy 0 < lower <= 1 <= upper"),
    ([KEY + "is_threshold=0.5"], "is_threshold=0.5 must be >= 1"),
    (["+" + KEY + "threshold=2"], r"unknown keys \['threshold'\]"),
])
def test_bad_settings_are_reported_with_the_key(overrides, message):
    (problem,) = problems(*overrides)
    assert KEY.rstrip(".") in problem
    assert re.search(message, problem), problem
