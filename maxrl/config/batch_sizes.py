"""The batch-size arithmetic the config checks need, with no torch and no worker code.

A training step has ``data.train_batch_size`` prompts, each sampled ``actor_rollout_ref.rollout.n`` times;
an optimizer step (actor or critic) takes ``ppo_mini_batch_size`` of those prompts, and its samples are split
evenly over the ranks. So a mini-batch size must divide the train batch size, and times ``n`` be divisible
by the number of ranks. `maxrl.workers.batch_sizes` describes every batch-size key and what it counts.
"""

from __future__ import annotations

ROLLOUT_N = "actor_rollout_ref.rollout.n"


def working_mini_batches(train_prompts: int, n: int, world_size: int) -> list[int]:
    """Mini-batch sizes (prompts) that divide the train batch and split evenly over ``world_size`` ranks."""
    return [m for m in range(1, train_prompts + 1) if train_prompts % m == 0 and (m * n) % world_size == 0]


def mini_batch_problem(key: str, mini_prompts: int, train_prompts: int, n: int, world_size: int) -> str | None:
    """What is wrong with ``key=mini_prompts`` (a ``ppo_mini_batch_size``), naming values that work; None if fine."""
    if train_prompts % mini_prompts == 0 and (mini_prompts * n) % world_size == 0:
        return None
    problem = (
        f"does not divide data.train_batch_size={train_prompts}"
        if train_prompts % mini_prompts
        else f"times {ROLLOUT_N}={n} gives {mini_prompts * n} samples, not divisible by {world_size} ranks"
    )
    working = working_mini_batches(train_prompts, n, world_size)
    fix = (
        f"values that work: {working}"
        if working
        else f"no value works with {world_size} ranks; change data.train_batch_size or the number of ranks"
    )
    return f"{key}={mini_prompts} {problem}; {fix}"
