"""``trainer.*``: the run: how long, on what, where it writes, how it logs and checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maxrl.config.choices import KNOWN_BACKENDS
from maxrl.config.schema.fields import (
    each_of,
    frequency,
    knob,
    non_negative_int,
    one_of,
    positive,
    positive_int,
    positive_ints,
    section,
)


@dataclass
class AsyncConfig:
    max_staleness: int = knob(
        "rollouts drawn up to N steps ahead of the update (0 = the synchronous loop); > 0 needs "
        "actor_rollout_ref.rollout.placement=separate",
        non_negative_int,
    )


@dataclass
class TrainerConfig:
    project_name: str = knob("tracker project")
    experiment_name: str = knob("tracker run name")
    logger: Any = knob(
        "any of console, file (JSONL), wandb, tensorboard", each_of(KNOWN_BACKENDS, "backends")
    )
    device: str = knob("auto (cuda if available) | cpu | cuda", one_of("auto", "cpu", "cuda"))
    nnodes: int = knob("nodes in the Ray cluster used for the workers", positive_int)
    n_gpus_per_node: int = knob(
        "worker processes per node (devices, or CPU processes with device=cpu)", positive_int
    )
    worker_backend: str = knob(
        "where the workers run: local (one worker in the driver's process, no Ray), ray (Ray actors), or auto: local "
        "when the run has one worker on one node, no critic or rollout on a pool of its own (critic.colocate=false, "
        "actor_rollout_ref.rollout.placement=separate) and no cluster to join (ray_init.address, $RAY_ADDRESS)",
        one_of("auto", "local", "ray"),
    )
    cpu_threads_per_worker: int | None = knob(
        "torch intra-op threads of each worker; null = the node's cores / the workers computing on it at once "
        "(a separate rollout pool with trainer.async.max_staleness >= 1 computes beside the trainer)", positive_int
    )
    cpu_keep_freed_memory: bool = knob(
        "with trainer.device=cpu: each worker process keeps the memory it frees for reuse (glibc malloc) instead of "
        "returning it and page-faulting it in again for every large tensor"
    )
    total_epochs: int = knob("passes over data.train_files", positive_int)
    total_training_steps: int | None = knob(
        "stop after this many steps (null = total_epochs worth)", positive_int
    )
    seed: int = knob("seeds every sampler: step s on rank r draws from (seed, s, r)")
    balance_batch: bool = knob("reorder samples so each rank gets a similar token count")
    critic_warmup: int = knob(
        "with a critic: the first N steps update only the critic (the actor from step N+1)", non_negative_int
    )
    val_before_train: bool = knob("validate before the first step of a fresh run (not on resume)")
    val_only: bool = knob("validate once and exit")
    test_freq: int = knob("validate every N steps (with validation data); -1 = never", frequency)
    val_on_last_step: bool = knob("validate after the last step even when test_freq does not fall on it")
    val_pass_ks: Any = knob(
        "validation pass@k at these k; null = 1, 2, 4, ... up to actor_rollout_ref.rollout.val_kwargs.n",
        positive_ints,
    )
    save_freq: int = knob("checkpoint every N steps (and after the last); -1 = never", frequency)
    max_actor_ckpt_to_keep: int | None = knob("keep the newest N checkpoints; null = all", positive_int)
    max_critic_ckpt_to_keep: int | None = knob(
        "keep the critic of the newest N checkpoints (older step folders lose critic/); null = all", positive_int
    )
    resume_mode: str = knob(
        "auto (latest in default_local_dir, else fresh) | disable | resume_path",
        one_of("auto", "disable", "resume_path"),
    )
    resume_from_path: str | None = knob(".../global_step_<N> to resume from when resume_mode=resume_path")
    default_local_dir: str = knob("the run folder (checkpoints, metrics, Hydra's files)")
    log_val_generations: int = knob(
        "validation samples (prompt, response, score) saved per validation in <run folder>/validation",
        non_negative_int,
    )
    rollout_data_dir: str | None = knob("folder for one JSONL of decoded rollouts per step; null = off")
    worker_timeout_s: float = knob(
        "a Ray worker's call (or start-up) taking longer ends the run, naming this key; with worker_backend=local "
        "the call runs in the driver and is not cut off, and the key bounds the world's collectives", positive
    )
    async_: AsyncConfig = section(AsyncConfig, "off-policy pipeline (docs/async.md)", key="async")
