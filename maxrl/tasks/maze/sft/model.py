"""The maze policy: a small Qwen2 causal LM over the 32-word maze vocabulary, built from a config."""

from __future__ import annotations

import torch
from transformers import (
    AutoModelForCausalLM,
    GenerationConfig,
    PreTrainedModel,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from maxrl.tasks.maze.sft.config import SFTConfig
from maxrl.tasks.maze.tokenizer import VOCAB

PAD_ID, BOS_ID, EOS_ID = VOCAB.index("<pad>"), VOCAB.index("<bos>"), VOCAB.index("<eos>")
DONE_ID = VOCAB.index("DONE")
STOP_IDS = [EOS_ID, DONE_ID]
"""Generation stops at ``<eos>`` or ``DONE``, as in the paper's checkpoint."""


def build_model_config(config: SFTConfig) -> Qwen2Config:
    """Qwen2 with the paper's fixed choices (SiLU MLP, RMSNorm eps 1e-6, tied embeddings) and the sizes
    from ``config``. ``rope_theta`` is also kept as a top-level key so transformers 4.x reads it."""
    model_config = Qwen2Config(
        vocab_size=len(VOCAB),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        max_position_embeddings=config.max_length,
        rope_theta=config.rope_theta,
        rms_norm_eps=1e-6,
        hidden_act="silu",
        tie_word_embeddings=True,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=PAD_ID,
    )
    model_config.rope_theta = config.rope_theta
    return model_config


def generation_config() -> GenerationConfig:
    """Saved with every checkpoint: stop at ``<eos>`` or ``DONE``, pad with ``<pad>``."""
    return GenerationConfig(bos_token_id=BOS_ID, eos_token_id=STOP_IDS, pad_token_id=PAD_ID)


def build_model(config: SFTConfig) -> PreTrainedModel:
    """A fresh model seeded by ``config.seed``, or the one in ``config.init_from``; float32 weights."""
    if config.init_from:
        model = AutoModelForCausalLM.from_pretrained(config.init_from, dtype=torch.float32)
        if model.config.vocab_size != len(VOCAB):
            raise ValueError(
                f"init_from={config.init_from}: vocab_size {model.config.vocab_size} != {len(VOCAB)} maze words"
            )
    else:
        torch.manual_seed(config.seed)
        model = Qwen2ForCausalLM(build_model_config(config))
    model.generation_config = generation_config()
    return model


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())
