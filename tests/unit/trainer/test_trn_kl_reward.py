"""The in-reward KL penalty with golden values, and the adaptive controller moving beta."""

import math

import pytest
import torch

from maxrl.algorithms import AdaptiveKLController, FixedKLController
from maxrl.trainer.kl_reward import kl_penalized_rewards


def test_fixed_penalty_golden():
    scores = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    old = torch.tensor([[-1.0, -2.0, -9.0], [-1.0, -1.0, -1.0]])
    ref = torch.tensor([[-1.5, -1.0, 0.0], [-1.0, -1.0, -2.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    rewards, metrics = kl_penalized_rewards(scores, old, ref, mask, "kl", FixedKLController(0.1))
    # k1 = old - ref on valid tokens: [0.5, -1.0, (masked)] and [0, 0, 1]
    expected = torch.tensor([[-0.05, 1.1, 0.0], [0.0, 0.0, -0.1]])
    assert torch.allclose(rewards, expected)
    assert metrics["actor/reward_kl_penalty"] == pytest.approx(((0.5 - 1.0) / 2 + 1.0 / 3) / 2)
    assert metrics["actor/reward_kl_penalty_coeff"] == 0.1


def test_adaptive_controller_raises_beta_when_kl_exceeds_the_target():
    controller = AdaptiveKLController(init_kl_coef=0.1, target_kl=0.01, horizon=10)
    ones = torch.ones(2, 2)
    _, metrics = kl_penalized_rewards(torch.zeros(2, 2), ones, ones - 1.0, ones, "kl", controller)
    assert metrics["actor/reward_kl_penalty"] == pytest.approx(1.0)
    assert metrics["actor/reward_kl_penalty_coeff"] == 0.1  # the beta used for this step
    assert controller.value == pytest.approx(0.1 * (1 + 0.2 * 2 / 10))  # error clipped at +0.2, 2 samples
    assert math.isfinite(controller.value)
