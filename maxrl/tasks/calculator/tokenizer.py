"""The calculator task's tokenizer: characters, a few whole words of the chat format, a ChatML template.

Every printable ASCII character is a token, so any text (a tool's error message included) encodes without
unknown tokens; the chat markers, the tool-call tags and the fixed JSON around the expression are single
tokens, which keeps a transcript under a hundred tokens. Decoding joins tokens without spaces.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

PAD, IM_START, IM_END, UNK = "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"
CALL_PREFIX = '{"name": "calculator", "arguments": {"expression": "'
CALL_SUFFIX = '"}}'
WORDS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", CALL_PREFIX, CALL_SUFFIX,
         "system", "user", "assistant", "tools:", "calculator", "What is ", "####")
CHARACTERS = tuple(dict.fromkeys(string.printable.replace("\x0b", "").replace("\x0c", "").replace("\r", "")))

CHAT_TEMPLATE = (
    "{% if tools %}{{ '<|im_start|>system\\ntools: ' }}"
    "{{ tools | map(attribute='function') | map(attribute='name') | join(', ') }}{{ '<|im_end|>\\n' }}{% endif %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'tool' %}"
    "{{ '<|im_start|>user\\n<tool_response>' + message['content'] + '</tool_response><|im_end|>\\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""ChatML; tools are listed by name in a system turn, a tool's answer comes back as a user turn."""


def build_tokenizer(save_dir: str | Path | None = None):
    """The tokenizer (a `PreTrainedTokenizerFast`); with `save_dir`, also written there for ``from_pretrained``."""
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate((PAD, IM_START, IM_END, UNK, *WORDS, *CHARACTERS))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    pieces = "|".join(re.escape(word) for word in sorted(WORDS, key=len, reverse=True))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(f"{pieces}|(?m:.)"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token=PAD, eos_token=IM_END, unk_token=UNK,
        additional_special_tokens=[IM_START], padding_side="left", clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    if save_dir is not None:
        tokenizer.save_pretrained(str(save_dir))
        config_path = Path(save_dir) / "tokenizer_config.json"  # load it as this class, not the model type's
        config = json.loads(config_path.read_text())
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    return tokenizer
