"""Reward manager names (``reward_model.reward_manager``) and the kwargs each accepts.

All names build the same ``RewardManager``; they differ only in the spelling of their options
(``reward_model.reward_kwargs.*``, as the paper's scripts pass them) and in their defaults. An option a name
does not know is an error, so a misspelt key never silently falls back to a default.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maxrl.rewards.failures import FailurePolicy
from maxrl.rewards.manager import RewardManager, available_cores


def _key(name: str) -> str:
    return f"reward_model.reward_kwargs.{name}"


def _worker_count(name: str, value) -> int:
    """A positive int, or None/"auto" for every available core."""
    if value is None or value == "auto":
        return available_cores()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    raise ValueError(f"{_key(name)}={value!r}: expected a positive integer, or 'auto'/null for all cores")


def _positive_int(name: str, value) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    raise ValueError(f"{_key(name)}={value!r}: expected a positive integer")


def _optional_positive_int(name: str, value) -> int | None:
    return None if value is None else _positive_int(name, value)


def _positive_float(name: str, value) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise ValueError(f"{_key(name)}={value!r}: expected a positive number of seconds")


def _number(name: str, value) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ValueError(f"{_key(name)}={value!r}: expected a finite number")


def _boolean(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"{_key(name)}={value!r}: expected true or false")


@dataclass(frozen=True)
class Option:
    """One accepted kwarg: the ``RewardManager`` parameter it sets, its check/conversion and its default."""

    parameter: str
    check: Callable[[str, Any], Any]
    default: Any


_OUTCOME_OPTIONS = {
    "timeout_score": Option("timeout_score", _number, 0.0),
    "zero_reward_on_max_response_length": Option("zero_reward_on_max_response_length", _boolean, False),
    "max_resp_len": Option("max_resp_len", _optional_positive_int, None),
}

# verl's naive scores in-process and prime in a process pool; here both use the pool, so a hanging scorer
# never stalls a run. 5 s is math-verify's own default limit.
_POOL_OPTIONS = {
    "num_processes": Option("num_workers", _worker_count, None),
    "chunksize": Option("chunk_size", _positive_int, 8),
    "per_item_timeout_s": Option("per_item_timeout_s", _positive_float, 5.0),
    **_OUTCOME_OPTIONS,
}

MANAGER_OPTIONS: dict[str, dict[str, Option]] = {
    "naive": _POOL_OPTIONS,
    "prime": _POOL_OPTIONS,
    # The fork's multi_thread manager: option names and defaults as in docs/data_and_rewards.md (Reward managers).
    "multi_thread": {
        "num_reward_actors": Option("num_workers", _worker_count, None),
        "batch_size": Option("chunk_size", _positive_int, 8),
        "in_flight_batches_per_actor": Option("in_flight_chunks_per_worker", _positive_int, 4),
        "per_item_timeout_s": Option("per_item_timeout_s", _positive_float, 1.0),
        "per_batch_timeout_s": Option("chunk_timeout_s", _positive_float, 10.0),
        "poll_interval_s": Option("poll_interval_s", _positive_float, 0.5),
        **_OUTCOME_OPTIONS,
    },
}


def manager_parameters(name: str, reward_kwargs: dict) -> dict:
    """Check ``reward_kwargs`` against the options of manager ``name``; return ``RewardManager`` kwargs."""
    if name not in MANAGER_OPTIONS:
        raise ValueError(
            f"reward_model.reward_manager={name!r} is not a reward manager; choose one of {sorted(MANAGER_OPTIONS)}"
        )
    options = MANAGER_OPTIONS[name]
    unknown = sorted(set(reward_kwargs) - set(options))
    if unknown:
        raise ValueError(
            f"{', '.join(_key(key) for key in unknown)} not accepted by reward manager {name!r}; "
            f"its options are {sorted(options)}"
        )
    parameters = {
        option.parameter: option.check(key, reward_kwargs.get(key, option.default))
        for key, option in options.items()
    }
    if parameters["zero_reward_on_max_response_length"] and parameters["max_resp_len"] is None:
        raise ValueError(
            f"{_key('zero_reward_on_max_response_length')}=true needs {_key('max_resp_len')} "
            "(usually data.max_response_length)"
        )
    return parameters


def build_reward_manager(
    name: str, compute_score, failure_policy: FailurePolicy | None = None, **reward_kwargs
) -> RewardManager:
    """The reward manager ``name`` (``naive``, ``prime`` or ``multi_thread``) scoring with ``compute_score``;
    its process pool starts now and lives until ``close()``. ``failure_policy`` (``reward_model.invalid_reward``
    and ``.max_failed_fraction``) decides when a batch's failures stop the run."""
    if not callable(compute_score):
        raise TypeError(f"compute_score must be callable, got {compute_score!r}")
    return RewardManager(compute_score, failure_policy=failure_policy, **manager_parameters(name, reward_kwargs))
