"""The critic's value model: the body of the causal LM at ``critic.model.path`` with a scalar head.

It is Transformers' token-classification model with one label (verl's choice, so a saved critic loads
with ``AutoModelForTokenClassification``), its dropout off (values must not depend on the forward: the
update recomputes the values the advantages were built from) and its head zero-initialised, so every rank
starts from the same weights without a broadcast and the first values are 0 rather than noise.
"""

from __future__ import annotations

import importlib

import torch
from omegaconf import DictConfig, OmegaConf
from transformers import AutoConfig, AutoModelForTokenClassification, PreTrainedModel

from maxrl.data.batch import Batch

__all__ = ["load_value_model", "response_values"]


def load_value_model(model_cfg: DictConfig) -> PreTrainedModel:
    """The value model in float32, its body loaded from ``model_cfg.path`` (``critic.model``)."""
    if model_cfg.external_lib:
        importlib.import_module(model_cfg.external_lib)
    trust_remote_code = bool(model_cfg.trust_remote_code)
    overrides = OmegaConf.to_container(model_cfg.override_config, resolve=True)
    config = AutoConfig.from_pretrained(model_cfg.path, trust_remote_code=trust_remote_code, **overrides)
    config.num_labels = 1
    config.classifier_dropout = 0.0
    model = AutoModelForTokenClassification.from_pretrained(
        model_cfg.path, config=config, dtype=torch.float32, trust_remote_code=trust_remote_code
    )
    head = getattr(model, "score", None)
    if not isinstance(head, torch.nn.Linear):
        raise TypeError(f"{type(model).__name__} has no linear `score` head; the critic needs a Transformers "
                        "architecture whose token-classification model has one (e.g. Llama, Qwen2, Qwen3)")
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.zero_()
    model.config.use_cache = False
    return model


def response_values(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """``[N, R]`` values of the states before each response token: V at sequence position ``P - 1 + t``
    (``P`` = padded prompt length), the position whose logits predicted response token ``t``."""
    input_ids, responses = batch["input_ids"], batch["responses"]
    prompt_length, response_length = input_ids.shape[1] - responses.shape[1], responses.shape[1]
    output = model(
        input_ids=input_ids, attention_mask=batch["attention_mask"], position_ids=batch["position_ids"], use_cache=False
    )
    return output.logits[:, prompt_length - 1: prompt_length - 1 + response_length, 0].float()
