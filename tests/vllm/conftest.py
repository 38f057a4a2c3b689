"""Fixtures for the vLLM backend tests: a tiny model vLLM's CPU kernels accept, prompts, configs."""

import pytest
import torch

from maxrl.data.batch import Batch
from maxrl.utils.tiny_models import build_tiny_model_dir


@pytest.fixture(scope="session")
def vllm_model_dir(tmp_path_factory):
    """The shared tiny Qwen2 with 2 heads of size 32 (vLLM's CPU attention needs head size >= 32)."""
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny_qwen2_vllm"), num_heads=2, num_kv_heads=1)


@pytest.fixture(scope="session")
def vllm_tokenizer(vllm_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(vllm_model_dir))


@pytest.fixture(scope="session")
def vllm_prompts(vllm_tokenizer):
    """Three left-padded prompts of different lengths, with position ids counting valid tokens only."""
    encoded = vllm_tokenizer(["what is 12 + 30", "the answer", "how many apples does she have left"],
                             padding=True, return_tensors="pt")
    positions = (encoded["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    return Batch({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                  "position_ids": positions.to(torch.long)})
