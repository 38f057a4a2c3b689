"""What the environment inserts after a model turn: the template's text after the model's stop token, the new
messages, and the next assistant header, rendered once and never re-rendering the model's tokens."""

import pytest

from maxrl.agents.turns import TurnRenderer
from maxrl.utils.tiny_models import build_tiny_tokenizer

TOOLS = [{"type": "function", "function": {"name": "echo", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


def test_a_tool_answer_follows_the_stop_token_as_the_template_renders_it(tokenizer):
    renderer = TurnRenderer(tokenizer, apply_chat_template=True, tools=TOOLS)
    messages = [{"role": "tool", "content": "r1"}, {"role": "tool", "content": "r2"}]
    text = renderer.inserted_text(messages, tokenizer.eos_token_id)  # the model generated <|im_end|> itself
    assert text == ("\n<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n"
                    "</tool_response><|im_end|>\n<|im_start|>assistant\n")
    ids = renderer.inserted_ids(messages, tokenizer.eos_token_id)
    assert tokenizer.decode(ids) == text


def test_a_turn_ended_by_another_stop_token_gets_the_templates_own_end_of_turn(tokenizer):
    renderer = TurnRenderer(tokenizer, apply_chat_template=True)
    pad = tokenizer.pad_token_id  # <|endoftext|>, a stop token the template does not write
    text = renderer.inserted_text([{"role": "user", "content": "again"}], pad)
    assert text == "<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n"


def test_without_a_chat_template_the_contents_are_inserted_as_they_are(tokenizer):
    renderer = TurnRenderer(tokenizer, apply_chat_template=False)
    assert renderer.inserted_text([{"role": "user", "content": " WRONG 3"}], tokenizer.eos_token_id) == " WRONG 3"


def test_a_template_that_rerenders_earlier_turns_is_refused(tokenizer):
    class Forgetful:
        """Drops the assistant's earlier content once a user message follows it (as reasoning templates do)."""

        def apply_chat_template(self, messages, tools=None, add_generation_prompt=False, tokenize=False):
            last = len(messages) - 1
            return "".join(
                f"<{m['role']}>{'' if m['role'] == 'assistant' and i < last else m['content']}</{m['role']}>"
                for i, m in enumerate(messages)
            )

        def decode(self, ids):
            return "</assistant>"

    renderer = TurnRenderer(Forgetful(), apply_chat_template=True)
    with pytest.raises(ValueError, match="renders earlier turns differently"):
        renderer.inserted_text([{"role": "user", "content": "x"}], 0)
