"""Reading tool calls out of an assistant turn's text (``actor_rollout_ref.rollout.multi_turn.format``).

The text is a view of the turn: the turn's token ids stay the record, and nothing parsed here is ever
tokenized again. A call that cannot be read is not dropped: it becomes a `MalformedCall`, whose reason the
agent loop returns to the model as the tool's answer (and counts), as it does for every other failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CALL_PARSERS", "MalformedCall", "ToolCall", "parse_hermes"]


@dataclass(frozen=True)
class ToolCall:
    """A well-formed call: a tool name and its JSON-object arguments."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class MalformedCall:
    """A call the parser found but could not read; `reason` says why, in words the model can act on."""

    text: str
    reason: str


_HERMES_CALL = re.compile(r"<tool_call>(.*?)(</tool_call>|$)", re.DOTALL)


def _hermes_call(body: str) -> ToolCall | MalformedCall:
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as error:
        return MalformedCall(body, f"the tool call is not valid JSON ({error.msg} at character {error.pos})")
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        return MalformedCall(body, 'a tool call must be a JSON object with a string "name"')
    arguments = payload.get("arguments", {})
    if isinstance(arguments, str):  # some models write the arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as error:
            return MalformedCall(body, f'the "arguments" string is not valid JSON ({error.msg})')
    if not isinstance(arguments, dict):
        return MalformedCall(body, 'the "arguments" of a tool call must be a JSON object')
    return ToolCall(payload["name"], arguments)


def parse_hermes(text: str) -> list[ToolCall | MalformedCall]:
    """The calls of the hermes format used by the Qwen and SmolLM chat templates:
    ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``, as many as the turn holds, in order.
    A ``<tool_call>`` left open at the end of the turn is malformed."""
    calls: list[ToolCall | MalformedCall] = []
    for match in _HERMES_CALL.finditer(text):
        body, closed = match.group(1).strip(), bool(match.group(2))
        calls.append(_hermes_call(body) if closed else MalformedCall(body, "the <tool_call> is never closed"))
    return calls


CALL_PARSERS: dict[str, Callable[[str], list[ToolCall | MalformedCall]]] = {"hermes": parse_hermes}
"""Tool-call formats by name (``multi_turn.format``)."""
