"""One rank of a worker group: join the torch.distributed world, host one worker.

The body of each Ray actor of a `WorkerGroup`, and of the driver's own process in a `LocalWorkerGroup`.
Worker classes stay plain Python: the host sets the process's torch threads and CPU settings, the usual
torchrun environment variables, calls ``init_process_group`` and only then builds the worker, so the worker
may assume a ready world. Any exception raised by the worker is re-raised as a `WorkerError` carrying the
rank and the full traceback (which Ray ships to the driver). Ray itself is imported only to find a Ray
node's address.
"""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from maxrl.controller.errors import WorkerError
from maxrl.utils import cpu_process


def default_torch_threads(workers_on_node: int) -> int:
    """This node's cores shared evenly by its workers: one worker uses the whole machine, and workers
    never oversubscribe it (Ray's default of one thread per actor would leave cores idle)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(workers_on_node, 1))


def process_group_backend(device: str) -> str:
    """gloo on CPU; on CUDA nccl for device tensors and gloo for the CPU ones (e.g. a metric all-reduce)."""
    return "gloo" if device == "cpu" else "cpu:gloo,cuda:nccl"


def free_port(ip: str) -> int:
    """A TCP port that is free on `ip` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((ip, 0))
        return probe.getsockname()[1]


class WorkerHost:
    """Owns one rank of the world and the worker object that lives in it."""

    def __init__(
        self, rank: int, world_size: int, local_rank: int, local_world_size: int, torch_threads: int | None,
        workers_sharing_node: int | None = None, device: str = "cpu", keep_freed_memory: bool = False,
    ):
        self.rank = rank
        self.world_size = world_size
        self.local_rank = local_rank
        self.local_world_size = local_world_size
        self.worker: Any = None
        self.group = "worker"  # the worker class's name once `setup` knows it, for errors
        torch.set_num_threads(torch_threads or default_torch_threads(workers_sharing_node or local_world_size))
        if device == "cpu":  # exact settings that make the same computation faster on CPU
            cpu_process.use_grouped_query_sdpa()
            if keep_freed_memory:
                cpu_process.keep_freed_memory()

    def rendezvous_address(self) -> tuple[str, int]:
        """This Ray node's IP and a port free on it (asked of rank 0, whose node hosts the rendezvous)."""
        import ray

        ip = ray.util.get_node_ip_address()
        return ip, free_port(ip)

    def setup(
        self,
        master_addr: str,
        master_port: int,
        backend: str,
        timeout_s: float,
        worker_cls: type,
        init_args: tuple,
    ) -> tuple[int, int]:
        """Join the world, build the worker; return its ``(dp_rank, dp_size)``."""
        self.group = worker_cls.__name__
        os.environ.update(
            RANK=str(self.rank),
            WORLD_SIZE=str(self.world_size),
            LOCAL_RANK=str(self.local_rank),
            LOCAL_WORLD_SIZE=str(self.local_world_size),
            MASTER_ADDR=master_addr,
            MASTER_PORT=str(master_port),
        )
        if "nccl" in backend:
            # Ray narrows CUDA_VISIBLE_DEVICES to this actor's GPU, so it is always device 0 here (and a
            # local group's one worker uses the first visible GPU).
            torch.cuda.set_device(0)
        self._run(
            "init_process_group",
            dist.init_process_group,
            (backend,),
            {"timeout": timedelta(seconds=timeout_s), "rank": self.rank, "world_size": self.world_size},
        )
        self.worker = self._run(f"{worker_cls.__name__}.__init__", worker_cls, init_args, {})
        report = getattr(self.worker, "dp_rank_and_size", None)
        if report is None:
            return self.rank, self.world_size
        return tuple(self._run("dp_rank_and_size", report, (), {}))

    def call(self, method: str, args_and_kwargs: tuple[tuple, dict]) -> Any:
        args, kwargs = args_and_kwargs
        return self._run(method, getattr(self.worker, method), args, kwargs)

    def _run(self, name: str, fn: Callable, args: tuple, kwargs: dict) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            raise WorkerError(self.rank, name, traceback.format_exc(), self.group) from None
