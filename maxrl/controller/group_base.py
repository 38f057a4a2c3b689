"""What every worker group offers the driver, whatever runs the workers (Ray actors or the driver's own process).

A group exposes the methods its worker class marks with a `maxrl.controller.methods` decorator as methods of
its own (``workers.update_actor(batch)``), refuses arguments that do not fit a method's declared mode before
anything runs, and reports when it has been shut down. `submit` starts a call and returns a pending call
with ``done()`` and ``result()``; how a call reaches the workers is the subclass's `_start`. Plain Python:
no Ray here.
"""

from __future__ import annotations

import abc
import functools
from typing import Any

from maxrl.controller.dispatch import DataParallelLayout
from maxrl.controller.errors import WorkerGroupError
from maxrl.controller.methods import Dispatch, check_call, declared_methods


class WorkerGroupBase(abc.ABC):
    """The declared methods of `worker_cls` as methods of the group; subclasses run them (`_start`).

    Subclasses set `world_size` and `layout` once their workers are up, `_failure` (the first line of the
    error that ended the group) when a call fails, and say through `_running` whether workers are left.
    """

    world_size: int
    layout: DataParallelLayout
    _failure: str | None = None

    def __init__(self, worker_cls: type):
        self.worker_cls = worker_cls
        self.methods = declared_methods(worker_cls)
        clashes = sorted(name for name in self.methods if hasattr(type(self), name))
        if clashes:
            raise TypeError(f"{worker_cls.__name__} declares {clashes}, which are names of the worker group itself; rename them")

    @property
    def dp_size(self) -> int:
        return self.layout.dp_size

    def __getattr__(self, name: str):
        """A declared worker method as a method of the group, called in its declared mode."""
        methods = self.__dict__.get("methods", {})
        if name not in methods:
            raise AttributeError(
                f"{self.__dict__.get('worker_cls', type(None)).__name__} declares no method {name!r} for the driver "
                f"(declared: {sorted(methods)}); mark worker methods with @data_parallel, @on_all_ranks or "
                "@rank_zero from maxrl.controller.methods"
            )
        return functools.partial(self._call, name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.__dict__.get("methods", {})})

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.submit(method, *args, **kwargs).result()

    def submit(self, method: str, *args: Any, **kwargs: Any):
        """Start ``method`` in its declared mode; the returned call's ``result()`` gives what the blocking call would."""
        if method not in self.methods:
            getattr(self, method)  # raises the AttributeError that lists the declared methods
        mode = self.methods[method]
        check_call(self.worker_cls.__name__, method, mode, args, kwargs)
        if not self._running():
            after = f" after: {self._failure}" if self._failure else ""
            raise WorkerGroupError(f"the {self.worker_cls.__name__} worker group is shut down{after}")
        return self._start(method, mode, args, kwargs)

    @abc.abstractmethod
    def _start(self, method: str, mode: Dispatch, args: tuple, kwargs: dict[str, Any]):
        """Run ``method`` on the workers in `mode`; return a call with ``done()`` and ``result()``."""

    @abc.abstractmethod
    def _running(self) -> bool:
        """Whether the group still has its workers."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stop every worker (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
