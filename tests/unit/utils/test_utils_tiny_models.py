"""One builder makes every tiny causal LM: the tests' Qwen2 and the Qwen3 of the Qwen3 experiment's CPU path."""

import pytest
from transformers import AutoModelForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM

from maxrl.experiments.tiny_qwen3 import build_tiny_qwen3_dir
from maxrl.utils.tiny_models import build_tiny_causal_lm


def test_architectures_share_one_builder_and_its_parameters():
    qwen2 = build_tiny_causal_lm(100, hidden_size=32, num_heads=4)
    qwen3 = build_tiny_causal_lm(100, hidden_size=32, num_heads=4, architecture="qwen3", max_position_embeddings=2048)
    assert isinstance(qwen2, Qwen2ForCausalLM) and isinstance(qwen3, Qwen3ForCausalLM)
    assert qwen2.config.head_dim == qwen3.config.head_dim == 8
    assert qwen3.config.max_position_embeddings == 2048 and qwen3.config.tie_word_embeddings
    with pytest.raises(ValueError, match="architecture='llama': choose one of"):
        build_tiny_causal_lm(100, architecture="llama")


def test_tiny_qwen3_folder_loads_with_its_tokenizer(tiny_tokenizer, tmp_path):
    tiny_tokenizer.save_pretrained(tmp_path / "tokenizer")
    folder = build_tiny_qwen3_dir(tmp_path / "tokenizer", tmp_path / "model", hidden_size=32)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert isinstance(model, Qwen3ForCausalLM) and model.config.vocab_size == len(tiny_tokenizer)
