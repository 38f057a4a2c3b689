"""``actor_rollout_ref.rollout.multi_turn.*`` as one typed object (verl's keys, plus the call pool's)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ERROR_KINDS", "MultiTurnSettings", "TRUNCATE_SIDES", "TURN_REWARD_PLACEMENTS"]

TRUNCATE_SIDES = ("left", "middle", "right")
TURN_REWARD_PLACEMENTS = ("last_token", "turn_end")
ERROR_KINDS = ("exception", "timeout", "bad_json", "unknown_tool", "too_many_calls")
"""How a tool or interaction call can fail; each is counted per episode and reported to the model."""


@dataclass(frozen=True)
class MultiTurnSettings:
    """Episode limits and where tools and interactions come from.

    ``max_assistant_turns`` / ``max_user_turns``: None = no limit but the response budget.
    ``max_tool_response_length``: characters kept of a tool's answer, cut on ``tool_response_truncate_side``
    (verl's meaning: ``left`` keeps the beginning, ``right`` the end, ``middle`` both ends).
    ``turn_rewards``: where tool rewards and interaction scores go: summed onto the episode's last model
    token (``last_token``), or each on the last token of the model turn it answers (``turn_end``)."""

    max_assistant_turns: int | None = None
    max_user_turns: int | None = None
    max_parallel_calls: int = 1
    max_tool_response_length: int = 256
    tool_response_truncate_side: str = "middle"
    tool_config_path: str | None = None
    interaction_config_path: str | None = None
    format: str = "hermes"
    call_timeout_s: float = 30.0
    call_workers: int = 2
    turn_rewards: str = "last_token"

    @classmethod
    def from_config(cls, multi_turn) -> MultiTurnSettings:
        """From the ``multi_turn`` section (its defaults live in the YAML)."""
        return cls(**{name: multi_turn[name] for name in cls.__dataclass_fields__})
