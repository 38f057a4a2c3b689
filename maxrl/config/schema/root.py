"""The whole config: one section object per top-level key of ``ppo_trainer.yaml``."""

from __future__ import annotations

from dataclasses import dataclass

from maxrl.config.schema.actor_rollout_ref import ActorRolloutRefConfig
from maxrl.config.schema.algorithm import AlgorithmConfig
from maxrl.config.schema.critic import CriticConfig
from maxrl.config.schema.data import DataConfig
from maxrl.config.schema.fields import knob, positive_int, section
from maxrl.config.schema.reward import CustomRewardFunctionConfig, RewardModelConfig
from maxrl.config.schema.trainer import TrainerConfig


@dataclass
class RayInitConfig:
    num_cpus: int | None = knob("CPUs Ray may use when it starts a local cluster; null = all", positive_int)
    ray_dir: str | None = knob("Ray's temp/log folder (--temp-dir); null = Ray's default (/tmp/ray)")
    address: str | None = knob('address of a running cluster (e.g. "auto"); null = start a local one')


@dataclass
class MaxrlConfig:
    data: DataConfig = section(DataConfig, "the RL prompt data: parquet files, lengths, batch size")
    actor_rollout_ref: ActorRolloutRefConfig = section(
        ActorRolloutRefConfig, "the policy: model, training, rollout and reference"
    )
    critic: CriticConfig = section(CriticConfig, "the value model (built only for estimators that need values)")
    algorithm: AlgorithmConfig = section(
        AlgorithmConfig, "advantage estimator, KL in reward", open="the chosen estimator's knobs, directly under it"
    )
    reward_model: RewardModelConfig = section(RewardModelConfig, "reward manager and its kwargs")
    custom_reward_function: CustomRewardFunctionConfig = section(
        CustomRewardFunctionConfig, "your own scorer"
    )
    trainer: TrainerConfig = section(TrainerConfig, "steps, logging, checkpoints, devices")
    ray_init: RayInitConfig = section(RayInitConfig, "how the driver starts or joins Ray")
