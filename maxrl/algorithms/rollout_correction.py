"""Rollout-training mismatch correction: importance weights π_old / π_rollout on the policy-gradient loss.

The sampler (vLLM in bf16, a stale policy in an async pipeline) draws tokens from π_rollout, while the loss
treats them as drawn from the trainer's π_old (the old-log-prob pass, or the update's own detached log-probs
when that pass is skipped). Even on-policy the two differ numerically, and the gradient is then biased. Two
independent ingredients correct it, each at a chosen level of the ratio ρ = π_old / π_rollout:

- importance sampling (IS): every token's loss is multiplied by w = min(ρ, is_threshold) (truncated IS);
- rejection sampling (RS): tokens or whole sequences whose ρ lies outside [rs_threshold_lower, rs_threshold]
  get weight 0; the veto rejects a sequence holding any token with ρ_t < veto_threshold.

Levels: ``token`` uses ρ_t; ``sequence`` uses Π_t ρ_t (the sum of token log-ratios); ``geometric`` (RS only)
uses (Π_t ρ_t)^(1/|y|), the mean log-ratio. The kept range must contain 1 and the cap must be >= 1, so
data whose sampler and trainer log-probs agree exactly gets weights exactly 1 and the loss is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import torch

from maxrl.algorithms.masked import masked_mean, masked_sum

__all__ = ["IS_LEVELS", "RS_LEVELS", "Correction", "RolloutCorrection"]

IS_LEVELS = ("token", "sequence")
RS_LEVELS = ("token", "sequence", "geometric")
LOG_RATIO_CLAMP = 20.0  # keeps exp(sequence log-ratio) finite in float32
PREFIX = "rollout_correction/"


class Correction(NamedTuple):
    """Per-token weights [N, R] (detached, 0 on rejected tokens and padding; float32, or float64 for
    float64 inputs), the kept valid tokens (response mask minus rejections) and scalar metrics, each a
    mean over valid tokens."""

    weights: torch.Tensor
    keep: torch.Tensor
    metrics: dict[str, torch.Tensor]


def _level_log_ratio(token_log_ratio: torch.Tensor, mask: torch.Tensor, level: str) -> torch.Tensor:
    """log ρ at `level`, broadcast to every token of its sequence."""
    if level == "token":
        return token_log_ratio
    total = masked_sum(token_log_ratio, mask, dim=-1)
    if level == "geometric":
        total = total / mask.sum(-1).clamp_min(1)
    return total.unsqueeze(-1).expand_as(token_log_ratio)


def _ratio(token_log_ratio: torch.Tensor, mask: torch.Tensor, level: str) -> torch.Tensor:
    return torch.exp(_level_log_ratio(token_log_ratio, mask, level).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP))


@dataclass(frozen=True)
class RolloutCorrection:
    """``algorithm.rollout_correction``; off (every weight 1, nothing computed) when both levels are null
    and there is no veto."""

    is_level: str | None = None
    is_threshold: float = 2.0
    rs_level: str | None = None
    rs_threshold: float = 2.0
    rs_threshold_lower: float | None = None  # None: 1 / rs_threshold
    veto_threshold: float | None = None

    def __post_init__(self):
        key = "algorithm.rollout_correction."
        if self.is_level not in (None, *IS_LEVELS):
            raise ValueError(f"{key}is_level={self.is_level!r}: choose null or one of {list(IS_LEVELS)}")
        if self.rs_level not in (None, *RS_LEVELS):
            raise ValueError(f"{key}rs_level={self.rs_level!r}: choose null or one of {list(RS_LEVELS)}")
        if not self.is_threshold >= 1:
            raise ValueError(f"{key}is_threshold={self.is_threshold} must be >= 1 (a cap below 1 would "
                             "down-weight tokens the sampler and trainer agree on)")
        if not 0 < self.rs_threshold_low <= 1 <= self.rs_threshold:
            raise ValueError(f"{key}rs_threshold_lower={self.rs_threshold_low} and rs_threshold="
                             f"{self.rs_threshold} must satisfy 0 < lower <= 1 <= upper, so that "
                             "tokens the sampler and trainer agree on are kept")
        if self.veto_threshold is not None and not 0 < self.veto_threshold < 1:
            raise ValueError(f"{key}veto_threshold={self.veto_threshold} must be in (0, 1) or null")

    @classmethod
    def from_config(cls, section: Mapping | None) -> RolloutCorrection:
        """From the ``algorithm.rollout_correction`` mapping (None or absent keys: the defaults, i.e. off)."""
        section = dict(section or {})
        unknown = set(section) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"algorithm.rollout_correction has unknown keys {sorted(unknown)}; known: "
                             f"{sorted(cls.__dataclass_fields__)}")
        return cls(**section)

    @property
    def enabled(self) -> bool:
        return self.is_level is not None or self.rs_level is not None or self.veto_threshold is not None

    @property
    def rs_threshold_low(self) -> float:
        return 1.0 / self.rs_threshold if self.rs_threshold_lower is None else self.rs_threshold_lower

    @torch.no_grad()
    def __call__(self, old_log_prob: torch.Tensor, rollout_log_prob: torch.Tensor,
                 response_mask: torch.Tensor) -> Correction:
        """Weights for the per-token policy-gradient loss from the trainer's (`old_log_prob`) and the
        sampler's (`rollout_log_prob`) log-probs of the same tokens, all [N, R]."""
        mask = response_mask.bool()
        dtype = torch.promote_types(torch.result_type(old_log_prob, rollout_log_prob), torch.float32)
        token_log_ratio = torch.where(mask, old_log_prob.to(dtype) - rollout_log_prob.to(dtype), 0.0)
        weights = torch.ones_like(token_log_ratio)
        keep = mask
        metrics: dict[str, torch.Tensor] = {}
        if self.is_level is not None:
            ratio = _ratio(token_log_ratio, mask, self.is_level)
            weights = ratio.clamp(max=self.is_threshold)
            metrics[PREFIX + "is_ratio_mean"] = masked_mean(ratio, mask)
            metrics[PREFIX + "capped_fraction"] = masked_mean((ratio > self.is_threshold).to(dtype), mask)
        if self.rs_level is not None:
            ratio = _ratio(token_log_ratio, mask, self.rs_level)
            keep = keep & (ratio >= self.rs_threshold_low) & (ratio <= self.rs_threshold)
        if self.veto_threshold is not None:
            vetoed = (token_log_ratio < math.log(self.veto_threshold)) & mask
            keep = keep & ~vetoed.any(-1, keepdim=True)
        if self.rs_level is not None or self.veto_threshold is not None:
            metrics[PREFIX + "rejected_fraction"] = masked_mean((mask & ~keep).to(dtype), mask)
        weights = torch.where(keep, weights, 0.0)
        metrics[PREFIX + "weight_mean"] = masked_mean(weights, mask)
        return Correction(weights, keep, metrics)
