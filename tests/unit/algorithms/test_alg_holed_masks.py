"""Response masks with interior zeros (multi-turn: tool output between turns) give verl's results on every
valid token. The expectations are worked out by hand from verl's documented recursions:

* REINFORCE++: G_t = r_t + γ G_{t+1}, and the running return is zeroed after a masked position, so a turn
  sees only the rewards up to the next hole; advantages are the returns whitened over valid tokens.
* ReMax: G_t = Σ_{s>=t} m_s r_s (holes skipped, no restart), advantage = G_t - baseline.

Outside the mask everything is 0 (verl leaves whatever its recursion produced there; no loss reads it).
"""

import math

import torch

from maxrl.algorithms import compute_advantage

# Row 1: turn [0, 1], a hole (tool output, its reward 5 is not the model's), turn [0, 2].
# Row 2: one turn, then padding.
REWARDS = torch.tensor([[0.0, 1.0, 5.0, 0.0, 2.0], [0.0, 3.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
MASK = torch.tensor([[1, 1, 0, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.float64)


def test_reinforce_plus_plus_restarts_at_a_hole():
    advantages, returns = compute_advantage("reinforce_plus_plus", REWARDS, MASK, ["p", "q"], gamma=0.5)
    # Row 1, second turn: G4 = 2, G3 = 0 + .5·2 = 1; the hole resets: G1 = 1, G0 = .5. Row 2: G1 = 3, G0 = 1.5.
    expected_returns = torch.tensor([[0.5, 1.0, 0.0, 1.0, 2.0], [1.5, 3.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(returns, expected_returns)
    valid = [0.5, 1.0, 1.0, 2.0, 1.5, 3.0]  # mean 1.5, unbiased variance (1 + .25 + .25 + .25 + 0 + 2.25)/5 = .8
    std = math.sqrt(0.8 + 1e-8)
    expected = torch.tensor([[-1.0, -0.5, 0.0, -0.5, 0.5], [0.0, 1.5, 0.0, 0.0, 0.0]], dtype=torch.float64) / std
    assert len(valid) == int(MASK.sum())
    torch.testing.assert_close(advantages, expected)


def test_remax_sums_across_a_hole():
    baselines = torch.tensor([1.0, 0.5], dtype=torch.float64)
    advantages, returns = compute_advantage("remax", REWARDS, MASK, ["p", "q"], reward_baselines=baselines)
    # Row 1: the first turn sees the second turn's reward (2), never the hole's (5): G = [3, 3, -, 2, 2].
    expected_returns = torch.tensor([[3.0, 3.0, 0.0, 2.0, 2.0], [3.0, 3.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(returns, expected_returns)
    expected = torch.tensor([[2.0, 2.0, 0.0, 1.0, 1.0], [2.5, 2.5, 0.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(advantages, expected)


def test_gae_skips_a_hole():
    values = torch.tensor([[0.5, 0.25, 9.0, 0.5, 1.0], [0.0, 1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    advantages, returns = compute_advantage("gae", REWARDS, MASK, ["p", "q"], values=values, gamma=1.0, lam=1.0)
    # γ = λ = 1 and V carried over the hole: A_t = G_t - V_t with G summed across the hole (the hole's value 9
    # and reward 5 never enter): row 1 G = [3, 3, -, 2, 2].
    expected_returns = torch.tensor([[3.0, 3.0, 0.0, 2.0, 2.0], [3.0, 3.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(returns, expected_returns)
    raw = expected_returns - values * MASK
    mean = raw[MASK.bool()].mean()
    std = raw[MASK.bool()].std()
    torch.testing.assert_close(advantages, (raw - mean) / torch.sqrt(std**2 + 1e-8) * MASK)
