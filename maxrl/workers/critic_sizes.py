"""The critic's batch sizes (``critic.*``), in the actor's units (`maxrl.workers.batch_sizes`).

``critic.ppo_mini_batch_size`` counts prompts per critic optimizer step (x ``rollout.n`` samples, split
over the ranks), ``critic.ppo_micro_batch_size_per_gpu`` / ``forward_micro_batch_size_per_gpu`` count
samples per device and forward; null (or ``use_dynamic_bsz``) cuts by the token budgets
``ppo_max_token_len_per_gpu`` / ``forward_max_token_len_per_gpu``. As for the actor, micro-batch sizes
change memory only: the value loss is normalised by the whole mini-batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from maxrl.workers.batch_sizes import BatchSizeError, _micro_batching
from maxrl.workers.micro_batches import MicroBatching

__all__ = ["CriticBatchSizes", "resolve_critic_batch_sizes"]

CRITIC = "critic"


@dataclass(frozen=True)
class CriticBatchSizes:
    mini_batch_samples: int  # samples of one critic optimizer step, all ranks
    mini_batch_per_device: int
    update_micro_batching: MicroBatching
    forward_micro_batching: MicroBatching


def resolve_critic_batch_sizes(config: DictConfig, world_size: int) -> CriticBatchSizes:
    """Check the ``critic.*`` batch keys against the run and `world_size` ranks; raise `BatchSizeError`
    naming the key and values that work."""
    for legacy in ("ppo_micro_batch_size", "forward_micro_batch_size"):
        value = OmegaConf.select(config, f"{CRITIC}.{legacy}", default=None)
        if value is not None:
            raise BatchSizeError(f"{CRITIC}.{legacy}={value} is the deprecated global micro-batch; set it to null "
                                 f"and use {CRITIC}.{legacy}_per_gpu (samples per device)")
    n = int(config.actor_rollout_ref.rollout.n)
    rollout_n = OmegaConf.select(config, f"{CRITIC}.rollout_n", default=n)
    if rollout_n != n:
        raise BatchSizeError(f"{CRITIC}.rollout_n={rollout_n} must equal actor_rollout_ref.rollout.n={n}")
    train_prompts = int(config.data.train_batch_size)
    mini_prompts = OmegaConf.select(config, f"{CRITIC}.ppo_mini_batch_size")
    working = [m for m in range(1, train_prompts + 1) if train_prompts % m == 0 and (m * n) % world_size == 0]
    if (isinstance(mini_prompts, bool) or not isinstance(mini_prompts, int) or mini_prompts < 1
            or train_prompts % mini_prompts or (mini_prompts * n) % world_size):
        raise BatchSizeError(
            f"{CRITIC}.ppo_mini_batch_size={mini_prompts} must divide data.train_batch_size={train_prompts} and, "
            f"times actor_rollout_ref.rollout.n={n}, split evenly over {world_size} ranks; values that work: {working}"
        )
    return CriticBatchSizes(
        mini_batch_samples=mini_prompts * n,
        mini_batch_per_device=mini_prompts * n // world_size,
        update_micro_batching=_micro_batching(
            config, f"{CRITIC}.ppo_micro_batch_size_per_gpu", f"{CRITIC}.use_dynamic_bsz",
            f"{CRITIC}.ppo_max_token_len_per_gpu",
        ),
        forward_micro_batching=_micro_batching(
            config, f"{CRITIC}.forward_micro_batch_size_per_gpu", f"{CRITIC}.use_dynamic_bsz",
            f"{CRITIC}.forward_max_token_len_per_gpu",
        ),
    )
