"""Shared by the GPU tests: skip markers, a tiny model vLLM accepts, prompts, and the trainer config."""

import importlib.util

import pytest
import torch

from maxrl.config import compose_config
from maxrl.data.batch import Batch
from maxrl.utils.tiny_models import build_tiny_model_dir

_spec = importlib.util.find_spec("vllm")
VLLM_INSTALLED = _spec is not None and _spec.origin is not None  # tests/vllm also imports as `vllm`

needs_gpu = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
needs_gpu_and_vllm = [*needs_gpu, pytest.mark.skipif(not VLLM_INSTALLED, reason="needs vLLM (.[gpu])")]

PROMPT_LENGTH = 16
RESPONSE_LENGTH = 12
TEXTS = ["what is 12 + 30", "the answer", "how many apples does she have left", "sum of 7 and 8"]


def tiny_model(folder):
    """The tiny Qwen2 with 2 heads of size 32 and its tokenizer, saved in `folder`."""
    return build_tiny_model_dir(folder, num_heads=2, num_kv_heads=1)


def prompts(tokenizer, texts=TEXTS):
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    positions = (encoded["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    return Batch({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                  "position_ids": positions}, {"uid": [f"prompt{i}" for i in range(len(texts))]})


def gpu_config(model_dir, dtype, *overrides):
    """The trainer config for one GPU with the vllm rollout on `model_dir`, actor and rollout in `dtype`."""
    return compose_config([
        f"actor_rollout_ref.model.path={model_dir}",
        "actor_rollout_ref.rollout.name=vllm",
        f"actor_rollout_ref.rollout.dtype={dtype}",
        f"actor_rollout_ref.actor.dtype={dtype}",
        f"data.max_prompt_length={PROMPT_LENGTH}",
        f"data.max_response_length={RESPONSE_LENGTH}",
        "actor_rollout_ref.rollout.max_num_seqs=64",
        "actor_rollout_ref.rollout.gpu_memory_utilization=0.3",
        "trainer.device=cuda",
        "trainer.n_gpus_per_node=1",
        *overrides,
    ])
