"""Token-level estimators built on (discounted) returns: REINFORCE++, ReMax and GAE.

They ignore groups (each response stands alone), so they work with one response per prompt.
Padding never leaks: rewards outside the mask are never summed and every output is 0 there.

Masks with holes (interior zeros, e.g. tool output between the turns of a multi-turn response) follow
verl 0.9.1's semantics on every valid token: a hole is not the model's action, so it neither adds its reward
nor ends the return. REINFORCE++ carries its running return across a hole to the earlier turn (one discount
step from the last token before the hole to the first after it), ReMax sums every valid reward to the end of
the response, and GAE carries V and the advantage over the hole to the next valid token. Only the trailing
padding starts from zero, because every row's backward scan does.
"""

from __future__ import annotations

import torch

from maxrl.algorithms.masked import masked_whiten
from maxrl.algorithms.registry import register_advantage


def _check_extra(name: str, key: str, value: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
        got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"{name}: extra input {key!r} must be a tensor of shape {shape}, got {got}")
    return value


def discounted_returns(token_level_rewards: torch.Tensor, response_mask: torch.Tensor,
                       gamma: float) -> torch.Tensor:
    """G_t = r_t + γ G_{t'} on valid tokens, t' the next valid token (G = 0 after the last one); a masked
    position adds nothing and leaves the running return as it is, and its own return is 0."""
    valid = response_mask.bool()
    returns = torch.zeros_like(token_level_rewards)
    running = torch.zeros_like(token_level_rewards[:, 0])
    for t in reversed(range(token_level_rewards.shape[1])):
        running = torch.where(valid[:, t], token_level_rewards[:, t] + gamma * running, running)
        returns[:, t] = torch.where(valid[:, t], running, 0.0)
    return returns


@register_advantage("reinforce_plus_plus")
def reinforce_plus_plus_advantage(token_level_rewards, response_mask, group_ids, gamma: float = 1.0):
    """Discounted return-to-go, whitened over all valid tokens of the batch; returns are unwhitened."""
    returns = discounted_returns(token_level_rewards, response_mask, gamma)
    return masked_whiten(returns, response_mask), returns


@register_advantage("remax", extra_inputs=("reward_baselines",))
def remax_advantage(token_level_rewards, response_mask, group_ids, reward_baselines=None):
    """Return-to-go minus the reward of the prompt's greedy response (`reward_baselines`, shape [B]).

    The return sums the valid rewards from each token to the end, across holes in the mask (verl's)."""
    baselines = _check_extra("remax", "reward_baselines", reward_baselines, (token_level_rewards.shape[0],))
    valid = response_mask.bool()
    valid_rewards = torch.where(valid, token_level_rewards, 0.0)
    returns = torch.where(valid, valid_rewards.flip(-1).cumsum(-1).flip(-1), 0.0)
    advantages = torch.where(response_mask.bool(), returns - baselines.to(returns.dtype).unsqueeze(-1), 0.0)
    return advantages, returns


@register_advantage("gae", extra_inputs=("values",))
def gae_advantage(token_level_rewards, response_mask, group_ids, values=None, gamma: float = 1.0,
                  lam: float = 1.0):
    """GAE(γ, λ) with critic `values` [B, L]: δ_t = r_t + γV_{t+1} - V_t, A_t = δ_t + γλA_{t+1}, where
    "t+1" is the next valid token (V = 0 after the last one). Returns = A + V; advantages are whitened."""
    values = _check_extra("gae", "values", values, tuple(token_level_rewards.shape))
    values = values.to(token_level_rewards.dtype)
    valid_tokens = response_mask.bool()
    advantages = torch.zeros_like(token_level_rewards)
    next_value = torch.zeros_like(values[:, 0])
    next_advantage = torch.zeros_like(values[:, 0])
    for t in reversed(range(token_level_rewards.shape[1])):
        delta = token_level_rewards[:, t] + gamma * next_value - values[:, t]
        advantage = delta + gamma * lam * next_advantage
        valid = valid_tokens[:, t]
        next_value = torch.where(valid, values[:, t], next_value)
        next_advantage = torch.where(valid, advantage, next_advantage)
        advantages[:, t] = torch.where(valid, advantage, 0.0)
    returns = torch.where(valid_tokens, advantages + values, 0.0)
    return masked_whiten(advantages, response_mask), returns

