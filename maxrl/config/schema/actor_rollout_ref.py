"""``actor_rollout_ref.*``: the policy's model, training, rollout and frozen reference, in one process per device."""

from __future__ import annotations

from dataclasses import dataclass

from maxrl.config.schema.actor import ActorConfig
from maxrl.config.schema.fields import knob, positive_int, section
from maxrl.config.schema.model import ModelConfig
from maxrl.config.schema.rollout import RolloutConfig


@dataclass
class RefFsdpConfig:
    param_offload: bool = knob(
        "GPU: keep the reference's shards in CPU memory (FSDP2 CPUOffloadPolicy); CPU: no-op (warning)"
    )


@dataclass
class RefConfig:
    log_prob_micro_batch_size_per_gpu: int | None = knob(
        "samples per forward on one device; null = by log_prob_max_token_len_per_gpu", positive_int
    )
    log_prob_use_dynamic_bsz: bool = knob("micro-batches by token budget for this log-prob pass")
    log_prob_max_token_len_per_gpu: int = knob("its token budget: rows x longest row", positive_int)
    fsdp_config: RefFsdpConfig = section(RefFsdpConfig, "CPU offload of the reference")


@dataclass
class ActorRolloutRefConfig:
    hybrid_engine: bool = knob("actor, rollout and reference share one process per device (the only mode)")
    model: ModelConfig = section(ModelConfig, "the policy, a Hugging Face causal LM folder")
    actor: ActorConfig = section(ActorConfig, "the policy being trained (FSDP2)")
    rollout: RolloutConfig = section(RolloutConfig, "sampling responses with the actor's current weights")
    ref: RefConfig = section(
        RefConfig, "the frozen reference policy, created only when a KL term is on (actor.use_kl_loss or "
        "algorithm.use_kl_in_reward)"
    )
