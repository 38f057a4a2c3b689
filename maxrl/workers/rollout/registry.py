"""Rollout backends by name (``actor_rollout_ref.rollout.name``), so new engines slot in beside ``hf``."""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["ROLLOUT_BACKENDS", "build_rollout", "register_rollout"]

ROLLOUT_BACKENDS: dict[str, type] = {}
"""Registered backend classes by name."""

_BUILTIN_MODULES = {"hf": "maxrl.workers.rollout.hf_rollout", "vllm": "maxrl.workers.rollout.vllm_rollout"}
"""Where the built-in backends live; imported on first use so that e.g. vLLM loads only when chosen."""


def register_rollout(name: str) -> Callable[[type], type]:
    """Class decorator: make a backend available as ``actor_rollout_ref.rollout.name=<name>``."""

    def register(backend_cls: type) -> type:
        if name in ROLLOUT_BACKENDS and ROLLOUT_BACKENDS[name] is not backend_cls:
            raise ValueError(f"rollout backend {name!r} is already registered by {ROLLOUT_BACKENDS[name]!r}")
        ROLLOUT_BACKENDS[name] = backend_cls
        return backend_cls

    return register


def build_rollout(name: str, **kwargs):
    """Construct the backend registered as `name` with keyword arguments ``config``, ``tokenizer``, ``device``."""
    if name not in ROLLOUT_BACKENDS and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    if name not in ROLLOUT_BACKENDS:
        known = sorted({*ROLLOUT_BACKENDS, *_BUILTIN_MODULES})
        raise ValueError(
            f"actor_rollout_ref.rollout.name={name!r} is not a rollout backend; choose one of {known}"
        )
    return ROLLOUT_BACKENDS[name](**kwargs)
