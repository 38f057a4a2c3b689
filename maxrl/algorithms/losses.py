"""Policy-gradient losses (PPO clip, GSPO) and loss aggregation with an explicit normaliser.

Normaliser contract: `loss_normalizer(mask, mode)` is the denominator of one (mini-)batch: its number of
valid tokens for `token-mean`, its number of sequences (rows with at least one valid token) for the
`seq-mean-*` modes. A caller splitting a mini-batch into micro-batches (and ranks) sums the micro-batch
normalisers, passes that total to every micro-batch's `agg_loss`, and then the micro-batch losses add up
to the mini-batch loss exactly, whatever the micro-batch size. (If a data-parallel backend averages
gradients over ranks, multiply each rank's loss by the world size to keep the sum.)

`token_weights` (e.g. `maxrl.algorithms.rollout_correction`) multiply the per-token loss before aggregation;
they do not change the normaliser, so a token weighted 0 still counts in it.
"""

from __future__ import annotations

import torch

from maxrl.algorithms.masked import masked_mean, masked_sum
from maxrl.algorithms.registry import register_policy_loss

LOSS_AGG_MODES = ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm")
LOG_RATIO_CLAMP = 20.0  # keeps exp(log π - log π_old) finite for badly off-policy tokens


def _check_mode(loss_agg_mode: str) -> None:
    if loss_agg_mode not in LOSS_AGG_MODES:
        raise ValueError(f"unknown loss_agg_mode {loss_agg_mode!r} (actor_rollout_ref.actor.loss_agg_mode); "
                         f"choose one of {LOSS_AGG_MODES}")


def loss_normalizer(loss_mask: torch.Tensor, loss_agg_mode: str) -> torch.Tensor:
    """The batch's denominator as an exact int64 count: valid tokens (token-mean) or sequences with at
    least one valid token (seq-mean-*). Sum it over micro-batches (and all-reduce it over ranks)."""
    _check_mode(loss_agg_mode)
    valid = loss_mask.bool()
    return valid.sum() if loss_agg_mode == "token-mean" else valid.any(-1).sum()


def agg_loss(loss_mat: torch.Tensor, loss_mask: torch.Tensor, loss_agg_mode: str,
             normalizer: torch.Tensor | float | None = None) -> torch.Tensor:
    """Reduce a [B, L] per-token loss to a scalar.

    - token-mean:              Σ_i Σ_t m L / normaliser                      (normaliser = token count)
    - seq-mean-token-sum:      Σ_i Σ_t m L / normaliser                      (normaliser = sequence count)
    - seq-mean-token-mean:     Σ_i (Σ_t m L / Σ_t m) / normaliser            (normaliser = sequence count)
    - seq-mean-token-sum-norm: Σ_i Σ_t m L / (L_max · normaliser)            (normaliser = sequence count)
      where L_max = loss_mat.shape[-1], the padded response length (Dr.GRPO's constant); micro-batches of
      one mini-batch must share it (pad responses to max_response_length) for the sums to add up.

    `normalizer=None` uses this batch's own `loss_normalizer`. A normaliser of 0 (nothing valid) counts as 1.
    """
    _check_mode(loss_agg_mode)
    if normalizer is None:
        normalizer = loss_normalizer(loss_mask, loss_agg_mode)
    normalizer = torch.as_tensor(normalizer, dtype=loss_mat.dtype, device=loss_mat.device).clamp_min(1)
    if loss_agg_mode == "seq-mean-token-mean":
        lengths = loss_mask.to(loss_mat.dtype).sum(-1).clamp_min(1)
        return (masked_sum(loss_mat, loss_mask, dim=-1) / lengths).sum() / normalizer
    total = masked_sum(loss_mat, loss_mask)
    if loss_agg_mode == "seq-mean-token-sum-norm":
        return total / (loss_mat.shape[-1] * normalizer)
    return total / normalizer


def _clip_bounds(clip_ratio: float, clip_ratio_low: float | None, clip_ratio_high: float | None):
    low = clip_ratio if clip_ratio_low is None else clip_ratio_low
    high = clip_ratio if clip_ratio_high is None else clip_ratio_high
    if not 0 <= low < 1:
        raise ValueError(f"actor_rollout_ref.actor.clip_ratio_low must be in [0, 1), got {low}")
    if high < 0:
        raise ValueError(f"actor_rollout_ref.actor.clip_ratio_high must be >= 0, got {high}")
    return 1.0 - low, 1.0 + high


