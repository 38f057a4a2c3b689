"""``critic.*``: the value model of PPO with GAE, built only when algorithm.adv_estimator needs ``values``.

A causal LM body with a scalar head (initialised to zero), FSDP2-sharded over the same ranks as the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maxrl.algorithms import LOSS_AGG_MODES
from maxrl.config.schema.actor import NO_SEQUENCE_PARALLEL
from maxrl.config.schema.fields import deprecated, knob, one_of, positive, positive_int, section
from maxrl.config.schema.training import DTYPES, STRATEGIES, CheckpointConfig, FsdpConfig, OptimConfig


@dataclass
class CriticModelConfig:
    path: str | None = knob("folder of the causal LM whose body initialises the critic")
    tokenizer_path: str | None = knob("accepted for verl compatibility (the critic reads token ids)")
    override_config: dict[str, Any] = knob("keys merged into the critic model's config.json at load time")
    external_lib: str | None = knob("module imported before loading")
    trust_remote_code: bool = knob("allow custom modelling code")
    enable_gradient_checkpointing: bool = knob("recompute activations in backward to save memory")
    use_remove_padding: bool = knob("accepted for verl compatibility; the critic's forward is always exact")
    fsdp_config: FsdpConfig = section(FsdpConfig, "FSDP2 sharding and CPU offload of the critic")


@dataclass
class CriticConfig:
    strategy: str = knob("parameter sharding (fsdp2 = torch fully_shard; the only strategy)", one_of(*STRATEGIES))
    colocate: bool = knob(
        "true: the critic lives in the actor's processes; false: its own pool of trainer.nnodes x "
        "trainer.n_gpus_per_node workers"
    )
    dtype: str = knob("compute dtype of the FSDP mixed-precision policy: fp32 | bf16 | fp16", one_of(*DTYPES))
    rollout_n: int = knob("samples per prompt (verl's key; must equal actor_rollout_ref.rollout.n)")
    ppo_mini_batch_size: int = knob("prompts per critic optimizer step (x rollout.n samples)", positive_int)
    ppo_micro_batch_size: int | None = knob(
        "deprecated global micro-batch; use ppo_micro_batch_size_per_gpu", deprecated("ppo_micro_batch_size_per_gpu")
    )
    ppo_micro_batch_size_per_gpu: int | None = knob(
        "samples per forward/backward on one device; null = by ppo_max_token_len_per_gpu", positive_int
    )
    forward_micro_batch_size: int | None = knob(
        "deprecated global micro-batch; use forward_micro_batch_size_per_gpu",
        deprecated("forward_micro_batch_size_per_gpu"),
    )
    forward_micro_batch_size_per_gpu: int | None = knob(
        "samples per forward of compute_values", positive_int
    )
    use_dynamic_bsz: bool = knob("micro-batches by token budget instead of sample counts")
    ppo_max_token_len_per_gpu: int = knob("token budget of one update micro-batch, rows x longest row", positive_int)
    forward_max_token_len_per_gpu: int = knob("token budget of one compute_values micro-batch", positive_int)
    ulysses_sequence_parallel_size: int = knob(
        "accepted for verl compatibility; only 1 is supported", NO_SEQUENCE_PARALLEL
    )
    ppo_epochs: int = knob("passes over each rollout batch", positive_int)
    grad_clip: float = knob("max global grad norm; a non-finite norm skips the step", positive)
    cliprange_value: float = knob(
        "value clipping: V is kept within old V +- cliprange_value in the loss", positive
    )
    loss_agg_mode: str = knob("how the value loss is averaged (the actor's modes)", one_of(*LOSS_AGG_MODES))
    optim: OptimConfig = section(OptimConfig, "the critic's AdamW and learning-rate schedule")
    model: CriticModelConfig = section(CriticModelConfig, "the critic's model: a causal LM body and a scalar head")
    checkpoint: CheckpointConfig = section(CheckpointConfig, "what the critic's checkpoints hold")
