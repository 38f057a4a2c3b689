"""Per-token KL estimators between the policy and a reference, and KL-coefficient controllers.

With Δ = log π - log π_ref on tokens sampled from π:
- `k1` / `kl`:  Δ                      (unbiased for KL(π‖π_ref), high variance, can be negative)
- `abs`:        |Δ|
- `k2` / `mse`: Δ² / 2
- `k3` / `low_var_kl`: e^{-Δ} + Δ - 1    (unbiased, always ≥ 0; Δ clamped to ±20, result to ±10)
"""

from __future__ import annotations

import torch

KL_TYPES = ("k1", "kl", "abs", "k2", "mse", "k3", "low_var_kl")


def kl_penalty(log_prob: torch.Tensor, ref_log_prob: torch.Tensor, kl_type: str) -> torch.Tensor:
    """Elementwise KL estimate (same shape as the inputs)."""
    delta = log_prob - ref_log_prob
    if kl_type in ("k1", "kl"):
        return delta
    if kl_type == "abs":
        return delta.abs()
    if kl_type in ("k2", "mse"):
        return 0.5 * delta.square()
    if kl_type in ("k3", "low_var_kl"):
        reverse = (-delta).clamp(-20.0, 20.0)
        return (torch.exp(reverse) - reverse - 1.0).clamp(-10.0, 10.0)
    raise ValueError(f"unknown KL type {kl_type!r} (actor_rollout_ref.actor.kl_loss_type or "
                     f"algorithm.kl_penalty); choose one of {KL_TYPES}")


class FixedKLController:
    """A constant KL coefficient."""

    def __init__(self, kl_coef: float):
        self.value = float(kl_coef)

    def update(self, current_kl: float, n_steps: int) -> None:
        """Nothing to adapt."""


class AdaptiveKLController:
    """Proportional controller (Ziegler et al., 2019) steering the measured KL towards `target_kl`:
    β ← β · (1 + clip(KL/target - 1, -0.2, 0.2) · n_steps / horizon)."""

    def __init__(self, init_kl_coef: float, target_kl: float, horizon: int):
        if target_kl <= 0 or horizon <= 0:
            raise ValueError("algorithm.kl_ctrl.target_kl and algorithm.kl_ctrl.horizon must be > 0 for the "
                             f"adaptive controller, got target_kl={target_kl}, horizon={horizon}")
        self.value = float(init_kl_coef)
        self.target = float(target_kl)
        self.horizon = int(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon


def build_kl_controller(cfg) -> FixedKLController | AdaptiveKLController:
    """From the `algorithm.kl_ctrl` section: type (fixed|adaptive), kl_coef, target_kl, horizon."""
    kind = cfg.type
    if kind == "fixed":
        return FixedKLController(cfg.kl_coef)
    if kind == "adaptive":
        return AdaptiveKLController(cfg.kl_coef, cfg.target_kl, cfg.horizon)
    raise ValueError(f"algorithm.kl_ctrl.type must be 'fixed' or 'adaptive', got {kind!r}")
