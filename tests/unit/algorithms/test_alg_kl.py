"""KL estimators and coefficient controllers against hand-computed values."""

import math

import pytest
import torch

from maxrl.algorithms import AdaptiveKLController, FixedKLController, build_kl_controller, kl_penalty
from maxrl.config import compose_config

LOG_PROB = torch.tensor([0.0, -1.0, -30.0, 0.0])
REF = torch.tensor([-1.0, 0.0, 0.0, -30.0])  # Δ = log π - log π_ref = [1, -1, -30, 30]


@pytest.mark.parametrize("names,expected", [
    (("k1", "kl"), [1.0, -1.0, -30.0, 30.0]),
    (("abs",), [1.0, 1.0, 30.0, 30.0]),
    (("k2", "mse"), [0.5, 0.5, 450.0, 450.0]),
    # e^{-Δ} + Δ - 1; Δ = -30 -> e^{20} - 21 clamped to 10; Δ = 30 -> e^{-20} + 19 clamped to 10.
    (("k3", "low_var_kl"), [math.exp(-1.0), math.exp(1.0) - 2.0, 10.0, 10.0]),
])
def test_kl_types_golden(names, expected):
    for name in names:
        torch.testing.assert_close(kl_penalty(LOG_PROB, REF, name), torch.tensor(expected))


def test_low_var_kl_inner_clamp():
    # Δ = -15: not clamped inside, e^{15} - 16 > 10 -> 10; Δ = 2: e^{-2} + 1 = 1.1353 (no clamp).
    out = kl_penalty(torch.tensor([-15.0, 2.0]), torch.tensor([0.0, 0.0]), "low_var_kl")
    torch.testing.assert_close(out, torch.tensor([10.0, math.exp(-2.0) + 1.0]))


def test_unknown_kl_type():
    with pytest.raises(ValueError, match="kl_loss_type"):
        kl_penalty(LOG_PROB, REF, "full")


def test_fixed_controller():
    ctrl = FixedKLController(0.01)
    ctrl.update(current_kl=5.0, n_steps=100)
    assert ctrl.value == 0.01


def test_adaptive_controller_golden():
    ctrl = AdaptiveKLController(init_kl_coef=0.1, target_kl=0.5, horizon=10)
    ctrl.update(current_kl=1.0, n_steps=2)  # error clip(2 - 1) = 0.2 -> × (1 + 0.2·2/10)
    assert ctrl.value == pytest.approx(0.104)
    ctrl.update(current_kl=0.45, n_steps=5)  # error -0.1 -> × (1 - 0.1·5/10)
    assert ctrl.value == pytest.approx(0.104 * 0.95)


def kl_ctrl(*overrides):
    """The composed ``algorithm.kl_ctrl`` section (YAML defaults) with ``key=value`` `overrides`."""
    return compose_config([f"algorithm.kl_ctrl.{override}" for override in overrides]).algorithm.kl_ctrl


def test_build_kl_controller():
    default = build_kl_controller(kl_ctrl())
    assert isinstance(default, FixedKLController) and default.value == 0.001
    fixed = build_kl_controller(kl_ctrl("kl_coef=0.2"))
    assert isinstance(fixed, FixedKLController) and fixed.value == 0.2
    adaptive = build_kl_controller(kl_ctrl("type=adaptive", "kl_coef=0.3", "target_kl=1.0", "horizon=100"))
    assert isinstance(adaptive, AdaptiveKLController) and (adaptive.value, adaptive.target) == (0.3, 1.0)
    with pytest.raises(ValueError, match=r"algorithm\.kl_ctrl\.type"):
        build_kl_controller(kl_ctrl("type=pid"))
    with pytest.raises(ValueError, match="horizon"):
        build_kl_controller(kl_ctrl("type=adaptive", "horizon=0"))
