"""Batch-size semantics, defined once: what each batch-size key counts, and which combinations work.

The driver calls `resolve_batch_sizes(config, world_size)` before any worker starts; the worker calls it
again to read the same numbers. Neither rewrites the config.

==============================================  ==================  =====================================
key                                             counts              scope
==============================================  ==================  =====================================
``data.train_batch_size``                       prompts             all ranks, one training step
``actor_rollout_ref.rollout.n``                 samples per prompt  (group size)
``actor_rollout_ref.actor.ppo_mini_batch_size``  prompts             all ranks, one optimizer step
``actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu``  samples   one device, one forward/backward
``actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu``  samples  one device, one forward
``actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu``  samples  one device, one forward
``actor_rollout_ref.rollout.micro_batch_size``  samples             one device, one generation chunk
``actor_rollout_ref.actor.ppo_max_token_len_per_gpu``  tokens       one device, one forward/backward
``actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu``  tokens  one device, one forward
``actor_rollout_ref.ref.log_prob_max_token_len_per_gpu``  tokens    one device, one forward
==============================================  ==================  =====================================

A training step has ``train_batch_size * n`` samples and ``train_batch_size / ppo_mini_batch_size``
optimizer steps per epoch; each optimizer step sees ``ppo_mini_batch_size * n`` samples, of which each of
the ``world_size`` ranks holds an equal share. Micro-batch sizes are upper bounds: the loss is normalised by
the whole mini-batch, so they change memory use, never the result. A pass cuts its rows by its token
budget instead (`maxrl.workers.micro_batches`) when its ``*use_dynamic_bsz`` key is true or its sample
count is ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig

from maxrl.config.batch_sizes import mini_batch_problem
from maxrl.workers.micro_batches import MicroBatching

__all__ = [
    "BatchSizeError", "BatchSizes", "chunk_sizes", "micro_batching", "positive_int", "resolve_batch_sizes",
    "update_order",
]

ACTOR = "actor_rollout_ref.actor"
ROLLOUT = "actor_rollout_ref.rollout"
REF = "actor_rollout_ref.ref"


class BatchSizeError(ValueError):
    """A batch-size setting that cannot work; the message names the key to change and values that would."""


@dataclass(frozen=True)
class BatchSizes:
    """The batch sizes of one run, in the units of the table above."""

    train_prompts: int
    n: int
    mini_batch_prompts: int
    world_size: int
    update_micro_batching: MicroBatching
    log_prob_micro_batching: MicroBatching
    ref_log_prob_micro_batching: MicroBatching
    rollout_micro_batch: int | None

    @property
    def train_samples(self) -> int:
        return self.train_prompts * self.n

    @property
    def mini_batch_samples(self) -> int:
        return self.mini_batch_prompts * self.n

    @property
    def num_mini_batches(self) -> int:
        return self.train_prompts // self.mini_batch_prompts

    @property
    def mini_batch_per_device(self) -> int:
        """Samples of one optimizer step held by one rank."""
        return self.mini_batch_samples // self.world_size


def _value(config: DictConfig, key: str) -> Any:
    """The value at the dotted `key`; every key read here is in the YAML defaults, so an absent one raises."""
    for part in key.split("."):
        config = config[part]
    return config


def positive_int(config: DictConfig, key: str, *, optional: bool = False) -> int | None:
    """The value at the dotted `key`, which must be a positive integer (or null when `optional`)."""
    return _checked_positive_int(key, _value(config, key), optional)


def _checked_positive_int(key: str, value: Any, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "a positive integer or null" if optional else "a positive integer"
        raise BatchSizeError(f"{key}={value!r}: must be {allowed}")
    return value


def _reject_unsupported(config: DictConfig) -> None:
    legacy = config.actor_rollout_ref.actor.ppo_micro_batch_size
    if legacy is not None:
        raise BatchSizeError(
            f"{ACTOR}.ppo_micro_batch_size={legacy} is the deprecated global micro-batch; set it to null and "
            f"use {ACTOR}.ppo_micro_batch_size_per_gpu (samples per device) instead"
        )


def micro_batching(config: DictConfig, samples_key: str, dynamic_key: str, tokens_key: str) -> MicroBatching:
    """The sample count of `samples_key`; the token budget of `tokens_key` when `dynamic_key` is true or no
    sample count is set (verl refuses that case; all rows at once would make memory grow with the batch)."""
    max_samples = positive_int(config, samples_key, optional=True)
    if max_samples is not None and not _value(config, dynamic_key):
        return MicroBatching(max_samples=max_samples)
    return MicroBatching(max_tokens=positive_int(config, tokens_key))


def resolve_batch_sizes(config: DictConfig, world_size: int) -> BatchSizes:
    """Check the batch-size keys of a full config against `world_size` ranks and return their values.

    Raises `BatchSizeError` naming the key to change and values that would work.
    """
    if world_size < 1:
        raise BatchSizeError(
            f"world size must be >= 1 (trainer.nnodes * trainer.n_gpus_per_node), got {world_size}"
        )
    _reject_unsupported(config)
    train_prompts = positive_int(config, "data.train_batch_size")
    n = positive_int(config, f"{ROLLOUT}.n")
    mini_prompts = positive_int(config, f"{ACTOR}.ppo_mini_batch_size")
    positive_int(config, f"{ACTOR}.ppo_epochs")
    problem = mini_batch_problem(f"{ACTOR}.ppo_mini_batch_size", mini_prompts, train_prompts, n, world_size)
    if problem:
        raise BatchSizeError(problem)

    return BatchSizes(
        train_prompts=train_prompts,
        n=n,
        mini_batch_prompts=mini_prompts,
        world_size=world_size,
        update_micro_batching=micro_batching(
            config, f"{ACTOR}.ppo_micro_batch_size_per_gpu", f"{ACTOR}.use_dynamic_bsz",
            f"{ACTOR}.ppo_max_token_len_per_gpu",
        ),
        log_prob_micro_batching=micro_batching(
            config, f"{ROLLOUT}.log_prob_micro_batch_size_per_gpu", f"{ROLLOUT}.log_prob_use_dynamic_bsz",
            f"{ROLLOUT}.log_prob_max_token_len_per_gpu",
        ),
        ref_log_prob_micro_batching=micro_batching(
            config, f"{REF}.log_prob_micro_batch_size_per_gpu", f"{REF}.log_prob_use_dynamic_bsz",
            f"{REF}.log_prob_max_token_len_per_gpu",
        ),
        # added with + only (not in the YAML): absent means the whole batch in one generation call
        rollout_micro_batch=_checked_positive_int(
            f"{ROLLOUT}.micro_batch_size", config.actor_rollout_ref.rollout.get("micro_batch_size"), optional=True
        ),
    )


def update_order(num_samples: int, mini_batch_samples: int, world_size: int) -> torch.Tensor:
    """The row order that makes a rank-split update batch see the same mini-batches as one process.

    Mini-batch ``k`` is rows ``[k * m, (k + 1) * m)`` of the batch, whatever the number of ranks. Dispatch
    gives rank ``r`` the ``r``-th contiguous chunk, and a rank walks its chunk in mini-batches of
    ``m / world_size`` rows; so the driver reorders the batch with these indices first, placing the
    ``r``-th slice of every mini-batch in rank ``r``'s chunk. Sums over ranks then run over exactly the
    rows of mini-batch ``k``.
    """
    if mini_batch_samples % world_size or num_samples % mini_batch_samples:
        raise BatchSizeError(
            f"update batch of {num_samples} samples cannot be cut into mini-batches of {mini_batch_samples} "
            f"samples split evenly over {world_size} ranks (see maxrl.workers.batch_sizes)"
        )
    per_rank = mini_batch_samples // world_size
    rows = torch.arange(num_samples).view(num_samples // mini_batch_samples, world_size, per_rank)
    return rows.transpose(0, 1).reshape(-1)


def chunk_sizes(total: int, max_size: int | None) -> list[int]:
    """Sizes of consecutive chunks of at most `max_size` rows covering `total` rows (``None`` = one chunk)."""
    if not max_size or max_size >= total:
        return [total]
    return [min(max_size, total - start) for start in range(0, total, max_size)]
