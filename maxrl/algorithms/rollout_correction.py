"""Rollout-training mismatch correction (``algorithm.rollout_correction``, verl 0.9's keys): importance weights
π_old / π_rollout on the policy-gradient loss, and rejection of tokens or sequences on which the two disagree.

The sampler (vLLM in bf16, a stale policy in an async pipeline) draws tokens from π_rollout, while the loss
treats them as drawn from the trainer's π_old (the old-log-prob pass, or the update's own detached log-probs
when that pass is skipped). Even on-policy the two differ numerically, and the gradient is then biased. With
ρ_t = π_old(y_t) / π_rollout(y_t), three independent ingredients build a detached per-token weight:

- importance sampling, ``rollout_is`` (token | sequence, the latter using Π_t ρ_t): w = min(ρ, u) with
  ``rollout_is_threshold=u`` (truncated IS), or with ``rollout_is_threshold='<lower>_<upper>'`` w = ρ inside
  [lower, upper] and 0 outside (IcePop);
- rejection sampling, ``rollout_rs``: one or more of ``token_k1``, ``seq_sum_k1``, ``seq_mean_k1``
  (comma-separated; every one must pass). Each bounds the k1 divergence of a token, k1_t = -log ρ_t =
  log π_rollout - log π_old, itself or its sum or mean over the sequence, to [log lower, log upper]
  (``rollout_rs_threshold='<lower>_<upper>'``, or one number u for [1/u, u]; one entry shared by every mode
  or one per mode, comma-separated); a token or sequence outside gets weight 0. In ratio terms ``token_k1``
  keeps π_rollout/π_old in [lower, upper], ``seq_mean_k1`` the geometric mean of that ratio;
- the veto, ``rollout_token_veto_threshold`` (verl 0.7's key; 0.9 has none): weight 0 on every token of a
  sequence holding any token with ρ_t below it.

Log-ratios are clamped to ±20 before ``exp``. Every kept range must contain 1 (and a cap be >= 1), so data
whose sampler and trainer log-probs agree exactly gets weights exactly 1 and the loss is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from maxrl.algorithms.masked import masked_mean, masked_sum

__all__ = ["IS_LEVELS", "RENAMED_KEYS", "RS_MODES", "Correction", "RolloutCorrection"]

IS_LEVELS = ("token", "sequence")
RS_MODES = ("token_k1", "seq_sum_k1", "seq_mean_k1")
LOG_RATIO_CLAMP = 20.0  # keeps exp(sequence log-ratio) finite in float32
PREFIX = "rollout_corr/"
KEY = "algorithm.rollout_correction."
# Earlier names under algorithm.rollout_correction (maxrl's own, and verl 0.7's lower bound): kept in the YAML as
# null so that a script setting one is refused with the key that replaces it.
RENAMED_KEYS = {
    "is_level": "rollout_is",
    "is_threshold": "rollout_is_threshold",
    "rs_level": "rollout_rs (token -> token_k1, sequence -> seq_sum_k1, geometric -> seq_mean_k1)",
    "rs_threshold": "rollout_rs_threshold",
    "rs_threshold_lower": "rollout_rs_threshold='<lower>_<upper>'",
    "rollout_rs_threshold_lower": "rollout_rs_threshold='<lower>_<upper>'",
    "veto_threshold": "rollout_token_veto_threshold",
}


class Correction(NamedTuple):
    """Per-token weights [N, R] (detached, 0 on rejected tokens and padding; float32, or float64 for
    float64 inputs), the kept valid tokens (response mask minus rejections) and scalar metrics, each a
    mean over valid tokens."""

    weights: torch.Tensor
    keep: torch.Tensor
    metrics: dict[str, torch.Tensor]


@dataclass(frozen=True)
class Bounds:
    lower: float
    upper: float

    def contains_one(self) -> bool:
        return 0 < self.lower <= 1 <= self.upper


def _bounds(spec: Any, key: str) -> Bounds:
    """``'<lower>_<upper>'`` or one number u (meaning [1/u, u])."""
    text = str(spec).strip()
    try:
        if "_" in text:
            lower, upper = (float(part) for part in text.split("_", 1))
            return Bounds(lower, upper)
        upper = float(text)
        return Bounds(1.0 / upper if upper > 0 else 0.0, upper)
    except ValueError:
        raise ValueError(f"{KEY}{key}={spec!r}: give a number or '<lower>_<upper>' (e.g. '0.5_2.0')") from None


def _rs_bounds(modes: str | None, spec: Any) -> dict[str, Bounds]:
    """{mode: its bounds} of ``rollout_rs`` and ``rollout_rs_threshold``."""
    if modes is None:
        return {}
    names = list(dict.fromkeys(part.strip() for part in str(modes).split(",") if part.strip()))
    unknown = [name for name in names if name not in RS_MODES]
    if unknown or not names:
        raise ValueError(f"{KEY}rollout_rs={modes!r}: choose null or one or more of {list(RS_MODES)}, "
                         "comma-separated (verl's k2, k3, max and binary_kl modes are not provided)")
    if spec is None:
        raise ValueError(f"{KEY}rollout_rs={modes!r} needs {KEY}rollout_rs_threshold, e.g. '0.5_2.0'")
    specs = [part for part in str(spec).split(",") if part.strip()]
    if len(specs) not in (1, len(names)):
        raise ValueError(f"{KEY}rollout_rs_threshold={spec!r}: give one entry for all {len(names)} modes of "
                         f"rollout_rs or one per mode")
    return {name: _bounds(one, "rollout_rs_threshold") for name, one in zip(names, specs * len(names))}


def _level_log_ratio(token_log_ratio: torch.Tensor, mask: torch.Tensor, level: str) -> torch.Tensor:
    """log ρ of each token (``token``), its sequence's sum (``sequence``/``sum``) or mean (``mean``),
    broadcast to every token of the sequence."""
    if level == "token":
        return token_log_ratio
    total = masked_sum(token_log_ratio, mask, dim=-1)
    if level == "mean":
        total = total / mask.sum(-1).clamp_min(1)
    return total.unsqueeze(-1).expand_as(token_log_ratio)


_RS_LEVEL = {"token_k1": "token", "seq_sum_k1": "sum", "seq_mean_k1": "mean"}


@dataclass(frozen=True)
class RolloutCorrection:
    """``algorithm.rollout_correction``; off (every weight 1, nothing computed) when ``rollout_is`` and
    ``rollout_rs`` are null and there is no veto."""

    rollout_is: str | None = None
    rollout_is_threshold: float | str = 2.0
    rollout_rs: str | None = None
    rollout_rs_threshold: float | str | None = None
    rollout_token_veto_threshold: float | None = None
    _is_bounds: Bounds = field(init=False, repr=False, compare=False)
    _icepop: bool = field(init=False, repr=False, compare=False)
    _rs: dict[str, Bounds] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.rollout_is not in (None, *IS_LEVELS):
            raise ValueError(f"{KEY}rollout_is={self.rollout_is!r}: choose null or one of {list(IS_LEVELS)}")
        is_bounds = _bounds(self.rollout_is_threshold, "rollout_is_threshold")
        icepop = "_" in str(self.rollout_is_threshold)
        if not (is_bounds.contains_one() if icepop else is_bounds.upper >= 1):
            raise ValueError(f"{KEY}rollout_is_threshold={self.rollout_is_threshold!r}: a cap must be >= 1 and "
                             "an IcePop range '<lower>_<upper>' must hold 1, so that tokens the sampler and "
                             "trainer agree on keep weight 1")
        rs = _rs_bounds(self.rollout_rs, self.rollout_rs_threshold)
        for mode, bounds in rs.items():
            if not bounds.contains_one():
                raise ValueError(f"{KEY}rollout_rs_threshold={self.rollout_rs_threshold!r} gives {mode} the range "
                                 f"[{bounds.lower:g}, {bounds.upper:g}]; it must satisfy 0 < lower <= 1 <= upper, "
                                 "so that tokens the sampler and trainer agree on are kept")
        veto = self.rollout_token_veto_threshold
        if veto is not None and not 0 < veto < 1:
            raise ValueError(f"{KEY}rollout_token_veto_threshold={veto} must be in (0, 1) or null")
        object.__setattr__(self, "_is_bounds", is_bounds)
        object.__setattr__(self, "_icepop", icepop)
        object.__setattr__(self, "_rs", rs)

    @classmethod
    def from_config(cls, section: Mapping | None) -> RolloutCorrection:
        """From the ``algorithm.rollout_correction`` mapping (None or absent keys: the defaults, i.e. off).
        A renamed key (`RENAMED_KEYS`) must be null or absent."""
        section = dict(section or {})
        for old, new in RENAMED_KEYS.items():
            if section.pop(old, None) is not None:
                raise ValueError(f"{KEY}{old} was renamed: use {KEY}{new} (docs/algorithms.md)")
        known = [name for name in cls.__dataclass_fields__ if not name.startswith("_")]
        unknown = set(section) - set(known)
        if unknown:
            raise ValueError(f"algorithm.rollout_correction has unknown keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**section)

    @property
    def enabled(self) -> bool:
        return self.rollout_is is not None or bool(self._rs) or self.rollout_token_veto_threshold is not None

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
        if self.rollout_is is not None:
            level = _level_log_ratio(token_log_ratio, mask, self.rollout_is)
            ratio = torch.exp(level.clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP))
            low, high = self._is_bounds.lower, self._is_bounds.upper
            if self._icepop:
                weights = torch.where((ratio >= low) & (ratio <= high), ratio, 0.0)
            else:
                weights = ratio.clamp(max=high)
            metrics[PREFIX + "rollout_is_mean"] = masked_mean(weights, mask)
            metrics[PREFIX + "rollout_is_ratio_fraction_high"] = masked_mean((ratio > high).to(dtype), mask)
            metrics[PREFIX + "rollout_is_ratio_fraction_low"] = masked_mean((ratio < low).to(dtype), mask)
        for mode, bounds in self._rs.items():
            k1 = _level_log_ratio(-token_log_ratio, mask, _RS_LEVEL[mode])
            keep = keep & (k1 >= math.log(bounds.lower)) & (k1 <= math.log(bounds.upper))
        if self.rollout_token_veto_threshold is not None:
            vetoed = (token_log_ratio < math.log(self.rollout_token_veto_threshold)) & mask
            keep = keep & ~vetoed.any(-1, keepdim=True)
        if self._rs or self.rollout_token_veto_threshold is not None:
            metrics[PREFIX + "rollout_rs_masked_fraction"] = masked_mean((mask & ~keep).to(dtype), mask)
        weights = torch.where(keep, weights, 0.0)
        metrics[PREFIX + "weight_mean"] = masked_mean(weights, mask)
        return Correction(weights, keep, metrics)
