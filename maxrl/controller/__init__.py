"""Ray resource pools and worker groups: the driver's handle on distributed workers."""

from maxrl.controller.dispatch import DataParallelLayout
from maxrl.controller.errors import WorkerDiedError, WorkerError, WorkerGroupError, WorkerTimeoutError
from maxrl.controller.methods import Dispatch, data_parallel, on_all_ranks, rank_zero
from maxrl.controller.resources import ResourcePool
from maxrl.controller.worker_group import WorkerGroup

__all__ = [
    "DataParallelLayout",
    "Dispatch",
    "ResourcePool",
    "WorkerDiedError",
    "WorkerError",
    "WorkerGroup",
    "WorkerGroupError",
    "WorkerTimeoutError",
    "data_parallel",
    "on_all_ranks",
    "rank_zero",
]
