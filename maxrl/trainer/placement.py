"""Where the workers run. The rollout: in the actor's processes (``actor_rollout_ref.rollout.placement=colocated``,
the default) or in a pool of `RolloutWorker`s of its own (``separate``, sized by ``actor_rollout_ref.rollout.nnodes``
x ``n_gpus_per_node``), which the off-policy pipeline needs (``trainer.async.max_staleness``; docs/async.md). The
workers: in the driver's own process or in Ray actors (``trainer.worker_backend``, `worker_backend`).

The checks here run before any worker starts: `check_placement` and `worker_backend` on the config alone
(and, when the run starts its own Ray cluster, against that cluster's size before Ray starts),
`check_cluster_fits` against a cluster's total devices or CPUs for every pool of the run (a joined cluster's
once Ray is up).
"""

from __future__ import annotations

import logging
import os
import sys

from omegaconf import DictConfig

from maxrl.algorithms import RolloutCorrection, get_advantage_spec
from maxrl.config.checks import ConfigError, needs_critic
from maxrl.config.choices import GREEDY_BASELINES
from maxrl.config.machine_checks import local_cluster

logger = logging.getLogger(__name__)

__all__ = [
    "check_cluster_fits", "check_placement", "max_staleness", "pools_of_trainer_size", "separate_rollout",
    "worker_backend", "workers_sharing_node",
]


def separate_rollout(config: DictConfig) -> bool:
    return config.actor_rollout_ref.rollout.placement == "separate"


def max_staleness(config: DictConfig) -> int:
    return int(config.trainer["async"].max_staleness)  # `async` is a Python keyword


def workers_sharing_node(config: DictConfig) -> int | None:
    """How many worker processes compute on one node at the same time, when that is more than one pool's:
    with a separate rollout pool and ``max_staleness >= 1`` the rollout generates while the trainer
    updates, so on CPU the node's cores are split over both pools' workers (each pool taking all of them
    oversubscribes the cores: on 2 cores this made an overlapped step 1.6-6x slower than the synchronous
    one, benchmarks/async_pipeline.py). ``None``: pools take turns, each worker gets its pool's share."""
    if not separate_rollout(config) or max_staleness(config) == 0:
        return None
    return int(config.trainer.n_gpus_per_node) + int(config.actor_rollout_ref.rollout.n_gpus_per_node)


def pools_of_trainer_size(config: DictConfig) -> int:
    """The actor's pool, and a critic's own pool of the same shape when it is not colocated."""
    return 2 if needs_critic(config) and not config.critic.colocate else 1


def worker_backend(config: DictConfig) -> str:
    """``local`` (one worker in the driver's process, `maxrl.controller.LocalWorkerGroup`) or ``ray``, from
    ``trainer.worker_backend``. ``auto`` is local when one worker on one node is all the run has: Ray stays the
    engine for more workers, a critic or rollout on a pool of its own, and a cluster to join."""
    trainer = config.trainer
    workers = int(trainer.nnodes) * int(trainer.n_gpus_per_node)
    needs_ray = [reason for reason, applies in (
        (f"trainer.nnodes x trainer.n_gpus_per_node = {workers} workers", workers > 1),
        ("critic.colocate=false (a pool for the critic)", needs_critic(config) and not config.critic.colocate),
        ("actor_rollout_ref.rollout.placement=separate (a pool for the rollout)", separate_rollout(config)),
    ) if applies]
    if trainer.worker_backend == "local" and needs_ray:
        raise ConfigError([
            f"trainer.worker_backend=local runs one worker in the driver's process, but this run has "
            f"{' and '.join(needs_ray)}: use trainer.worker_backend=ray (or auto)"
        ])
    if trainer.worker_backend == "auto":
        joins_cluster = bool(config.ray_init.address or os.environ.get("RAY_ADDRESS"))
        return "ray" if needs_ray or joins_cluster else "local"
    return str(trainer.worker_backend)


def check_placement(config: DictConfig, device: str) -> None:
    """What the placement and staleness keys cannot be combined with (each value alone is checked by the
    config schema: placement one of colocated | separate, max_staleness >= 0); with a separate rollout pool
    and a Ray cluster of this run's own, whether every pool fits into it. Warns when stale samples would be
    trained without a rollout correction."""
    problems = []
    staleness, separate = max_staleness(config), separate_rollout(config)
    if staleness > 0 and not separate:
        problems.append(
            f"trainer.async.max_staleness={staleness} needs the rollout on its own pool: set "
            "actor_rollout_ref.rollout.placement=separate (or max_staleness=0)"
        )
    if separate and config.actor_rollout_ref.rollout.check_weight_sync:
        problems.append(
            "actor_rollout_ref.rollout.check_weight_sync=true compares the rollout with the actor in one process; "
            "with placement=separate they live apart: set check_weight_sync=false"
        )
    estimator = config.algorithm.adv_estimator
    if staleness > 0 and GREEDY_BASELINES in get_advantage_spec(estimator).extra_inputs:
        problems.append(
            f"algorithm.adv_estimator={estimator} draws a greedy baseline with the current weights, which a "
            "stale batch was not drawn from: use trainer.async.max_staleness=0 with it"
        )
    if problems:
        raise ConfigError(problems)
    planned = None if _ray_running() else local_cluster(config, device)
    if separate and planned is not None:
        check_cluster_fits(config, device, pools_of_trainer_size(config), planned)
    if staleness > 0 and not RolloutCorrection.from_config(config.algorithm.rollout_correction).enabled:
        logger.warning(
            "trainer.async.max_staleness=%d trains samples drawn by policies up to %d updates old as if they were "
            "on-policy: no rollout correction is set; set algorithm.rollout_correction.rollout_is=token (or "
            "sequence) to weigh them by pi_old / pi_rollout (docs/async.md)", staleness, staleness,
        )


def _ray_running() -> bool:
    """Whether this process is already connected to a Ray cluster, which the run then joins (a process that
    never imported Ray is not: a local run does not import it for the question)."""
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def check_cluster_fits(config: DictConfig, device: str, pools: int, cluster: dict[str, float]) -> None:
    """All `pools` trainer-sized pools plus the rollout pool must fit in `cluster` (Ray's total resources):
    one device per worker (a GPU with device=cuda, else a CPU)."""
    trainer = config.trainer
    rollout = config.actor_rollout_ref.rollout
    trainer_workers = int(trainer.nnodes) * int(trainer.n_gpus_per_node)
    rollout_workers = int(rollout.nnodes) * int(rollout.n_gpus_per_node) if separate_rollout(config) else 0
    need = pools * trainer_workers + rollout_workers
    resource = "GPU" if device == "cuda" else "CPU"
    have = cluster.get(resource, 0.0)
    if need > have:
        raise ConfigError([
            f"actor_rollout_ref.rollout.placement=separate needs {need} {resource}s ({pools} pool(s) of "
            f"trainer.nnodes x trainer.n_gpus_per_node = {trainer_workers} and a rollout pool of "
            f"actor_rollout_ref.rollout.nnodes x n_gpus_per_node = {rollout_workers}), but the Ray cluster has "
            f"{have:g}: lower those sizes, raise ray_init.num_cpus, or use placement=colocated"
        ])
