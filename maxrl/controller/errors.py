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
    """An exception raised inside a worker; carries the worker's rank and its full traceback."""

    def __init__(self, rank: int, method: str, remote_traceback: str):
        lines = [line for line in remote_traceback.splitlines() if line.strip()]
        summary = lines[-1] if lines else "an exception"
        super().__init__(f"worker rank {rank} raised {summary} in {method}(); its traceback:\n{remote_traceback}")
        self.rank = rank
        self.method = method
        self.remote_traceback = remote_traceback

    def __reduce__(self):  # keep the fields when Ray pickles the error back to the driver
        return type(self), (self.rank, self.method, self.remote_traceback)


class WorkerDiedError(WorkerGroupError):
    """A worker process exited (crash, OOM kill, os._exit) while the driver waited for it."""

    def __init__(self, rank: int, method: str, cause: str):
        super().__init__(
            f"worker rank {rank} died during {method}(); the worker group was shut down. Ray reports: {cause}"
        )
        self.rank = rank
        self.method = method


class WorkerTimeoutError(WorkerGroupError, TimeoutError):
    """A call did not finish within the group's timeout (a stuck collective, a dead peer, a hang)."""

    def __init__(self, method: str, pending_ranks: list[int], timeout_s: float, knob: str, likely_causes: str):
        super().__init__(
            f"{method}() did not finish within {knob}={timeout_s:g} on ranks {pending_ranks} ({likely_causes}); "
            f"the worker group was shut down. Raise {knob} if this step is legitimately slow."
        )
        self.method = method
        self.pending_ranks = pending_ranks
        self.timeout_s = timeout_s
