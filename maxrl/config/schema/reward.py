"""``reward_model.*`` and ``custom_reward_function.*``: rule-based scoring of responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maxrl.config.schema.fields import (
    equals,
    knob,
    non_negative,
    non_negative_int,
    one_of,
    section,
    unit_interval,
)
from maxrl.rewards.failures import INVALID_REWARD_MODES


@dataclass
class OverlongBufferConfig:
    enable: bool = knob("subtract the penalty from training rewards")
    len: int = knob(
        "the last len tokens of data.max_response_length, over which the penalty grows linearly", non_negative_int
    )
    penalty_factor: float = knob("the penalty of a response that uses the whole budget", non_negative)


@dataclass
class RewardModelConfig:
    enable: bool = knob(
        "a learned reward model; must stay false",
        equals(False, "learned reward models are not supported; scoring is rule-based"),
    )
    reward_manager: str = knob("naive | prime | multi_thread (all score in a process pool started once)")
    reward_kwargs: dict[str, Any] = knob(
        "options of the manager (num_processes, timeout_s, max_resp_len, ...); add them with "
        "+reward_model.reward_kwargs.<name>=..."
    )
    launch_reward_fn_async: bool = knob("accepted for verl compatibility; scoring runs in the step")
    invalid_reward: str = knob(
        "a scorer returning NaN/inf/a non-number: error (stop the run) | zero (score it like a failed item)",
        one_of(*INVALID_REWARD_MODES),
    )
    max_failed_fraction: float = knob(
        "stop the run when scorer errors reach this fraction of a batch (1.0 = all items; 0 = any)", unit_interval
    )
    overlong_buffer: OverlongBufferConfig = section(
        OverlongBufferConfig,
        "DAPO's overlong reward shaping, verl's keys: a length penalty (not with maxrl, whose rewards must be in [0, 1])",
    )


@dataclass
class CustomRewardFunctionConfig:
    path: str | None = knob("Python file with your own scorer; null = maxrl.rewards.default_compute_score")
    name: str = knob(
        "function in that file, signature (data_source, solution_str, ground_truth, extra_info)"
    )
