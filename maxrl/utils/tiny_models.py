"""Tiny tokenizers and causal LMs built in-process, for tests, benchmarks and CPU smoke runs.

Nothing is downloaded: the tokenizer is a byte-level BPE trained in a fraction of a second on a small
arithmetic corpus, with a Qwen-style chat template, and the model is a randomly initialised Qwen2 (or
Qwen3, for the Qwen3 experiment's CPU path: `maxrl.experiments.tiny_qwen3`). This is the one builder of
tiny causal LMs.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

PAD_TOKEN = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"

CHAT_TEMPLATE = (
    "{% if tools %}"
    "{{ '<|im_start|>system\\n# Tools\\n<tools>\\n' }}"
    "{% for tool in tools %}{{ tool | tojson }}{{ '\\n' }}{% endfor %}"
    "{{ '</tools>\\nCall a tool with <tool_call>{\"name\": ..., \"arguments\": {...}}</tool_call><|im_end|>\\n' }}"
    "{% endif %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'tool' %}"
    "{% if loop.first or messages[loop.index0 - 1]['role'] != 'tool' %}{{ '<|im_start|>user' }}{% endif %}"
    "{{ '\\n<tool_response>\\n' + message['content'] + '\\n</tool_response>' }}"
    "{% if loop.last or messages[loop.index0 + 1]['role'] != 'tool' %}{{ '<|im_end|>\\n' }}{% endif %}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""ChatML, as Qwen's templates write it: tool schemas in a system turn, consecutive tool results in one
user turn of ``<tool_response>`` blocks (the hermes format)."""


def _corpus(num_lines: int = 2000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = "the answer is what how many apples does she have left total sum of and plus minus times".split()
    lines = []
    for _ in range(num_lines):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 8)))
        lines.append(f"{text} {a} + {b} = {a + b}. \\boxed{{{a + b}}} #### {a - b}")
    return lines


def build_tiny_tokenizer(vocab_size: int = 384, save_dir: str | Path | None = None) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with pad/eos tokens and a chat template, trained on arithmetic text."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD_TOKEN, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD_TOKEN, eos_token=IM_END, bos_token=None, padding_side="left"
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    if save_dir is not None:
        hf_tok.save_pretrained(str(save_dir))
    return hf_tok


ARCHITECTURES = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "qwen3": (Qwen3Config, Qwen3ForCausalLM)}


def build_tiny_causal_lm(
    vocab_size: int,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    seed: int = 0,
    pad_token_id: int = 0,
    eos_token_id: int | None = None,
    save_dir: str | Path | None = None,
    architecture: str = "qwen2",
    max_position_embeddings: int = 1024,
) -> PreTrainedModel:
    """A randomly initialised causal LM of `architecture` (float32, tied embeddings as in the small Qwen
    models, head size ``hidden_size / num_heads``), optionally saved as a Hugging Face folder."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture={architecture!r}: choose one of {sorted(ARCHITECTURES)}")
    config_cls, model_cls = ARCHITECTURES[architecture]
    config = config_cls(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        head_dim=hidden_size // num_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=pad_token_id,
        eos_token_id=eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = model_cls(config)
    if save_dir is not None:
        model.save_pretrained(str(save_dir))
    return model


def build_tiny_model_dir(save_dir: str | Path, **model_kwargs) -> Path:
    """Write a tokenizer and a matching tiny Qwen2 into one folder that `from_pretrained` loads."""
    save_dir = Path(save_dir)
    tokenizer = build_tiny_tokenizer(save_dir=save_dir)
    build_tiny_causal_lm(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        save_dir=save_dir,
        **model_kwargs,
    )
    return save_dir
