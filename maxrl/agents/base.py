"""What a tool and an interaction implement: the classes a verl-format config names.

Both run in the agent loop's process pool (`maxrl.agents.call_pool`), never in a training process, so a
call can be cut off at its time limit. That is why state is explicit: ``create`` / ``start_interaction``
return an episode's state (any picklable object), every later call receives it and may change it in place,
and the pool sends it back with the result. Each of the N episodes of a prompt gets its own state, made
from the same keyword arguments (the row's ``extra_info``), so the N episodes start from the same place.

The method names follow verl's tools and interactions (``create`` / ``execute`` / ``release``,
``start_interaction`` / ``generate_response`` / ``finalize_interaction``); the methods are synchronous and
take the state instead of an instance id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Interaction", "InteractionReply", "Tool", "ToolResult"]


@dataclass
class ToolResult:
    """What a tool call returns to the model (`text`), an optional reward for the call, and numbers to log."""

    text: str
    reward: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class InteractionReply:
    """The environment's next turn: `text` for the model, whether the episode ends (`done`), and a score
    for the assistant turn it answers (summed into the episode's reward)."""

    text: str
    done: bool = False
    score: float = 0.0


class Tool:
    """A function the model can call. `tool_schema` is the OpenAI function schema the chat template shows
    the model (``{"type": "function", "function": {"name", "description", "parameters"}}``); `config` is
    the entry's ``config`` mapping from the tool config file."""

    def __init__(self, config: dict[str, Any], tool_schema: dict[str, Any]):
        self.config = config
        self.tool_schema = tool_schema

    @property
    def name(self) -> str:
        return self.tool_schema["function"]["name"]

    def create(self, **create_kwargs: Any) -> Any:
        """An episode's state, made on its first call of this tool (``extra_info.tools_kwargs.<name>.create_kwargs``)."""
        return None

    def execute(self, parameters: dict[str, Any], state: Any, **execute_kwargs: Any) -> ToolResult | str:
        """Run one call with the model's `parameters`; raise to report an error to the model."""
        raise NotImplementedError(f"{type(self).__name__}.execute")

    def release(self, state: Any) -> None:
        """Free what `create` took, when the episode ends."""


class Interaction:
    """A simulated user or environment that answers assistant turns without a tool call. `config` is the
    entry's ``config`` mapping from the interaction config file."""

    def __init__(self, config: dict[str, Any]):
        self.config = config

    def start_interaction(self, **interaction_kwargs: Any) -> Any:
        """An episode's state, from the row's ``extra_info.interaction_kwargs`` (``name`` removed)."""
        return None

    def generate_response(self, messages: list[dict[str, str]], state: Any) -> InteractionReply:
        """The reply to the conversation so far (`messages`: chat messages, the last one the model's)."""
        raise NotImplementedError(f"{type(self).__name__}.generate_response")

    def finalize_interaction(self, state: Any) -> None:
        """Free what `start_interaction` took, when the episode ends."""
