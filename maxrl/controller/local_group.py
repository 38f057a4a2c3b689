"""A worker group of one worker in the driver's own process: a run on one GPU or one laptop without Ray.

`LocalWorkerGroup` offers what `WorkerGroup` offers (the worker class's ``@data_parallel``,
``@on_all_ranks`` and ``@rank_zero`` methods, `submit`, `shutdown`, `world_size`, `dp_size`, `layout`) and
hosts the worker exactly as a Ray actor would (`maxrl.controller.worker_host.WorkerHost`: the same torch
threads and CPU settings, a torch.distributed world, here of one rank), so a run gives the same results on
either (``trainer.worker_backend``; the parity test is tests/integration/trainer/test_trn_local_backend.py).
What differs, and why results do not:

* a call runs when it is submitted, in the driver's thread; `submit` returns it finished (a Ray actor too
  runs its calls one at a time in submission order);
* the worker's global random generators (Python's, numpy's, torch's) are its own, as in a process of its
  own: they start as a fresh process's do and are swapped in around every call, so neither side's draws
  move the other's;
* batches are handed over, not copied: a worker treats its input as read-only (every `Batch` operation
  returns a new batch);
* no call is cut off at a timeout (it runs in the driver's thread); the timeout bounds the world's
  collectives, which in a world of one rank have no peer to wait for;
* a worker exception is the same `WorkerError` with the worker's traceback, and ends the group the same way.

`shutdown` leaves the world, frees the worker and gives back the environment variables and torch's thread
count as they were; the C library's keep-freed-memory setting (`maxrl.utils.cpu_process`) stays for the
life of the process.
"""

from __future__ import annotations

import gc
import logging
import os
import random
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from maxrl.controller.dispatch import DataParallelLayout, gather_shards, shard_batch
from maxrl.controller.errors import WorkerGroupError
from maxrl.controller.group_base import WorkerGroupBase
from maxrl.controller.methods import Dispatch
from maxrl.controller.worker_host import WorkerHost, free_port, process_group_backend

logger = logging.getLogger(__name__)

_LOOPBACK = "127.0.0.1"


class CompletedCall:
    """A call that already ran: `done` is True; `result` returns what the blocking call would, or raises its error."""

    def __init__(self, output: Any = None, finish: Callable[[Any], Any] | None = None,
                 error: WorkerGroupError | None = None):
        self._output, self._finish, self._error = output, finish, error

    def done(self) -> bool:
        return True

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._finish(self._output)


class _OwnRandomState:
    """The worker's global random generators, kept apart from the driver's (Python's, numpy's, torch's CPU one).

    They start as in a fresh process (torch's default seed; Python's and numpy's from the OS's entropy) and are
    swapped in around each call. On CUDA the worker is the only user of the device in this process; its
    generator is set to a fresh process's seed once, when the group starts.
    """

    def __init__(self, device: str):
        fresh_seed = torch.Generator().initial_seed()
        self._states = (random.Random().getstate(), np.random.RandomState().get_state(),
                        torch.Generator().manual_seed(fresh_seed).get_state())
        if device == "cuda":
            torch.cuda.manual_seed_all(fresh_seed)

    @staticmethod
    def _current() -> tuple:
        return random.getstate(), np.random.get_state(), torch.get_rng_state()

    @staticmethod
    def _install(states: tuple) -> None:
        python, numpy, torch_cpu = states
        random.setstate(python)
        np.random.set_state(numpy)
        torch.set_rng_state(torch_cpu)

    @contextmanager
    def active(self):
        driver = self._current()
        self._install(self._states)
        try:
            yield
        finally:
            self._states = self._current()
            self._install(driver)


class _ProcessSettings:
    """The environment variables and torch thread count that hosting a worker changes, to give them back."""

    def __init__(self):
        self._environ = dict(os.environ)
        self._threads = torch.get_num_threads()

    def restore(self) -> None:
        for key in set(os.environ) - set(self._environ):
            del os.environ[key]
        for key, value in self._environ.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        torch.set_num_threads(self._threads)


class LocalWorkerGroup(WorkerGroupBase):
    """Build ``worker_cls(*init_args)`` in this process, as rank 0 of a one-rank torch.distributed world.

    Args:
        worker_cls: a plain class whose methods marked with a `maxrl.controller.methods` decorator become
            methods of the group (as for `WorkerGroup`).
        init_args: passed to ``worker_cls``.
        device: ``cpu`` (a gloo world) or ``cuda`` (nccl, on the first visible GPU).
        collective_timeout_s: how long a collective of the world may wait.
        torch_threads: intra-op threads; ``None`` = every core of the machine (a Ray worker alone on its node
            gets the same).
        keep_freed_memory: on CPU, keep the memory freed for reuse (`maxrl.utils.cpu_process`).
    """

    def __init__(
        self,
        worker_cls: type,
        *init_args: Any,
        device: str = "cpu",
        collective_timeout_s: float = 600.0,
        torch_threads: int | None = None,
        keep_freed_memory: bool = False,
    ):
        super().__init__(worker_cls)
        if dist.is_initialized():
            raise WorkerGroupError(
                f"cannot start a local {worker_cls.__name__} worker group: this process already has a "
                "torch.distributed world (a local group's or another); shut it down first, or run the groups "
                "on Ray (trainer.worker_backend=ray)"
            )
        self.world_size = 1
        self._device = device
        self._settings = _ProcessSettings()
        self._random = _OwnRandomState(device)
        self._host: WorkerHost | None = WorkerHost(0, 1, 0, 1, torch_threads, None, device, keep_freed_memory)
        backend = process_group_backend(device)
        address = (_LOOPBACK, free_port(_LOOPBACK))
        report = self._run(lambda: self._host.setup(*address, backend, collective_timeout_s, worker_cls, init_args))
        self.layout = DataParallelLayout.from_reports([report])
        logger.info(
            "worker group %s: one worker in the driver's process (no Ray), device %s, backend %s, %d torch threads",
            worker_cls.__name__, device, backend, torch.get_num_threads(),
        )

    def _start(self, method: str, mode: Dispatch, args: tuple, kwargs: dict[str, Any]) -> CompletedCall:
        if mode is Dispatch.DATA_PARALLEL:  # one shard, marked with `sample_valid` as every rank's shard is
            (shard,), num_pad = shard_batch(args[0], 1)
            return self._completed(method, (shard,), kwargs, lambda out: gather_shards([out], len(shard), num_pad, method))
        if mode is Dispatch.ON_ALL_RANKS:
            return self._completed(method, args, kwargs, lambda out: [out])
        return self._completed(method, args, kwargs, lambda out: out)

    def _completed(self, method: str, args: tuple, kwargs: dict[str, Any], finish: Callable[[Any], Any]) -> CompletedCall:
        try:
            return CompletedCall(self._run(lambda: self._host.call(method, (args, kwargs))), finish)
        except WorkerGroupError as error:
            return CompletedCall(error=error)

    def _run(self, host_call: Callable[[], Any]) -> Any:
        """Run `host_call` with the worker's random state; a failure ends the group and is raised."""
        try:
            with self._random.active():
                return host_call()
        except WorkerGroupError as error:
            self._failure = str(error).splitlines()[0]
            self.shutdown()
            raise

    def _running(self) -> bool:
        return self._host is not None

    def shutdown(self) -> None:
        """Leave the world, free the worker, give back the process settings (idempotent)."""
        if self._host is None:
            return
        self._host.worker = None
        self._host = None
        if dist.is_initialized():
            dist.destroy_process_group()
        gc.collect()
        if self._device == "cuda":
            torch.cuda.empty_cache()
        self._settings.restore()
