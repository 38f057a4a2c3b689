"""A WorkerGroup: one Ray actor per bundle of a resource pool, together one torch.distributed world.

The driver calls a worker method by its name on the group (``workers.update_actor(batch)``); how the call
is shared out is the one declared next to the method (`maxrl.controller.methods`: ``@data_parallel``,
``@on_all_ranks``, ``@rank_zero``; sharding in `maxrl.controller.dispatch`). Every call waits at most
``timeout_s``; any failure (worker exception, dead worker, timeout) shuts the group down and raises a
`WorkerGroupError` subclass naming the config key of the timeout, so the driver never hangs.

``workers.submit(name, ...)`` starts the same call without waiting and returns a `PendingCall` whose
``result()`` waits (the timeout counts from then); a Ray actor runs its calls in the order they were
submitted, which is what lets the asynchronous pipeline queue generations and weight loads (docs/async.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from maxrl.controller.dispatch import DataParallelLayout, gather_shards, shard_batch
from maxrl.controller.errors import (
    WorkerDiedError,
    WorkerError,
    WorkerGroupError,
    WorkerTimeoutError,
)
from maxrl.controller.group_base import WorkerGroupBase
from maxrl.controller.methods import Dispatch
from maxrl.controller.resources import ResourcePool
from maxrl.controller.worker_host import WorkerHost, process_group_backend
from maxrl.data.batch import Batch

logger = logging.getLogger(__name__)

_RemoteWorkerHost = ray.remote(WorkerHost)
_FAILURE_GRACE_S = 2.0
_NODE_VERDICT_WAIT_S = 30.0  # Ray's health checks declare a lost node dead within ~15-25 s
_CALL_HANG_CAUSES = "a stuck collective, a dead peer or a hang"
_START_HANG_CAUSES = (
    "the actors could not be scheduled (is another worker group still using this pool?), "
    "the process group did not form, or building the worker is slow"
)


def node_lost(node_id: str, wait_s: float = 0.0) -> bool:
    """Whether the Ray cluster no longer counts the node `node_id` among its live nodes, waiting up to
    `wait_s` for it to say so (it declares a node dead once its raylet missed its health checks)."""
    deadline = time.monotonic() + wait_s
    while True:
        if not any(node["NodeID"] == node_id and node.get("Alive") for node in ray.nodes()):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(1.0)


class PendingCall:
    """A submitted group call: `done` polls, `result` waits and returns what the blocking call would."""

    def __init__(self, group: WorkerGroup, method: str, refs: list[ray.ObjectRef], finish: Callable[[list], Any]):
        self._group, self._method, self._refs, self._finish = group, method, refs, finish

    def done(self) -> bool:
        ready, _ = ray.wait(self._refs, num_returns=len(self._refs), timeout=0)
        return len(ready) == len(self._refs)

    def result(self) -> Any:
        return self._finish(self._group._gather(self._method, self._refs))


class WorkerGroup(WorkerGroupBase):
    """Start ``worker_cls(*init_args)`` on every bundle of `pool`, inside one distributed world.

    Args:
        worker_cls: a plain class; built after ``init_process_group``. The methods it marks with a
            `maxrl.controller.methods` decorator become methods of the group. It may define
            ``dp_rank_and_size() -> (int, int)`` when not every rank is its own data-parallel rank
            (e.g. tensor-parallel peers share one); by default rank r is data-parallel rank r.
        pool: where the workers run; one worker per bundle, ranks in the pool's node-contiguous order.
        init_args: passed to ``worker_cls`` on every rank.
        timeout_s: the most any single call may take before the group is killed (10 minutes by
            default: long enough for a slow step, short enough that a frozen worker is noticed).
        start_timeout_s: the most start-up may take (actors scheduled, process group formed, workers
            built); defaults to `timeout_s`.
        timeout_key: the config key that set `timeout_s` (and `start_timeout_s` when that is not given),
            named in the log and in timeout errors so the user knows what to raise.
        env: extra environment variables for the worker processes (e.g. NCCL settings).
        torch_threads: intra-op threads per worker; ``None`` = the node's cores shared evenly by its workers.
        workers_sharing_node: with ``torch_threads=None``, how many processes compute on a node at the same
            time, this group's and others' (e.g. a rollout pool that generates while this group trains);
            ``None`` = this group's workers on the node alone.
        keep_freed_memory: on a CPU pool, each worker process keeps the memory it frees for reuse
            (`maxrl.utils.cpu_process`) instead of faulting it in again for every large tensor. A CPU
            pool's workers also hand grouped key/value heads to sdpa as they are (same module).
    """

    def __init__(
        self,
        worker_cls: type,
        pool: ResourcePool,
        *init_args: Any,
        timeout_s: float = 600.0,
        start_timeout_s: float | None = None,
        timeout_key: str = "timeout_s",
        env: dict[str, str] | None = None,
        torch_threads: int | None = None,
        workers_sharing_node: int | None = None,
        keep_freed_memory: bool = False,
    ):
        self._timeout_keys = (timeout_key, timeout_key if start_timeout_s is None else "start_timeout_s")
        start_timeout_s = timeout_s if start_timeout_s is None else start_timeout_s
        if min(timeout_s, start_timeout_s) <= 0:
            raise ValueError(f"WorkerGroup: timeouts must be > 0, got {timeout_s=} and {start_timeout_s=}")
        super().__init__(worker_cls)
        self.pool = pool
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.world_size = pool.world_size
        self._hosts = [
            self._start_host(rank, bundle, env, torch_threads, workers_sharing_node, keep_freed_memory)
            for rank, bundle in enumerate(pool.bundles)
        ]
        master_addr, master_port = self._gather(
            "rendezvous_address", [self._hosts[0].rendezvous_address.remote()], start_up=True
        )[0]
        backend = process_group_backend(pool.device)
        # The collective timeout covers both start-up and calls; the driver's own deadlines fire first.
        collective_timeout_s = max(timeout_s, start_timeout_s)
        reports = self._gather(
            f"{worker_cls.__name__}.__init__",
            [host.setup.remote(master_addr, master_port, backend, collective_timeout_s, worker_cls, init_args)
             for host in self._hosts],
            start_up=True,
        )
        try:
            self.layout = DataParallelLayout.from_reports(reports)
        except ValueError:
            self.shutdown()
            raise
        logger.info(
            "worker group %s: world size %d (data-parallel %d), backend %s, rendezvous %s:%d; a call that takes "
            "longer than %g s (%s) ends the run",
            worker_cls.__name__, self.world_size, self.layout.dp_size, backend, master_addr, master_port,
            timeout_s, timeout_key,
        )

    def _start_host(
        self, rank: int, bundle, env: dict[str, str] | None, torch_threads: int | None,
        workers_sharing_node: int | None, keep_freed_memory: bool,
    ):
        options: dict[str, Any] = {
            "num_cpus": self.pool.cpus_per_worker,
            "num_gpus": 1 if self.pool.device == "cuda" else 0,
            "scheduling_strategy": PlacementGroupSchedulingStrategy(
                placement_group=bundle.placement_group, placement_group_bundle_index=bundle.index
            ),
        }
        if env:
            options["runtime_env"] = {"env_vars": dict(env)}
        return _RemoteWorkerHost.options(**options).remote(
            rank, self.world_size, bundle.local_rank, self.pool.per_node, torch_threads, workers_sharing_node,
            self.pool.device, keep_freed_memory,
        )

    # ---------------------------------------------------------------- calls
    def _start(self, method: str, mode: Dispatch, args: tuple, kwargs: dict[str, Any]) -> PendingCall:
        if mode is Dispatch.DATA_PARALLEL:
            return self._dispatch(method, args[0], kwargs)
        if mode is Dispatch.ON_ALL_RANKS:
            payload = ray.put((args, kwargs))  # serialised once, shared by all ranks
            return PendingCall(self, method, [host.call.remote(method, payload) for host in self._hosts], list)
        return PendingCall(self, method, [self._hosts[0].call.remote(method, (args, kwargs))], lambda out: out[0])

    def _dispatch(self, method: str, batch: Batch, kwargs: dict[str, Any]) -> PendingCall:
        """Split `batch` by data-parallel rank and call ``method(shard, **kwargs)``; the result gathers them.

        Uneven batches are padded with copies of real rows (marked ``sample_valid == 0``) and the
        rows produced from padding are stripped again. `Batch` results are concatenated in
        data-parallel order; other results (e.g. metric dicts) come back as a list per data-parallel rank.
        """
        shards, num_pad = shard_batch(batch, self.layout.dp_size)
        payloads = [ray.put(((shard,), kwargs)) for shard in shards]
        refs = [host.call.remote(method, payloads[dp]) for host, dp in zip(self._hosts, self.layout.dp_ranks)]

        def gather(outputs: list) -> Batch | list[Any]:
            kept = [outputs[rank] for rank in self.layout.collect_ranks]
            return gather_shards(kept, len(shards[0]), num_pad, method)

        return PendingCall(self, method, refs, gather)

    # ------------------------------------------------------------- plumbing
    def _running(self) -> bool:
        return bool(self._hosts)

    def _gather(self, method: str, refs: Sequence[ray.ObjectRef], start_up: bool = False) -> list[Any]:
        """Results of `refs` (ref i belongs to rank i) in rank order; the first failure ends the group.

        A call still running at half its timeout is logged (with the key that sets it), so a stall is
        visible before the timeout ends the run.
        """
        timeout_s = self.start_timeout_s if start_up else self.timeout_s
        knob, causes = (self._timeout_keys[1], _START_HANG_CAUSES) if start_up else (
            self._timeout_keys[0], _CALL_HANG_CAUSES)
        started = time.monotonic()
        deadline, warn_at = started + timeout_s, started + timeout_s / 2
        pending = {ref: rank for rank, ref in enumerate(refs)}
        results: dict[int, Any] = {}
        while pending:
            wait_until = deadline if warn_at is None else warn_at
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=max(0.0, wait_until - time.monotonic()))
            if not ready and warn_at is not None:
                logger.warning(
                    "%s() still running on ranks %s after %.0f s; the run ends at %s=%g s",
                    method, sorted(pending.values()), time.monotonic() - started, knob, timeout_s,
                )
                warn_at = None
                continue
            if not ready:
                self._fail([WorkerTimeoutError(method, sorted(pending.values()), timeout_s, knob, causes,
                                               self.worker_cls.__name__)])
            rank = pending.pop(ready[0])
            try:
                results[rank] = self._result(ready[0], rank, method)
            except WorkerGroupError as error:
                self._fail([error, *self._settle(pending, method)])
        return [results[rank] for rank in range(len(refs))]

    def _settle(self, pending: dict[ray.ObjectRef, int], method: str) -> list[WorkerGroupError]:
        """Failures of the other ranks that end within a short grace period after a first failure.

        When one rank dies, its peers fail a moment later in a collective ("connection reset by
        peer"); collecting them lets the group report the root cause instead of a symptom.
        """
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=_FAILURE_GRACE_S)
        failures = []
        for ref in ready:
            try:
                self._result(ref, pending[ref], method)
            except WorkerGroupError as error:
                failures.append(error)
        return failures

    def _fail(self, failures: list[WorkerGroupError]) -> None:
        """Shut the group down and raise the most telling failure: a death, else the lowest-rank error."""
        died = [f for f in failures if isinstance(f, WorkerDiedError)]
        raised = sorted((f for f in failures if isinstance(f, WorkerError)), key=lambda f: f.rank)
        error = (died or raised or failures)[0]
        self._failure = str(error).splitlines()[0]
        self.shutdown()
        raise error

    def _result(self, ref: ray.ObjectRef, rank: int, method: str) -> Any:
        """Fetch one finished result, turning Ray's failure types into the group's errors."""
        group = self.worker_cls.__name__
        try:
            return ray.get(ref)
        except RayTaskError as error:
            if isinstance(error.cause, WorkerError):
                raise error.cause from None
            raise WorkerError(rank, method, str(error), group) from None
        except RayActorError as error:
            # An actor Ray cannot reach (rather than one whose process exited) usually sits on a node that is
            # going: wait for Ray's verdict on the node, so the error can say it left.
            bundle = self.pool.bundles[rank]
            node = f"{bundle.node_ip} (id {bundle.node_id[:12]})"
            wait_s = _NODE_VERDICT_WAIT_S if isinstance(error, ActorUnavailableError) else 0.0
            raise WorkerDiedError(rank, method, str(error), group, node, node_lost(bundle.node_id, wait_s)) from None

    def shutdown(self) -> None:
        """Kill every worker process (idempotent); the pool's reservation stays for a new group."""
        for host in self._hosts:
            ray.kill(host, no_restart=True)
        self._hosts = []
