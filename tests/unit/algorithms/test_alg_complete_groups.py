"""Complete groups only: every estimator whose advantages compare the samples of a prompt refuses a group
that does not hold the configured n samples, naming the prompt uid and the count; MaxRL's reward range."""

import logging

import pytest
import torch

from maxrl.algorithms import ADVANTAGE_ESTIMATORS, compute_advantage, get_advantage_spec
from maxrl.algorithms.advantages import maxrl as maxrl_module

GROUP_ESTIMATORS = sorted(name for name in ADVANTAGE_ESTIMATORS if get_advantage_spec(name).uses_groups)


def test_the_group_estimators_are_the_ones_that_compare_samples_of_a_prompt():
    assert {"maxrl", "grpo", "grpo_passk", "rloo", "opo", "reinforce_plus_plus_baseline", "pkpo", "vr_cond",
            "maclaurin", "cross_fitted_maclaurin", "oversample_subset_vr"} <= set(GROUP_ESTIMATORS)
    assert not {"gae", "remax", "reinforce_plus_plus"} & set(GROUP_ESTIMATORS)


def _batch(group_sizes):
    ids = [f"p{g}" for g, size in enumerate(group_sizes) for _ in range(size)]
    rewards = torch.tensor([[float(i % 2)] for i in range(len(ids))])
    return rewards, torch.ones_like(rewards), ids


@pytest.mark.parametrize("name", GROUP_ESTIMATORS)
def test_an_incomplete_group_is_refused_naming_its_uid_and_count(name):
    rewards, mask, ids = _batch([4, 3, 4])
    with pytest.raises(ValueError, match=r"rollout\.n=4 .* prompt uid 'p1' has 3 \(1 incomplete group"):
        compute_advantage(name, rewards, mask, ids, group_size=4)


@pytest.mark.parametrize("name", GROUP_ESTIMATORS)
def test_complete_groups_pass_and_give_the_unchecked_advantages(name):
    rewards, mask, ids = _batch([4, 4])
    checked, _ = compute_advantage(name, rewards, mask, ids, group_size=4)
    unchecked, _ = compute_advantage(name, rewards, mask, ids)
    assert torch.equal(checked, unchecked)


def test_an_estimator_without_groups_ignores_the_group_size():
    rewards, mask, ids = _batch([4, 3])
    advantages, _ = compute_advantage("reinforce_plus_plus", rewards, mask, ids, group_size=4)
    assert advantages.shape == rewards.shape


def test_maxrl_warns_once_about_non_binary_rewards(caplog, monkeypatch):
    monkeypatch.setattr(maxrl_module, "_warned_non_binary", [])
    rewards = torch.tensor([[1.0], [0.25], [0.0], [1.0]])
    with caplog.at_level(logging.WARNING, logger=maxrl_module.__name__):
        compute_advantage("maxrl", rewards, torch.ones_like(rewards), ["a", "a", "b", "b"])
        compute_advantage("maxrl", rewards, torch.ones_like(rewards), ["a", "a", "b", "b"])
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert "row 1 has 0.25" in warnings[0] and "log E[r]" in warnings[0]


def test_maxrl_does_not_warn_about_binary_rewards(caplog, monkeypatch):
    monkeypatch.setattr(maxrl_module, "_warned_non_binary", [])
    rewards = torch.tensor([[1.0], [0.0], [0.0], [1.0]])
    with caplog.at_level(logging.WARNING, logger=maxrl_module.__name__):
        compute_advantage("maxrl", rewards, torch.ones_like(rewards), ["a", "a", "b", "b"])
    assert not caplog.records
