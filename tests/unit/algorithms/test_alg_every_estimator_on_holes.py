"""Every registered estimator on multi-turn masks (interior holes where the environment inserted tokens):
nothing reaches an inserted token, and an outcome estimator gives each generated token the advantage it
would give the same episode without holes (the outcome reward sits on the last generated token).
Estimators whose returns run over tokens (REINFORCE++, ReMax, GAE) have their hole rules in
`test_alg_holed_masks.py`."""

import pytest
import torch

from maxrl.algorithms import ADVANTAGE_ESTIMATORS, compute_advantage, get_advantage_spec

TOKEN_LEVEL = {"reinforce_plus_plus", "remax", "gae"}
GROUPS = ["a", "a", "a", "a", "b", "b", "b", "b"]
SCORES = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0], dtype=torch.float64)


def holed_and_contiguous(length=10):
    """Masks with the same number of generated tokens per row: with holes at varied places, and contiguous."""
    generator = torch.Generator().manual_seed(0)
    holed = torch.ones(len(GROUPS), length, dtype=torch.float64)
    contiguous = torch.zeros_like(holed)
    for row in range(len(GROUPS)):
        start = int(torch.randint(1, 4, (1,), generator=generator))
        holed[row, start:start + 2] = 0  # two inserted tokens after the first model turn
        holed[row, length - row % 3:] = 0  # trailing padding of varied length
        contiguous[row, : int(holed[row].sum())] = 1
    return holed, contiguous


def outcome_rewards(mask):
    rewards = torch.zeros_like(mask)
    last = torch.where(mask.bool(), torch.arange(mask.shape[1]), -1).max(dim=-1).values
    rewards[torch.arange(len(mask)), last] = SCORES
    return rewards


def extras(name, mask):
    needs = get_advantage_spec(name).extra_inputs
    values = {"values": torch.linspace(0, 1, mask.numel(), dtype=torch.float64).view_as(mask),
              "reward_baselines": torch.full((len(mask),), 0.5, dtype=torch.float64)}
    return {key: values[key] for key in needs}


@pytest.mark.parametrize("name", sorted(ADVANTAGE_ESTIMATORS))
def test_nothing_reaches_an_inserted_token(name):
    holed, _ = holed_and_contiguous()
    advantages, returns = compute_advantage(name, outcome_rewards(holed), holed, GROUPS, **extras(name, holed))
    assert advantages[holed == 0].abs().max() == 0 and returns[holed == 0].abs().max() == 0


@pytest.mark.parametrize("name", sorted(set(ADVANTAGE_ESTIMATORS) - TOKEN_LEVEL))
def test_outcome_estimators_see_through_the_holes(name):
    holed, contiguous = holed_and_contiguous()
    with_holes, _ = compute_advantage(name, outcome_rewards(holed), holed, GROUPS)
    without, _ = compute_advantage(name, outcome_rewards(contiguous), contiguous, GROUPS)
    for row in range(len(GROUPS)):
        torch.testing.assert_close(with_holes[row][holed[row].bool()], without[row][contiguous[row].bool()])
