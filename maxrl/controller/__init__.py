"""Worker groups: the driver's handle on its workers, in Ray actors (`WorkerGroup` on a `ResourcePool`) or in
the driver's own process (`LocalWorkerGroup`). Ray is imported only when a Ray-backed name is first used, so
a local run never loads it."""

import importlib

from maxrl.controller.dispatch import DataParallelLayout
from maxrl.controller.errors import WorkerDiedError, WorkerError, WorkerGroupError, WorkerTimeoutError
from maxrl.controller.local_group import LocalWorkerGroup
from maxrl.controller.methods import Dispatch, data_parallel, on_all_ranks, rank_zero

_RAY_BACKED = {"ResourcePool": "maxrl.controller.resources", "WorkerGroup": "maxrl.controller.worker_group"}

__all__ = [
    "DataParallelLayout",
    "Dispatch",
    "LocalWorkerGroup",
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


def __getattr__(name: str):
    if name in _RAY_BACKED:
        return getattr(importlib.import_module(_RAY_BACKED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
