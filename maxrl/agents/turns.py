"""The token ids the environment adds between two assistant turns, rendered by the chat template.

The model's own tokens are never rendered again: an episode's record is its token ids as generated. What
comes after a model turn (the template's end-of-turn text, the tool or user message, the next assistant
header) is rendered once, as the difference between the template's render of a conversation and its
render of the same conversation plus the new messages, and tokenized on its own. This needs a template
whose render of a conversation extends its render of every prefix (true of the ChatML templates of Qwen
and SmolLM); one that re-renders earlier turns is refused with that reason.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TurnRenderer"]

_MARKER = "ASSISTANT_TURN_MARKER_7f3a"
_BASE = [{"role": "user", "content": "USER_TURN_MARKER_7f3a"}, {"role": "assistant", "content": _MARKER}]


class TurnRenderer:
    """``inserted_ids(messages, stop_token)``: what follows a model turn that ended with `stop_token`.

    Without a chat template (``data.apply_chat_template=False``) the messages' contents are inserted as
    they are, like the prompt's."""

    def __init__(self, tokenizer, apply_chat_template: bool, tools: list[dict[str, Any]] | None = None):
        self.tokenizer = tokenizer
        self.apply_chat_template = apply_chat_template
        self.tools = tools or None
        if apply_chat_template:
            self._base_text = self._render(_BASE, add_generation_prompt=False)
            marker_end = self._base_text.rfind(_MARKER) + len(_MARKER)
            if marker_end < len(_MARKER):
                raise ValueError("the chat template does not render an assistant message's content as it is")
            self._turn_end = self._base_text[marker_end:]  # e.g. "<|im_end|>\n"

    def _render(self, messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            messages, tools=self.tools, add_generation_prompt=add_generation_prompt, tokenize=False
        )

    def inserted_text(self, messages: list[dict[str, Any]], stop_token: int | None) -> str:
        if not self.apply_chat_template:
            return "".join(message["content"] for message in messages)
        stop_text = "" if stop_token is None else self.tokenizer.decode([stop_token])
        # The template ends a turn with its own end-of-turn text; the part the model already generated is
        # not added again (a turn ended by another stop token gets the whole end-of-turn text).
        after_turn = self._turn_end[len(stop_text):] if stop_text and self._turn_end.startswith(stop_text) else self._turn_end
        full = self._render(_BASE + list(messages), add_generation_prompt=True)
        if not full.startswith(self._base_text):
            raise ValueError(
                "the chat template renders earlier turns differently once a message is added, so the new turn "
                "cannot be appended to the model's tokens; multi-turn rollouts need a template whose render of a "
                "conversation extends its render of every prefix (as the ChatML templates of Qwen and SmolLM do)"
            )
        return after_turn + full[len(self._base_text):]

    def inserted_ids(self, messages: list[dict[str, Any]], stop_token: int | None) -> list[int]:
        """The ids of `messages` as the environment's turn after a model turn that ended with `stop_token`."""
        return self.tokenizer(self.inserted_text(messages, stop_token), add_special_tokens=False)["input_ids"]
