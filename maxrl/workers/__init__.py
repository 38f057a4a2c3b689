"""Workers: the processes that hold the policy (FSDP2 actor, reference, rollout engine).

`ActorRolloutRefWorker` is imported lazily so that the driver can use `maxrl.workers.batch_sizes`
without importing model code.
"""

from maxrl.workers.batch_sizes import BatchSizeError, BatchSizes, resolve_batch_sizes, update_order

__all__ = ["ActorRolloutRefWorker", "BatchSizeError", "BatchSizes", "resolve_batch_sizes", "update_order"]


def __getattr__(name: str):
    if name == "ActorRolloutRefWorker":
        from maxrl.workers.actor_rollout_ref_worker import ActorRolloutRefWorker

        return ActorRolloutRefWorker
    raise AttributeError(f"module 'maxrl.workers' has no attribute {name!r}")
