"""``algorithm.*``: how rewards become advantages. The whole section is passed to the estimator as knobs, so
the chosen estimator's own knobs may be added with ``+algorithm.<knob>`` (`maxrl.config.added_keys`)."""

from __future__ import annotations

from dataclasses import dataclass

from maxrl.algorithms import KL_TYPES
from maxrl.config.schema.fields import (
    knob,
    non_negative,
    one_of,
    positive,
    positive_int,
    section,
    unit_interval,
)


@dataclass
class KlControlConfig:
    type: str = knob("fixed | adaptive (adjusts kl_coef toward target_kl)", one_of("fixed", "adaptive"))
    kl_coef: float = knob("initial in-reward KL coefficient", non_negative)
    target_kl: float = knob("adaptive: target KL per token")
    horizon: int = knob("adaptive: samples over which the coefficient adapts")


@dataclass
class RolloutCorrectionConfig:
    is_level: str | None = knob(
        "null (off) | token | sequence: truncated IS, loss x min(rho, is_threshold)", one_of(None, "token", "sequence")
    )
    is_threshold: float = knob("IS cap (>= 1); verl: rollout_is_threshold", positive)
    rs_level: str | None = knob(
        "null (off) | token | sequence | geometric: weight 0 where rho is outside [lower, upper]",
        one_of(None, "token", "sequence", "geometric"),
    )
    rs_threshold: float = knob("rejection upper bound (>= 1)", positive)
    rs_threshold_lower: float | None = knob("rejection lower bound (<= 1); null = 1 / rs_threshold", positive)
    veto_threshold: float | None = knob(
        "reject a whole sequence with any token rho_t below this (in (0, 1)); null = off", positive
    )


@dataclass
class AlgorithmConfig:
    adv_estimator: str = knob(
        "estimator name in maxrl.algorithms.ADVANTAGE_ESTIMATORS (maxrl, grpo, rloo, ...)"
    )
    norm_adv_by_std_in_grpo: bool = knob("grpo: divide by the group std (false = Dr.GRPO)")
    pass_k: int = knob("pkpo: the k of pass@k it optimises (ignored by maxrl)", positive_int)
    truncate_order: int = knob(
        "maclaurin family: order T of the truncated objective (ignored by maxrl)", positive_int
    )
    gamma: float = knob("discount (reinforce_plus_plus, gae)", unit_interval)
    lam: float = knob("GAE lambda", unit_interval)
    use_kl_in_reward: bool = knob(
        "subtract kl_ctrl.kl_coef * KL(policy || reference) from the token rewards"
    )
    kl_penalty: str = knob(
        "per-token KL estimator for that penalty: kl | abs | mse | low_var_kl", one_of(*KL_TYPES)
    )
    kl_ctrl: KlControlConfig = section(KlControlConfig, "the in-reward KL coefficient and its controller")
    rollout_correction: RolloutCorrectionConfig = section(
        RolloutCorrectionConfig,
        "sampler-vs-trainer weights rho = pi_old/pi_rollout on the policy loss (docs/algorithms.md)",
    )
