"""Response masks with interior zeros (multi-turn: tool output between turns) give verl 0.9.1's results on
every valid token, with dense (per-token) rewards. The expectations are worked out by hand from verl's
documented recursions:

* REINFORCE++: G_t = r_t + γ G_{t'} with t' the next valid token: a hole neither adds its reward nor resets
  the running return, which carries across it to the earlier turn; only the trailing padding starts from 0.
  Advantages are the returns whitened over valid tokens.
* ReMax: G_t = Σ_{s>=t} m_s r_s (holes skipped), advantage = G_t - baseline.
* GAE: V and the advantage carry over a hole to the next valid token.
* Outcome estimators (grpo, grpo_passk, rloo, opo, reinforce_plus_plus_baseline): the row's score is the sum
  of its rewards, broadcast to its valid tokens. verl sums every position of the row; its reward managers and
  its in-reward KL leave holes and padding at 0, so on the batches verl produces the two agree (maxrl ignores
  a reward outside the mask by construction; the golden tests check that on padding).

Outside the mask everything is 0 (verl leaves whatever its recursion produced there; no loss reads it).
"""

import math
import statistics

import pytest
import torch

from maxrl.algorithms import compute_advantage

# Row 1: turn [0, 1], a hole (tool output, its reward 5 is not the model's), turn [0, 2].
# Row 2: one turn, then padding.
REWARDS = torch.tensor([[0.0, 1.0, 5.0, 0.0, 2.0], [0.0, 3.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
MASK = torch.tensor([[1, 1, 0, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.float64)


def whitened(values: list[float]) -> list[float]:
    """(v - mean) / sqrt(unbiased variance + 1e-8), verl's masked_whiten on the listed valid tokens."""
    mean, variance = statistics.fmean(values), statistics.variance(values)
    return [(v - mean) / math.sqrt(variance + 1e-8) for v in values]


def on_mask(per_token_valid: list[float], mask: torch.Tensor) -> torch.Tensor:
    """The valid tokens' values (row-major order) put back into a [B, L] tensor, 0 elsewhere."""
    out = torch.zeros_like(mask)
    out[mask.bool()] = torch.tensor(per_token_valid, dtype=mask.dtype)
    return out


def test_reinforce_plus_plus_carries_the_return_across_a_hole():
    advantages, returns = compute_advantage("reinforce_plus_plus", REWARDS, MASK, ["p", "q"], gamma=0.5)
    # Row 1, second turn: G4 = 2, G3 = 0 + .5·2 = 1; the hole adds nothing and keeps 1: G1 = 1 + .5·1 = 1.5,
    # G0 = 0 + .5·1.5 = .75. Row 2: G1 = 3, G0 = 1.5.
    expected_returns = torch.tensor([[0.75, 1.5, 0.0, 1.0, 2.0], [1.5, 3.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(returns, expected_returns)
    # Valid returns [.75, 1.5, 1, 2, 1.5, 3]: mean 1.625, unbiased variance 3.21875 / 5 = .64375.
    std = math.sqrt(0.64375 + 1e-8)
    deviations = [[-0.875, -0.125, 0.0, -0.625, 0.375], [-0.125, 1.375, 0.0, 0.0, 0.0]]
    torch.testing.assert_close(advantages, torch.tensor(deviations, dtype=torch.float64) / std)


def test_reinforce_plus_plus_one_discount_step_across_a_hole():
    # The case of verl's fix (PR 7300's issue): [model token, tool token, model token], reward 1 at the end.
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 0, 1], [1, 1, 0]], dtype=torch.float64)
    _, returns = compute_advantage("reinforce_plus_plus", rewards, mask, ["p", "q"], gamma=0.5)
    torch.testing.assert_close(returns, torch.tensor([[0.5, 0.0, 1.0], [0.5, 1.0, 0.0]], dtype=torch.float64))


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


def test_gae_discounts_once_per_valid_token_across_a_hole():
    rewards = torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 0, 0, 1], [1, 1, 0, 0]], dtype=torch.float64)
    values = torch.tensor([[0.5, 7.0, 7.0, 0.25], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    _, returns = compute_advantage("gae", rewards, mask, ["p", "q"], values=values, gamma=0.5, lam=0.5)
    # t=3: δ = 1 - .25 = .75, A = .75. t=0 (next valid is t=3): δ = 0 + .5·.25 - .5 = -.375,
    # A = -.375 + .25·.75 = -.1875; returns = A + V: [.3125, -, -, 1].
    torch.testing.assert_close(returns, torch.tensor([[0.3125, 0, 0, 1.0], [0, 0, 0, 0]], dtype=torch.float64))


# Dense rewards on holed masks, holes and padding at 0 as verl's reward managers leave them. Two groups,
# rows interleaved: a = (a1, a2, a3) with scores 1.5, .5, 1 and b = (b1, b2) with scores 2, 1.
DENSE_ROWS = [  # (group, mask, rewards)
    ("a", [1, 1, 0, 0, 1, 1], [0.5, 0, 0, 0, 0, 1]),      # a1: score 1.5, 4 valid tokens
    ("b", [1, 1, 1, 1, 0, 0], [1, 0, 0, 1, 0, 0]),        # b1: score 2, 4 valid tokens
    ("a", [1, 0, 0, 1, 1, 0], [0, 0, 0, 0.25, 0.25, 0]),  # a2: score .5, 3 valid tokens
    ("b", [1, 0, 1, 0, 0, 0], [0, 0, 1, 0, 0, 0]),        # b2: score 1, 2 valid tokens
    ("a", [1, 1, 1, 0, 1, 0], [0.25, 0.25, 0, 0, 0.5, 0]),  # a3: score 1, 4 valid tokens
]
DENSE_MASK = torch.tensor([row[1] for row in DENSE_ROWS], dtype=torch.float64)
DENSE_REWARDS = torch.tensor([row[2] for row in DENSE_ROWS], dtype=torch.float64)
GROUPS = [row[0] for row in DENSE_ROWS]
SQRT_HALF = math.sqrt(0.5)  # group b's unbiased std; group a's is .5


def per_row(values: list[float]) -> torch.Tensor:
    """One value per row (DENSE_ROWS order) on each of its valid tokens."""
    return torch.tensor(values, dtype=torch.float64).unsqueeze(1) * DENSE_MASK


@pytest.mark.parametrize(
    ("name", "knobs", "expected"),
    [
        # (s - s̄) / (σ + ε): a: (±.5, 0) / .5; b: ±.5 / √.5.
        ("grpo", {}, [0.5 / (0.5 + 1e-6), 0.5 / (SQRT_HALF + 1e-6), -0.5 / (0.5 + 1e-6), -0.5 / (SQRT_HALF + 1e-6),
                      0.0]),
        ("grpo", {"norm_adv_by_std_in_grpo": False}, [0.5, 0.5, -0.5, -0.5, 0.0]),
        # N/(N-1)(s - s̄): a: 1.5·(.5, -.5, 0); b: 2·(.5, -.5).
        ("rloo", {}, [0.75, 1.0, -0.75, -1.0, 0.0]),
        # Only the best row: (best - runner-up) / (σ + ε): a1 (1.5 - 1) / .5, b1 (2 - 1) / √.5.
        ("grpo_passk", {}, [0.5 / (0.5 + 1e-6), 1.0 / (SQRT_HALF + 1e-6), 0.0, 0.0, 0.0]),
        # s - Σℓs/Σℓ over valid tokens ℓ (holes excluded): a: 11.5/11 = 23/22; b: 10/6 = 5/3.
        ("opo", {}, [1.5 - 23 / 22, 2 - 5 / 3, 0.5 - 23 / 22, 1 - 5 / 3, 1 - 23 / 22]),
    ],
)
def test_outcome_estimators_on_holed_masks_with_dense_rewards(name, knobs, expected):
    advantages, returns = compute_advantage(name, DENSE_REWARDS, DENSE_MASK, GROUPS, **knobs)
    torch.testing.assert_close(advantages, per_row(expected))
    torch.testing.assert_close(returns, advantages)


def test_reinforce_plus_plus_baseline_on_holed_masks_with_dense_rewards():
    advantages, _ = compute_advantage("reinforce_plus_plus_baseline", DENSE_REWARDS, DENSE_MASK, GROUPS)
    # s - s̄ per row (a1 .5, b1 .5, a2 -.5, b2 -.5, a3 0) on each valid token, whitened over the 17 valid tokens.
    counts = [4, 4, 3, 2, 4]
    centred = [0.5, 0.5, -0.5, -0.5, 0.0]
    tokens = [value for value, count in zip(centred, counts) for _ in range(count)]
    torch.testing.assert_close(advantages, on_mask(whitened(tokens), DENSE_MASK))


def test_reinforce_plus_plus_on_holed_masks_with_dense_rewards():
    advantages, returns = compute_advantage("reinforce_plus_plus", DENSE_REWARDS, DENSE_MASK, GROUPS, gamma=1.0)
    # γ = 1: each valid token's return is the sum of its row's rewards from it to the end, across holes.
    valid_returns = [
        1.5, 1, 1, 1,  # a1 at positions 0, 1, 4, 5
        2, 1, 1, 1,  # b1 at 0-3
        0.5, 0.5, 0.25,  # a2 at 0, 3, 4
        1, 1,  # b2 at 0, 2
        1, 0.75, 0.5, 0.5,  # a3 at 0, 1, 2, 4
    ]
    torch.testing.assert_close(returns, on_mask(valid_returns, DENSE_MASK))
    torch.testing.assert_close(advantages, on_mask(whitened(valid_returns), DENSE_MASK))
