"""Loading the Hugging Face causal LM and tokenizer named by ``actor_rollout_ref.model.*``."""

from __future__ import annotations

import importlib
import inspect

import torch
from omegaconf import DictConfig, OmegaConf
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel

from maxrl.utils import tokenizer_folder

__all__ = ["cache_keyword", "load_causal_lm", "load_tokenizer", "pad_token_id", "parse_dtype", "saved_dtype"]

_DTYPES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}


def parse_dtype(name: str, key: str) -> torch.dtype:
    """``"bf16"`` -> ``torch.bfloat16``; `key` names the config entry in the error."""
    if str(name) not in _DTYPES:
        raise ValueError(f"{key}={name!r} is not a dtype; choose fp32, bf16 or fp16")
    return _DTYPES[str(name)]


def load_causal_lm(model_cfg: DictConfig, dtype: torch.dtype) -> PreTrainedModel:
    """The model at ``model_cfg.path`` with ``override_config`` merged into its config, weights in `dtype`."""
    if model_cfg.external_lib:
        importlib.import_module(model_cfg.external_lib)
    if not model_cfg.path:
        raise ValueError(
            "actor_rollout_ref.model.path is not set: give the folder of a Hugging Face causal LM"
        )
    trust_remote_code = bool(model_cfg.trust_remote_code)
    overrides = OmegaConf.to_container(model_cfg.override_config, resolve=True)
    config = AutoConfig.from_pretrained(model_cfg.path, trust_remote_code=trust_remote_code, **overrides)
    return AutoModelForCausalLM.from_pretrained(
        model_cfg.path, config=config, dtype=dtype, trust_remote_code=trust_remote_code
    )


def saved_dtype(model_cfg: DictConfig) -> torch.dtype:
    """The dtype the model's weights were saved in (``config.json``), float32 when it names none."""
    config = AutoConfig.from_pretrained(
        model_cfg.path, trust_remote_code=bool(model_cfg.trust_remote_code)
    )
    dtype = getattr(config, "dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def load_tokenizer(model_cfg: DictConfig):
    """The tokenizer at ``model_cfg.tokenizer_path`` (default: the model folder), as the driver loads it."""
    return tokenizer_folder.load_tokenizer(model_cfg.tokenizer_path or model_cfg.path, bool(model_cfg.trust_remote_code))


def pad_token_id(tokenizer) -> int:
    """The id written after a response ends: the pad token, else the eos token."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ValueError("the tokenizer has neither a pad nor an eos token; cannot pad responses")
    return pad


def cache_keyword(model: torch.nn.Module) -> str:
    """The name under which ``model.forward`` takes its KV cache: ``past_key_values``, renamed ``cache`` in
    recent Transformers. The wrong name would vanish into ``**kwargs`` and every decoding step would see
    only its newest token, so the name is read from the signature."""
    parameters = inspect.signature(model.forward).parameters
    for name in ("cache", "past_key_values"):
        if name in parameters:
            return name
    raise TypeError(
        f"{type(model).__name__}.forward takes neither `cache` nor `past_key_values`: the hf rollout and "
        "actor_rollout_ref.model.share_prompt_prefix need a model with a KV cache (use "
        "actor_rollout_ref.rollout.name=vllm and share_prompt_prefix=false, or a Transformers causal LM)"
    )
