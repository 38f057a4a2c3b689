"""One episode's record: the token ids as generated and inserted, and what happened on the way.

The record is the tokens: `response_ids` is the concatenation of every model turn as the sampler produced
it and every environment turn as `maxrl.agents.turns` tokenized it, `trained` marks which is which (1 =
the model's, 0 = inserted), and `log_probs` holds the sampler's log-probability of each model token (0 on
inserted ones). `messages` is a text view of the same conversation for tools and interactions to read;
nothing in it is ever tokenized again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from maxrl.agents.settings import ERROR_KINDS

__all__ = ["EPISODE_FIELDS", "Episode", "episode_fields"]


@dataclass
class Episode:
    prompt_ids: list[int]
    messages: list[dict[str, Any]]
    tools_kwargs: dict[str, Any] = field(default_factory=dict)
    interaction: str | None = None
    response_ids: list[int] = field(default_factory=list)
    trained: list[int] = field(default_factory=list)
    log_probs: list[float] = field(default_factory=list)
    turn_rewards: dict[int, float] = field(default_factory=dict)  # response position -> reward
    tool_states: dict[str, Any] = field(default_factory=dict)  # per tool, from the episode's first call of it
    interaction_state: Any = None
    assistant_turns: int = 0
    user_turns: int = 0
    tool_calls: int = 0
    errors: Counter = field(default_factory=Counter)
    call_seconds: float = 0.0
    truncated: bool = False
    done: bool = False

    @property
    def context(self) -> list[int]:
        """Everything the model has seen so far: the prompt and the response up to now."""
        return self.prompt_ids + self.response_ids

    def add_model_turn(self, ids: list[int], log_probs: list[float]) -> None:
        self.response_ids += ids
        self.trained += [1] * len(ids)
        self.log_probs += log_probs
        self.assistant_turns += 1

    def add_inserted(self, ids: list[int]) -> None:
        self.response_ids += ids
        self.trained += [0] * len(ids)
        self.log_probs += [0.0] * len(ids)

    def reward_last_turn(self, reward: float) -> None:
        """Credit `reward` to the model turn just generated (its last token)."""
        if reward:
            position = len(self.trained) - 1 - self.trained[::-1].index(1)
            self.turn_rewards[position] = self.turn_rewards.get(position, 0.0) + float(reward)


EPISODE_FIELDS = (
    "episode_assistant_turns", "episode_user_turns", "episode_tool_calls", "episode_truncated",
    "episode_call_seconds", *(f"episode_errors_{kind}" for kind in ERROR_KINDS),
)
"""Per-sample tensor fields a multi-turn rollout adds to the batch (`maxrl.agents.metrics` reads them)."""


def episode_fields(episodes: list[Episode]) -> dict[str, torch.Tensor]:
    """The `EPISODE_FIELDS` of `episodes`, one row each."""
    counts = {
        "episode_assistant_turns": [e.assistant_turns for e in episodes],
        "episode_user_turns": [e.user_turns for e in episodes],
        "episode_tool_calls": [e.tool_calls for e in episodes],
        "episode_truncated": [int(e.truncated) for e in episodes],
        **{f"episode_errors_{kind}": [e.errors[kind] for e in episodes] for kind in ERROR_KINDS},
    }
    fields = {name: torch.tensor(values, dtype=torch.long) for name, values in counts.items()}
    fields["episode_call_seconds"] = torch.tensor([e.call_seconds for e in episodes], dtype=torch.float32)
    return fields
