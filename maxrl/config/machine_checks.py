"""Checks of the config against the machine a local Ray cluster would run on, before Ray starts.

When the run starts its own Ray cluster (no ``ray_init.address`` and no ``$RAY_ADDRESS``), that cluster is
this machine: ``ray_init.num_cpus`` CPUs (all its cores when null) and its GPUs. What must fit into it can
then be checked in a second rather than after Ray's start-up (tens of seconds). A run that joins a running
cluster is checked against that cluster once connected (`maxrl.trainer.placement.check_cluster_fits`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from omegaconf import DictConfig, OmegaConf

THREADS = "trainer.cpu_threads_per_worker"


def machine_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def starts_local_ray(cfg: DictConfig) -> bool:
    return not OmegaConf.select(cfg, "ray_init.address") and not os.environ.get("RAY_ADDRESS")


def local_cluster(cfg: DictConfig, device: str) -> dict[str, float] | None:
    """The resources of the Ray cluster this run would start (``{"CPU": n}``, with ``"GPU"`` on cuda), or None
    when it joins a running one."""
    if not starts_local_ray(cfg):
        return None
    num_cpus = OmegaConf.select(cfg, "ray_init.num_cpus")
    cluster = {"CPU": float(num_cpus if isinstance(num_cpus, int) else machine_cores())}
    if device == "cuda":
        import torch

        cluster["GPU"] = float(torch.cuda.device_count())
    return cluster


def cpu_thread_problems(cfg: DictConfig) -> Iterator[str]:
    """More intra-op threads per worker than the machine has cores oversubscribe it many times over (1000
    threads on 2 cores ran 50-70x slower); a joined cluster's nodes are not this machine, so only a local run
    is checked."""
    threads = OmegaConf.select(cfg, THREADS)
    if not isinstance(threads, int) or isinstance(threads, bool) or not starts_local_ray(cfg):
        return
    cores = machine_cores()
    if threads > cores:
        yield (f"{THREADS}={threads} is more than the {cores} cores of this machine, which the local Ray cluster "
               f"runs on; set it to at most {cores}, or null to share the cores evenly among the workers")
