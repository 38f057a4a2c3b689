"""Turning a row's chat messages into prompt token ids (``data.apply_chat_template``, ``data.truncation``)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

TRUNCATION_MODES = ("error", "left", "right", "middle")


class PromptEncoder:
    """Chat messages -> prompt text -> token ids, cut to ``max_prompt_length`` as ``truncation`` says.

    With ``apply_chat_template`` the tokenizer's chat template renders the messages (and the tool schemas
    `tools`, for multi-turn tool use) and appends the generation prompt; without it the messages' contents are concatenated as they are (the maze prompt is
    a word sequence that already holds its own ``<bos>``). Either way no special tokens are added on top.
    """

    def __init__(self, tokenizer, apply_chat_template: bool, max_prompt_length: int, truncation: str,
                 tools: list[dict] | None = None):
        if truncation not in TRUNCATION_MODES:
            raise ValueError(f"data.truncation={truncation!r}: choose one of {TRUNCATION_MODES}")
        if (
            not isinstance(max_prompt_length, int)
            or isinstance(max_prompt_length, bool)
            or max_prompt_length < 1
        ):
            raise ValueError(f"data.max_prompt_length={max_prompt_length!r}: expected a positive integer")
        if apply_chat_template and not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                f"the tokenizer {type(tokenizer).__name__} has no chat template; set data.apply_chat_template=False "
                "to use the raw message text, or use a tokenizer with a chat template"
            )
        self.tokenizer = tokenizer
        self.apply_chat_template = apply_chat_template
        self.max_prompt_length = max_prompt_length
        self.truncation = truncation
        self.tools = tools or None

    def text(self, messages: list[dict]) -> str:
        if self.apply_chat_template:
            return self.tokenizer.apply_chat_template(
                messages, tools=self.tools, add_generation_prompt=True, tokenize=False
            )
        return "".join(message["content"] for message in messages)

    def token_counts(self, texts: list[str]) -> list[int]:
        """Untruncated prompt lengths, tokenized as one batch (fast tokenizers run it in Rust)."""
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def encode(self, messages: list[dict]) -> list[int]:
        """The prompt's token ids; longer than ``max_prompt_length`` only if truncation is ``error`` (the
        dataset has rejected or filtered such prompts at start-up)."""
        ids = self.tokenizer(self.text(messages), add_special_tokens=False)["input_ids"]
        if len(ids) <= self.max_prompt_length or self.truncation == "error":
            return ids
        if self.truncation == "left":
            return ids[-self.max_prompt_length :]
        if self.truncation == "middle":  # verl's mode: keep both ends, cut the middle
            head = self.max_prompt_length // 2
            return ids[:head] + ids[len(ids) - (self.max_prompt_length - head) :]
        return ids[: self.max_prompt_length]


def pad_token_id(tokenizer) -> int:
    """The id that pads prompts on the left: the tokenizer's pad token, else its end-of-sequence token."""
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    if tokenizer.eos_token_id is not None:
        logger.info(
            "the tokenizer has no pad token; padding prompts with its eos token %r", tokenizer.eos_token
        )
        return tokenizer.eos_token_id
    raise ValueError(f"the tokenizer {type(tokenizer).__name__} has neither a pad token nor an eos token")
