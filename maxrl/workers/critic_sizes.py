"""The critic's batch sizes (``critic.*``), in the actor's units (`maxrl.workers.batch_sizes`).

``critic.ppo_mini_batch_size`` counts prompts per critic optimizer step (x ``rollout.n`` samples, split
over the ranks), ``critic.ppo_micro_batch_size_per_gpu`` / ``forward_micro_batch_size_per_gpu`` count
samples per device and forward; null (or ``use_dynamic_bsz``) cuts by the token budgets
``ppo_max_token_len_per_gpu`` / ``forward_max_token_len_per_gpu``. As for the actor, micro-batch sizes
change memory only: the value loss is normalised by the whole mini-batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from maxrl.config.batch_sizes import ROLLOUT_N, mini_batch_problem
from maxrl.workers.batch_sizes import BatchSizeError, micro_batching, positive_int
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
        value = config.critic[legacy]
        if value is not None:
            raise BatchSizeError(f"{CRITIC}.{legacy}={value} is the deprecated global micro-batch; set it to null "
                                 f"and use {CRITIC}.{legacy}_per_gpu (samples per device)")
    n = positive_int(config, ROLLOUT_N)
    rollout_n = config.critic.rollout_n
    if rollout_n != n:
        raise BatchSizeError(f"{CRITIC}.rollout_n={rollout_n} must equal {ROLLOUT_N}={n}")
    train_prompts = positive_int(config, "data.train_batch_size")
    mini_prompts = positive_int(config, f"{CRITIC}.ppo_mini_batch_size")
    problem = mini_batch_problem(f"{CRITIC}.ppo_mini_batch_size", mini_prompts, train_prompts, n, world_size)
    if problem:
        raise BatchSizeError(problem)
    return CriticBatchSizes(
        mini_batch_samples=mini_prompts * n,
        mini_batch_per_device=mini_prompts * n // world_size,
        update_micro_batching=micro_batching(
            config, f"{CRITIC}.ppo_micro_batch_size_per_gpu", f"{CRITIC}.use_dynamic_bsz",
            f"{CRITIC}.ppo_max_token_len_per_gpu",
        ),
        forward_micro_batching=micro_batching(
            config, f"{CRITIC}.forward_micro_batch_size_per_gpu", f"{CRITIC}.use_dynamic_bsz",
            f"{CRITIC}.forward_max_token_len_per_gpu",
        ),
    )
