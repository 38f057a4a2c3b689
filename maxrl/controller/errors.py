"""Errors a worker group raises on the driver.

Every failure of a group call (an exception in a worker, a worker process that died, a call that did
not finish in time) shuts the whole group down before the error is raised: after a partial failure
the ranks of a torch.distributed world may be stuck in a collective, so the group cannot be trusted
for another call, and killing it guarantees that nothing hangs.
"""

from __future__ import annotations


class WorkerGroupError(RuntimeError):
    """Base class: a worker group call failed, or the group was already shut down."""


class WorkerError(WorkerGroupError):
    """An exception raised inside a worker; carries the worker's rank, its group (the worker class, e.g.
    ``RolloutWorker``) and its full traceback."""

    def __init__(self, rank: int, method: str, remote_traceback: str, group: str = "worker"):
        lines = [line for line in remote_traceback.splitlines() if line.strip()]
        summary = lines[-1] if lines else "an exception"
        super().__init__(f"{group} rank {rank} raised {summary} in {method}(); its traceback:\n{remote_traceback}")
        self.rank = rank
        self.method = method
        self.remote_traceback = remote_traceback
        self.group = group

    def __reduce__(self):  # keep the fields when Ray pickles the error back to the driver
        return type(self), (self.rank, self.method, self.remote_traceback, self.group)


# Ray's GCS declares a node dead when its raylet exits or misses this many health checks in a row.
NODE_TIMEOUT_KEYS = "RAY_health_check_failure_threshold (or RAY_health_check_timeout_ms)"


class WorkerDiedError(WorkerGroupError):
    """A worker process exited (crash, OOM kill, os._exit), or its node left the Ray cluster, while the driver
    waited for it. `node` names the worker's node (IP and id) when the group knows it; `node_lost` says the
    node is no longer alive in the cluster."""

    def __init__(self, rank: int, method: str, cause: str, group: str = "worker", node: str | None = None,
                 node_lost: bool = False):
        if node_lost:
            what = (f"{group} rank {rank} died during {method}() with its node {node}, which left the Ray cluster "
                    "(its raylet exited or stopped answering Ray's health checks; if the node is up but was "
                    f"unreachable for a while, raise {NODE_TIMEOUT_KEYS} where the head node's `ray start` runs)")
        else:
            what = f"{group} rank {rank}{f' on node {node}' if node else ''} died during {method}()"
        super().__init__(f"{what}; the worker group was shut down. Ray reports: {cause}")
        self.rank = rank
        self.method = method
        self.group = group
        self.node = node
        self.node_lost = node_lost


class WorkerTimeoutError(WorkerGroupError, TimeoutError):
    """A call did not finish within the group's timeout (a stuck collective, a dead peer, a hang)."""

    def __init__(self, method: str, pending_ranks: list[int], timeout_s: float, knob: str, likely_causes: str,
                 group: str = "worker"):
        super().__init__(
            f"{method}() did not finish within {knob}={timeout_s:g} on {group} ranks {pending_ranks} ({likely_causes}); "
            f"the worker group was shut down. Raise {knob} if this step is legitimately slow."
        )
        self.method = method
        self.pending_ranks = pending_ranks
        self.timeout_s = timeout_s
        self.group = group
