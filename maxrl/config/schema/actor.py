"""``actor_rollout_ref.actor.*``: the policy being trained (FSDP2 over trainer.nnodes x trainer.n_gpus_per_node ranks)."""

from __future__ import annotations

from dataclasses import dataclass

from maxrl.algorithms import KL_TYPES, LOSS_AGG_MODES
from maxrl.config.schema.fields import (
    above,
    deprecated,
    equals,
    knob,
    non_negative,
    one_of,
    positive,
    positive_int,
    section,
)
from maxrl.config.schema.training import DTYPES, STRATEGIES, CheckpointConfig, FsdpConfig, OptimConfig

RECOMPUTE_OLD_LOG_PROB_MODES = ("auto", "always")  # see maxrl.trainer.old_log_probs
NO_SEQUENCE_PARALLEL = equals(1, "sequence parallelism is not supported")


@dataclass
class PolicyLossConfig:
    loss_mode: str = knob("vanilla (PPO clip) | gspo (sequence-level ratio)")


@dataclass
class ActorConfig:
    strategy: str = knob("parameter sharding (fsdp2 = torch fully_shard; the only strategy)", one_of(*STRATEGIES))
    dtype: str = knob("compute dtype of the FSDP mixed-precision policy: fp32 | bf16 | fp16", one_of(*DTYPES))
    ppo_mini_batch_size: int = knob(
        "prompts per optimizer step (x rollout.n samples, split over ranks)", positive_int
    )
    ppo_micro_batch_size: int | None = knob(
        "deprecated global micro-batch; use ppo_micro_batch_size_per_gpu", deprecated("ppo_micro_batch_size_per_gpu")
    )
    ppo_micro_batch_size_per_gpu: int | None = knob(
        "samples per forward/backward on one device; null = by ppo_max_token_len_per_gpu", positive_int
    )
    use_dynamic_bsz: bool = knob(
        "micro-batches by token budget (length-sorted) instead of ppo_micro_batch_size_per_gpu"
    )
    ppo_max_token_len_per_gpu: int = knob(
        "token budget of one micro-batch, rows x longest row (with use_dynamic_bsz or a null micro-batch size)",
        positive_int,
    )
    ppo_epochs: int = knob("passes over each rollout batch", positive_int)
    recompute_old_log_prob: str = knob(
        "auto: skip the old-log-prob pass when the update is one on-policy step (exact) | always",
        one_of(*RECOMPUTE_OLD_LOG_PROB_MODES),
    )
    grad_clip: float = knob("max global grad norm; a non-finite norm skips the step", positive)
    clip_ratio: float = knob("PPO clip epsilon (fallback for clip_ratio_low / clip_ratio_high)", non_negative)
    clip_ratio_low: float = knob("lower clip: ratio >= 1 - clip_ratio_low", non_negative)
    clip_ratio_high: float = knob("upper clip: ratio <= 1 + clip_ratio_high", non_negative)
    clip_ratio_c: float = knob("dual-clip bound for negative advantages (must be > 1)", above(1))
    loss_agg_mode: str = knob(
        "token-mean | seq-mean-token-sum | seq-mean-token-mean | seq-mean-token-sum-norm", one_of(*LOSS_AGG_MODES)
    )
    entropy_coeff: float = knob("entropy bonus weight (0 = off)")
    use_kl_loss: bool = knob("add a KL(policy || reference) loss term (creates the reference model)")
    kl_loss_coef: float = knob("weight of that KL loss", non_negative)
    kl_loss_type: str = knob("kl (k1) | abs | mse (k2) | low_var_kl (k3)", one_of(*KL_TYPES))
    ulysses_sequence_parallel_size: int = knob(
        "accepted for verl compatibility; only 1 is supported", NO_SEQUENCE_PARALLEL
    )
    policy_loss: PolicyLossConfig = section(
        PolicyLossConfig, "the policy loss and its knobs", open="knobs of the registered policy loss"
    )
    optim: OptimConfig = section(OptimConfig, "the actor's AdamW and learning-rate schedule")
    fsdp_config: FsdpConfig = section(FsdpConfig, "FSDP2 sharding and CPU offload of the actor")
    checkpoint: CheckpointConfig = section(CheckpointConfig, "what the actor's checkpoints hold")
