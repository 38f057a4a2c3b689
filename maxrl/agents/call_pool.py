"""The process pool that runs tool and interaction calls, each under a time limit.

User code never runs in a training process: the pool's processes are spawned fresh (no Ray or torch
threads inherited), build every configured tool and interaction once, and run one call at a time. A call
that outlives ``multi_turn.call_timeout_s`` has its process killed and replaced (pebble); an exception is
caught in the pool process and comes back as text. Either way the caller gets a `CallOutcome`, never an
exception, so one bad call costs one error message to the model and one count in the metrics.

The pool's processes end with their parent: each watches its parent process id and exits when it changes,
so a killed worker leaves no tool process behind.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import TimeoutError as CallTimeout
from dataclasses import dataclass
from typing import Any

import pebble

from maxrl.agents.base import InteractionReply, ToolResult
from maxrl.agents.config_files import InteractionSpec, ToolSpec

__all__ = ["CallOutcome", "CallPool", "EXCEPTION", "OK", "TIMEOUT"]

OK, EXCEPTION, TIMEOUT = "ok", "exception", "timeout"
_PARENT_CHECK_S = 1.0

_tools: dict[str, Any] = {}
_interactions: dict[str, Any] = {}


@dataclass
class CallOutcome:
    """``status`` OK with the method's `value` and the `state` after the call, or EXCEPTION / TIMEOUT with a
    `message`; `seconds` as measured by the caller."""

    status: str
    value: Any = None
    state: Any = None
    message: str = ""
    seconds: float = 0.0


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(_PARENT_CHECK_S)
    os._exit(1)


def _build(tool_specs: list[ToolSpec], interaction_specs: list[InteractionSpec], parent_pid: int) -> None:
    """Pool initializer: build the tools and interactions once per process."""
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    _tools.update({spec.name: spec.build() for spec in tool_specs})
    _interactions.update({spec.name: spec.build() for spec in interaction_specs})


def _as_tool_result(value: Any) -> ToolResult:
    """verl tools return ``(response, reward, metrics)``; plain text is accepted too."""
    if isinstance(value, ToolResult):
        return value
    if isinstance(value, str):
        return ToolResult(value)
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        reward = float(value[1]) if len(value) > 1 else 0.0
        return ToolResult(value[0], reward, dict(value[2]) if len(value) > 2 else {})
    raise TypeError(f"a tool's execute must return a ToolResult or a str, got {type(value).__name__}")


def _as_reply(value: Any) -> InteractionReply:
    """verl interactions return ``(should_terminate, response, score, extra)``; a reply object is accepted too."""
    if isinstance(value, InteractionReply):
        return value
    if isinstance(value, tuple) and len(value) >= 2:
        return InteractionReply(str(value[1]), bool(value[0]), float(value[2]) if len(value) > 2 else 0.0)
    raise TypeError(f"generate_response must return an InteractionReply, got {type(value).__name__}")


_RESULT_TYPES = {"execute": _as_tool_result, "generate_response": _as_reply}
"""Methods whose return value goes back to the caller; the others return or take the episode's state."""


def _run_call(kind: str, name: str, method: str, state: Any, args: tuple, kwargs: dict) -> tuple:
    """In a pool process: ``(status, value or message, state after the call, seconds)``."""
    target = (_tools if kind == "tool" else _interactions)[name]
    started = time.monotonic()
    try:
        if method in ("create", "start_interaction"):
            status, value, state = OK, None, getattr(target, method)(**kwargs)
        elif method in _RESULT_TYPES:
            status, value = OK, _RESULT_TYPES[method](getattr(target, method)(*args, state, **kwargs))
        else:  # release / finalize_interaction
            status, value = OK, getattr(target, method)(state)
    except Exception as error:  # the model sees the message; the run goes on
        status, value = EXCEPTION, f"{type(error).__name__}: {error}"
    return status, value, state, time.monotonic() - started


class CallPool:
    """`workers` processes that hold the configured tools and interactions."""

    def __init__(self, tool_specs: list[ToolSpec], interaction_specs: list[InteractionSpec], workers: int,
                 timeout_s: float):
        self.timeout_s = float(timeout_s)
        self._pool = pebble.ProcessPool(
            max_workers=workers,
            initializer=_build,
            initargs=(list(tool_specs), list(interaction_specs), os.getpid()),
            context=multiprocessing.get_context("spawn"),
        )

    def run(self, calls: list[tuple[str, str, str, Any, tuple, dict]]) -> list[CallOutcome]:
        """Run ``(kind, name, method, state, args, kwargs)`` calls concurrently; outcomes in the same order."""
        futures = [self._pool.schedule(_run_call, args=call, timeout=self.timeout_s) for call in calls]
        outcomes = []
        for call, future in zip(calls, futures):
            try:
                status, value, state, seconds = future.result()
            except CallTimeout:
                status, value, state, seconds = TIMEOUT, f"timed out after {self.timeout_s:g} s", call[3], self.timeout_s
            except Exception as error:  # the process died (e.g. killed by the OS): reported like an exception
                status, value, state, seconds = EXCEPTION, f"the call's process failed: {error}", call[3], 0.0
            if status == OK:
                outcomes.append(CallOutcome(OK, value, state, seconds=seconds))
            else:
                outcomes.append(CallOutcome(status, None, state, value, seconds))
        return outcomes

    def close(self) -> None:
        self._pool.stop()
        self._pool.join(timeout=10)
