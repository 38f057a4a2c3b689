"""The work both frameworks do in the TRL comparison, in one place that both venvs import.

This module runs in maxrl's venv and in ``.venv-trl`` (whose runner must not import maxrl), so it holds
only the standard library at import time; the model builder imports ``tokenizers``/``transformers``,
present in both, when called. It is also maxrl's reward file for the comparison
(``custom_reward_function.path``), which a reward worker imports on its own.

The work: a random-init Qwen2 of about 4M parameters (hidden 256, 4 layers, 4 heads, 2 kv heads,
intermediate 1024, tied embeddings) over a 64-word word-level vocabulary; prompts of exactly 100 tokens;
per step 8 prompts x 16 samples of exactly 64 new tokens at temperature 1; no reference model; one
optimizer step per batch; fp32. Everything is a function of fixed seeds, so both sides get the same
model, tokenizer and prompts.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
VOCAB_SIZE = 64
WORDS = tuple(f"w{i}" for i in range(VOCAB_SIZE - 3))
VOCAB = (PAD, EOS, UNK, *WORDS)
"""Token ids are positions here: pad 0, eos 1, unk 2, then the words."""

MODEL = {
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 1024,
    "max_position_embeddings": 512,  # 100 prompt + up to 256 response tokens (the variable-length workload)
    "tie_word_embeddings": True,
}
MODEL_SEED = 0

PROMPT_TOKENS = 100
PROMPTS_PER_STEP = 8
SAMPLES_PER_PROMPT = 16
RESPONSE_TOKENS = 64
TEMPERATURE = 1.0
LEARNING_RATE = 1e-5
NUM_PROMPTS = 256  # enough distinct prompts for 32 steps without repeating one
PROMPT_SEED = 1234
DATA_SOURCE = "trl_comparison"

REWARDED_WORDS = frozenset(WORDS[:10])
"""The scorer's target words: about one response word in six, so rewards differ within each group and
every advantage is non-zero, as in real training."""


def prompt_texts(count: int = NUM_PROMPTS, seed: int = PROMPT_SEED) -> list[str]:
    """`count` prompts of exactly `PROMPT_TOKENS` words each (one token per word, no special tokens)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(PROMPT_TOKENS)) for _ in range(count)]


def trl_prompts() -> list[dict]:
    """TRL's dataset rows: the prompts as plain text."""
    return [{"prompt": text} for text in prompt_texts()]


def verl_rows() -> list[dict]:
    """maxrl's dataset rows (verl's format); with ``data.apply_chat_template=False`` a prompt's token ids
    are exactly its words."""
    from maxrl.data.prep import verl_row

    return [
        verl_row(DATA_SOURCE, [{"role": "user", "content": text}], ground_truth="",
                 extra_info={"index": index}, ability="benchmark")
        for index, text in enumerate(prompt_texts())
    ]


def score(text: str) -> float:
    """The share of a response's words that are rewarded words (0 for an empty response)."""
    words = text.split()
    return sum(word in REWARDED_WORDS for word in words) / len(words) if words else 0.0


def compute_score(data_source, solution_str, ground_truth, extra_info=None) -> float:
    """maxrl's scorer signature (``custom_reward_function.name=compute_score``)."""
    return score(solution_str)


def trl_reward(completions, **kwargs) -> list[float]:
    """TRL's reward-function signature: one reward per decoded completion."""
    return [score(text) for text in completions]


def build_tokenizer():
    """The word-level tokenizer: whitespace-split words, no BOS, nothing added around a text."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(vocab={word: i for i, word in enumerate(VOCAB)}, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token=PAD, eos_token=EOS, unk_token=UNK, padding_side="left",
        clean_up_tokenization_spaces=False,
    )


def model_dir(scratch: Path) -> Path:
    """The model folder of this workload: built afresh under `scratch`."""
    return build_model_dir(scratch / "model")


def build_model_dir(path: str | Path) -> Path:
    """Write the tokenizer and the random-init model (seed `MODEL_SEED`) as one Hugging Face folder.

    ``tokenizer_config.json`` names the generic fast-tokenizer class: transformers 5 writes its own
    backend class there, and `AutoTokenizer` would then swap in Qwen2's tokenizer for a Qwen2 folder.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(str(path))
    config_file = path / "tokenizer_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()),
                                       "tokenizer_class": "PreTrainedTokenizerFast"}, indent=2) + "\n")
    config = Qwen2Config(vocab_size=VOCAB_SIZE, pad_token_id=VOCAB.index(PAD), eos_token_id=VOCAB.index(EOS),
                         bos_token_id=None, **MODEL)
    torch.manual_seed(MODEL_SEED)
    Qwen2ForCausalLM(config).save_pretrained(str(path))
    return path
