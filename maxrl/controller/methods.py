"""How each worker method is called from the driver, declared once next to the method.

A worker class marks the methods the driver may call with one of three decorators:

* ``@data_parallel``: the first argument is a `Batch`, split by data-parallel rank (`maxrl.controller.dispatch`);
* ``@on_all_ranks``: the same arguments on every rank, one result per rank (collectives, checkpoints);
* ``@rank_zero``: rank 0 only (must not enter a collective).

The `WorkerGroup` then offers each marked method under its own name (``workers.update_actor(batch)``), so a
call site cannot pick the wrong mode. Plain Python: no Ray here, so worker modules import it freely.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from maxrl.data.batch import Batch

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__maxrl_dispatch__"


class Dispatch(enum.Enum):
    DATA_PARALLEL = "data_parallel"
    ON_ALL_RANKS = "on_all_ranks"
    RANK_ZERO = "rank_zero"

    def __str__(self) -> str:
        return f"@{self.value}"


def dispatched(mode: Dispatch) -> Callable[[F], F]:
    """Mark a worker method as callable from the driver in `mode`."""

    def mark(fn: F) -> F:
        setattr(fn, _MARK, mode)
        return fn

    return mark


data_parallel = dispatched(Dispatch.DATA_PARALLEL)
on_all_ranks = dispatched(Dispatch.ON_ALL_RANKS)
rank_zero = dispatched(Dispatch.RANK_ZERO)


def declared_methods(worker_cls: type) -> dict[str, Dispatch]:
    """The marked methods of `worker_cls` (inherited ones included) and their modes."""
    methods = {}
    for name in dir(worker_cls):
        mode = getattr(getattr(worker_cls, name, None), _MARK, None)
        if isinstance(mode, Dispatch):
            methods[name] = mode
    return methods


def check_call(owner: str, method: str, mode: Dispatch, args: tuple, kwargs: Mapping[str, Any]) -> None:
    """Reject arguments that do not fit the declared mode, naming the method and its mode.

    A `Batch` given to an ``@on_all_ranks`` / ``@rank_zero`` method would be processed whole on every rank
    it reaches (the silent misuse this guards against); a ``@data_parallel`` method needs one to split.
    """
    where = f"{owner}.{method}() is declared {mode}"
    if mode is Dispatch.DATA_PARALLEL:
        if not args or not isinstance(args[0], Batch):
            raise TypeError(f"{where}: its first argument must be the Batch to split across ranks")
        extra = [arg for arg in (*args[1:], *kwargs.values()) if isinstance(arg, Batch)]
        if len(args) > 1 or extra:
            raise TypeError(f"{where}: pass the Batch first and everything else as keyword arguments")
        return
    if any(isinstance(arg, Batch) for arg in (*args, *kwargs.values())):
        raise TypeError(
            f"{where} but was given a Batch: every rank it runs on would process the whole batch; "
            f"declare it {Dispatch.DATA_PARALLEL} to split the batch across ranks"
        )