def _weighted(loss: torch.Tensor, token_weights: torch.Tensor | None) -> torch.Tensor:
    return loss if token_weights is None else loss * token_weights.detach().to(loss.dtype)


def _clipped_surrogate(ratio: torch.Tensor, advantages: torch.Tensor, lower: float, upper: float):
    """Pessimistic PPO surrogate max(-A ρ, -A clip(ρ)) and the mask of tokens where the clip is active."""
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(lower, upper)
    return torch.maximum(unclipped, clipped), clipped > unclipped


@register_policy_loss("vanilla")
def vanilla_policy_loss(old_log_prob, log_prob, advantages, response_mask, loss_agg_mode="token-mean",
                        normalizer=None, clip_ratio: float = 0.2, clip_ratio_low: float | None = None,
                        clip_ratio_high: float | None = None, clip_ratio_c: float = 3.0,
                        token_weights: torch.Tensor | None = None):
    """PPO clip with per-token ratio ρ = exp(clamp(log π - log π_old, ±20)), asymmetric clip range
    [1 - clip_ratio_low, 1 + clip_ratio_high], and dual clip: for A < 0 the loss is capped at -c·A."""
    lower, upper = _clip_bounds(clip_ratio, clip_ratio_low, clip_ratio_high)
    if not clip_ratio_c > 1.0:
        raise ValueError(f"actor_rollout_ref.actor.clip_ratio_c must be > 1 (dual clip), got {clip_ratio_c}")
    log_ratio = (log_prob - old_log_prob).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    surrogate, clip_active = _clipped_surrogate(torch.exp(log_ratio), advantages, lower, upper)
    dual_bound = -advantages * clip_ratio_c
    dual_active = (advantages < 0) & (surrogate > dual_bound)
    loss = torch.where(dual_active, dual_bound, surrogate)
    metrics = {
        "pg_clipfrac": masked_mean(clip_active.to(log_prob.dtype), response_mask).detach(),
        "pg_clipfrac_lower": masked_mean(dual_active.to(log_prob.dtype), response_mask).detach(),
        "ppo_kl": masked_mean(-log_ratio, response_mask).detach(),
    }
    return agg_loss(_weighted(loss, token_weights), response_mask, loss_agg_mode, normalizer), metrics


@register_policy_loss("gspo")
def gspo_policy_loss(old_log_prob, log_prob, advantages, response_mask, loss_agg_mode="token-mean",
                     normalizer=None, clip_ratio: float = 0.2, clip_ratio_low: float | None = None,
                     clip_ratio_high: float | None = None, token_weights: torch.Tensor | None = None):
    """GSPO: one ratio per sequence, s_i = exp(mean_t (log π - log π_old)), clipped like PPO.

    Each token carries s_i,t = sg(s_i) · π_t / sg(π_t): its value is s_i and its gradient s_i ∇log π_t.
    There is no dual clip, so `pg_clipfrac_lower` is 0. The GSPO paper pairs this with
    `seq-mean-token-mean` and a tiny clip range (clip_ratio_low=3e-4, clip_ratio_high=4e-4).
    """
    lower, upper = _clip_bounds(clip_ratio, clip_ratio_low, clip_ratio_high)
    token_log_ratio = log_prob - old_log_prob
    lengths = response_mask.to(log_prob.dtype).sum(-1).clamp_min(1)
    sequence_log_ratio = masked_sum(token_log_ratio, response_mask, dim=-1) / lengths
    log_ratio = sequence_log_ratio.detach().unsqueeze(-1) + log_prob - log_prob.detach()
    log_ratio = log_ratio.clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    loss, clip_active = _clipped_surrogate(torch.exp(log_ratio), advantages, lower, upper)
    metrics = {
        "pg_clipfrac": masked_mean(clip_active.to(log_prob.dtype), response_mask).detach(),
        "pg_clipfrac_lower": torch.zeros((), dtype=log_prob.dtype, device=log_prob.device),
        "ppo_kl": masked_mean(-token_log_ratio, response_mask).detach(),
    }
    return agg_loss(_weighted(loss, token_weights), response_mask, loss_agg_mode, normalizer), metrics
