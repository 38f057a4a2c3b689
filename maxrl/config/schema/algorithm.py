"""``algorithm.*``: how rewards become advantages. The whole section is passed to the estimator as knobs, so
the chosen estimator's own knobs may be added with ``+algorithm.<knob>`` (`maxrl.config.added_keys`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maxrl.algorithms import KL_TYPES
from maxrl.algorithms.rollout_correction import IS_LEVELS, RENAMED_KEYS
from maxrl.config.schema.fields import (
    knob,
    non_negative,
    non_negative_int,
    one_of,
    positive,
    positive_int,
    renamed,
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
class FilterGroupsConfig:
    enable: bool = knob(
        "drop zero-spread groups and draw data.gen_batch_size more prompts until data.train_batch_size groups remain"
    )
    metric: str = knob(
        "per-sample value compared within a group: acc | score | seq_reward | a numeric reward-extra field"
    )
    max_num_gen_batches: int = knob(
        "generation rounds allowed per step (0 = no limit); reaching it stops the run", non_negative_int
    )


@dataclass
class RolloutCorrectionConfig:
    rollout_is: str | None = knob(
        "null (off) | token | sequence: importance weights rho = pi_old/pi_rollout (sequence: the product), "
        "capped by rollout_is_threshold", one_of(None, *IS_LEVELS)
    )
    rollout_is_threshold: Any = knob(
        "IS cap u >= 1 (truncated IS), or '<lower>_<upper>' holding 1 (IcePop: weight 0 outside the range)"
    )
    rollout_rs: str | None = knob(
        "null (off) | token_k1 | seq_sum_k1 | seq_mean_k1, comma-separated: weight 0 where the k1 divergence "
        "log(pi_rollout/pi_old) (per token, or its sum or mean over the sequence) is outside "
        "[log lower, log upper]"
    )
    rollout_rs_threshold: Any = knob(
        "rejection bounds '<lower>_<upper>' (or u for [1/u, u]) holding 1; one entry, or one per rollout_rs mode"
    )
    rollout_token_veto_threshold: float | None = knob(
        "reject a whole sequence with any token rho_t below this (in (0, 1); verl 0.7's key); null = off", positive
    )
    is_level: Any = knob("renamed: use rollout_is", renamed(RENAMED_KEYS["is_level"]))
    is_threshold: Any = knob("renamed: use rollout_is_threshold", renamed(RENAMED_KEYS["is_threshold"]))
    rs_level: Any = knob("renamed: use rollout_rs", renamed(RENAMED_KEYS["rs_level"]))
    rs_threshold: Any = knob("renamed: use rollout_rs_threshold", renamed(RENAMED_KEYS["rs_threshold"]))
    rs_threshold_lower: Any = knob("renamed: use rollout_rs_threshold", renamed(RENAMED_KEYS["rs_threshold_lower"]))
    rollout_rs_threshold_lower: Any = knob("renamed: use rollout_rs_threshold", renamed(RENAMED_KEYS["rollout_rs_threshold_lower"]))
    veto_threshold: Any = knob("renamed: use rollout_token_veto_threshold", renamed(RENAMED_KEYS["veto_threshold"]))


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
    filter_groups: FilterGroupsConfig = section(
        FilterGroupsConfig,
        "DAPO's dynamic sampling, verl's keys (docs/trainer.md): groups whose metric has zero spread are dropped",
    )
    rollout_correction: RolloutCorrectionConfig = section(
        RolloutCorrectionConfig,
        "sampler-vs-trainer weights rho = pi_old/pi_rollout on the policy loss (docs/algorithms.md)",
    )
