"""The entry point: ``python -m maxrl.trainer.main_ppo [hydra overrides]``.

It composes the config (``maxrl/config/ppo_trainer.yaml``), validates it before anything expensive starts,
then builds the run's parts in order: tokenizer and datasets, the reward manager (its process pool starts
once), one worker group of `ActorRolloutRefWorker`s (with a critic: `ActorCriticWorker`s, or with
``critic.colocate=false`` a second group of `CriticWorker`s; with ``actor_rollout_ref.rollout.placement=separate``
a group of `RolloutWorker`s, `maxrl.trainer.placement`), and hands them to the step loop. A run of one worker on
one node hosts it in this process (no Ray); any other starts Ray and a resource pool per group
(``trainer.worker_backend``). ``--cfg job`` prints the composed config and starts nothing (Hydra's own flag).
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from maxrl.config import MAIN_CONFIG
from maxrl.utils.tokenizer_folder import load_tokenizer

# torch, Ray and the model code are imported inside the functions that need them, after the config checks,
# so that `--cfg job` comes back in a second and config errors in two.

logger = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    """``trainer.device``: ``auto`` means cuda when torch sees a GPU, else cpu."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


LOCAL_RAY_SYSTEM_CONFIG = {
    "worker_niceness": 0,  # Ray's default nice 15 would make the workers yield to any other load
    # No idle worker processes started ahead of need (~80 MiB each, one per CPU): every worker process a run
    # uses hosts an actor that Ray starts on demand, no slower than from the idle pool.
    "prestart_worker_first_driver": False,
    "enable_worker_prestart": False,
}


def init_ray(ray_init: DictConfig) -> bool:
    """Connect to the cluster in ``ray_init.address`` / ``$RAY_ADDRESS``, or start a private local one.

    Returns whether this call started Ray (and so must shut it down).
    """
    import ray

    if ray.is_initialized():
        return False
    address = ray_init.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=True)
    else:
        temp_dir = ray_init.ray_dir
        ray.init(
            address="local",
            num_cpus=ray_init.num_cpus,
            include_dashboard=False,
            _system_config=LOCAL_RAY_SYSTEM_CONFIG,
            _temp_dir=str(Path(temp_dir).resolve()) if temp_dir else None,
        )
    return True


def worker_config(config: DictConfig, total_steps: int) -> DictConfig:
    """The resolved config the workers receive, with the schedule length the driver computed."""
    resolved = OmegaConf.create(OmegaConf.to_container(config, resolve=True))
    resolved.actor_rollout_ref.actor.optim.total_training_steps = total_steps
    resolved.critic.optim.total_training_steps = total_steps
    return resolved


def dataset_class(config: DictConfig) -> type:
    """``data.custom_cls.{path,name}`` (a class taking ``(files, tokenizer, data_config)``), else `RLDataset`."""
    import importlib.util

    from maxrl.data.dataset import RLDataset

    custom = config.data.custom_cls
    if not custom.path:
        return RLDataset
    spec = importlib.util.spec_from_file_location("maxrl_custom_dataset", Path(custom.path).expanduser())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, str(custom.name)):
        raise AttributeError(f"data.custom_cls.name={custom.name!r}: no such class in data.custom_cls.path={custom.path}")
    return getattr(module, str(custom.name))


def build_datasets(config: DictConfig, tokenizer):
    """The training and validation datasets (either may be None when its files are not set)."""
    from maxrl.config.checks import as_list

    cls = dataset_class(config)
    train_files, val_files = as_list(config.data.train_files), as_list(config.data.val_files)
    train = cls(train_files, tokenizer, config.data) if train_files else None
    val = cls(val_files, tokenizer, config.data) if val_files else None
    return train, val


def make_reward_manager(config: DictConfig):
    """The run's reward manager: its scorer, its options and when scoring failures stop the run."""
    from maxrl.rewards import FailurePolicy, build_reward_manager, default_compute_score, load_custom_score

    custom = config.custom_reward_function
    compute_score = load_custom_score(custom.path, custom.name) if custom.path else default_compute_score
    kwargs = OmegaConf.to_container(config.reward_model.reward_kwargs, resolve=True)
    policy = FailurePolicy.from_config(config.reward_model)
    return build_reward_manager(config.reward_model.reward_manager, compute_score, policy, **kwargs)


