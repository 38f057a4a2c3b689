"""Rollout backends: generation engines that live inside the actor worker, chosen by name.

``hf`` (`HFRollout`) samples with a local Hugging Face model; ``vllm`` lives in ``vllm_rollout.py``.
A new backend implements `RolloutBackend` and registers itself with ``@register_rollout("name")``.
"""

from maxrl.workers.rollout.base import (
    RolloutBackend,
    SamplingParams,
    assemble_rollout,
    sampling_params_from_config,
    stop_token_ids,
)
from maxrl.workers.rollout.registry import ROLLOUT_BACKENDS, build_rollout, register_rollout

__all__ = [
    "ROLLOUT_BACKENDS",
    "RolloutBackend",
    "SamplingParams",
    "assemble_rollout",
    "build_rollout",
    "register_rollout",
    "sampling_params_from_config",
    "stop_token_ids",
]