def run_ppo(config: DictConfig) -> dict[str, float]:
    """Validate the config, build every part, train; return the last step's metrics."""
    from maxrl.config.checks import check_config, needs_critic

    check_config(config)  # before the heavy imports below: a config error comes back in under two seconds
    from maxrl.trainer.placement import (
        check_cluster_fits,
        check_placement,
        pools_of_trainer_size,
        separate_rollout,
        worker_backend,
        workers_sharing_node,
    )

    device = resolve_device(config.trainer.device)
    check_placement(config, device)
    backend = worker_backend(config)
    logger.info("workers: %s (trainer.worker_backend=%s)", backend, config.trainer.worker_backend)

    import numpy as np
    import torch

    from maxrl.controller import LocalWorkerGroup
    from maxrl.trainer.ray_trainer import RayPPOTrainer, total_training_steps
    from maxrl.utils.atomic import write_text_atomic
    from maxrl.workers import ActorRolloutRefWorker
    from maxrl.workers.actor_critic_worker import ActorCriticWorker
    from maxrl.workers.critic_worker import CriticWorker
    from maxrl.workers.rollout_worker import RolloutWorker

    seed = int(config.trainer.seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    run_dir = Path(config.trainer.default_local_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / "config.yaml", OmegaConf.to_yaml(config, resolve=True))

    model = config.actor_rollout_ref.model
    tokenizer = load_tokenizer(model.tokenizer_path or model.path, bool(model.trust_remote_code))
    data_tokenizer = load_tokenizer(config.data.tokenizer) if config.data.tokenizer else tokenizer
    train_dataset, val_dataset = build_datasets(config, data_tokenizer)
    total_steps = total_training_steps(config, len(train_dataset)) if train_dataset is not None else 0
    reward_manager = make_reward_manager(config)
    started_ray = backend == "ray" and init_ray(config.ray_init)
    with_critic = needs_critic(config)
    colocated = with_critic and bool(config.critic.colocate)
    separate = separate_rollout(config)
    if separate:  # a joined cluster, before any pool is reserved (check_placement checked a local one)
        import ray

        check_cluster_fits(config, device, pools_of_trainer_size(config), ray.cluster_resources())
    pools, groups = [], []
    timeout_s, threads = float(config.trainer.worker_timeout_s), config.trainer.cpu_threads_per_worker
    keep_freed_memory = bool(config.trainer.cpu_keep_freed_memory)

    def start_group(worker_cls, sizes=config.trainer):
        if backend == "local":
            groups.append(LocalWorkerGroup(
                worker_cls, worker_config(config, total_steps), device=device, collective_timeout_s=timeout_s,
                torch_threads=threads, keep_freed_memory=keep_freed_memory,
            ))
            return groups[-1]
        from maxrl.controller import ResourcePool, WorkerGroup

        pools.append(ResourcePool(int(sizes.nnodes), int(sizes.n_gpus_per_node), device))
        groups.append(WorkerGroup(
            worker_cls, pools[-1], worker_config(config, total_steps),
            timeout_s=timeout_s, timeout_key="trainer.worker_timeout_s", torch_threads=threads,
            workers_sharing_node=workers_sharing_node(config) if device == "cpu" else None,
            keep_freed_memory=keep_freed_memory,
        ))
        return groups[-1]

    try:
        workers = start_group(ActorCriticWorker if colocated else ActorRolloutRefWorker)
        critic = workers if colocated else start_group(CriticWorker) if with_critic else None
        rollout = start_group(RolloutWorker, config.actor_rollout_ref.rollout) if separate else None
        trainer = RayPPOTrainer(
            config, tokenizer, workers, reward_manager, train_dataset, val_dataset, critic_group=critic,
            rollout_group=rollout,
        )
        return trainer.fit()
    finally:
        reward_manager.close()
        for group in groups:
            group.shutdown()
        for pool in pools:
            pool.shutdown()
        if started_ray:
            import ray

            ray.shutdown()


@hydra.main(config_path="../config", config_name=MAIN_CONFIG, version_base=None)
def main(config: DictConfig) -> None:
    from maxrl.config.checks import ConfigError

    try:
        run_ppo(config)
    except ConfigError as error:  # the problems alone, without a traceback through Hydra
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
