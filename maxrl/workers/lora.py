"""LoRA adapters on the policy (``actor_rollout_ref.model.lora_rank`` > 0), through ``peft``.

Why these pieces live together: the adapters change what the worker trains (only ``lora_A`` / ``lora_B``),
what the reference is (the same module with its adapters off, so no second model), what the rollouts
receive (plain Hugging Face weights with ``W + scale * B @ A`` merged in, so neither rollout backend knows
about LoRA) and what a checkpoint holds (the adapters and their optimizer state; the frozen base is the
model folder). Each of those places calls one function of this module.

Only ``nn.Linear`` layers take adapters, and never a layer whose weight is tied to another (a merged
output layer would silently change the tied input embeddings too): the merge is then exact by construction.

``peft`` is imported only by the functions that build adapters: every worker imports this module, and
peft's import (several seconds of a worker's start-up) is wasted on a full fine-tune.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from omegaconf import DictConfig, OmegaConf
from transformers import AutoModelForCausalLM, PreTrainedModel

if TYPE_CHECKING:
    from peft import LoraConfig, PeftModel

__all__ = [
    "ADAPTER_DIR",
    "LoraSettings",
    "add_adapters",
    "adapters_disabled",
    "merged_parameters",
    "write_lora_export",
]

ADAPTER = "default"  # peft's name for the one adapter
ADAPTER_DIR = "lora_adapter"  # the adapter folder inside a Hugging Face export (verl's name)
KEY = "actor_rollout_ref.model"
_LORA_NAME = re.compile(rf"^(.+)\.(base_layer\.weight|base_layer\.bias|lora_A\.{ADAPTER}\.weight|lora_B\.{ADAPTER}\.weight)$")


@dataclass(frozen=True)
class LoraSettings:
    """``actor_rollout_ref.model.{lora_rank, lora_alpha, target_modules, lora_dropout}`` (verl's names)."""

    rank: int
    alpha: float = 16.0
    target_modules: str | tuple[str, ...] = "all-linear"
    dropout: float = 0.0

    @classmethod
    def from_config(cls, model_cfg: DictConfig) -> LoraSettings | None:
        """The settings, or None when ``lora_rank`` is 0 (full fine-tuning)."""
        rank = int(model_cfg.lora_rank)
        if rank <= 0:
            return None
        targets = model_cfg.target_modules
        if not isinstance(targets, str):
            targets = tuple(OmegaConf.to_container(targets) if OmegaConf.is_config(targets) else targets)
        return cls(rank, float(model_cfg.lora_alpha), targets, float(model_cfg.lora_dropout))

    @property
    def scale(self) -> float:
        """The factor of ``B @ A`` in the adapted weight (peft's ``scaling``; rsLoRA is not used)."""
        return self.alpha / self.rank

    def peft_config(self) -> LoraConfig:
        from peft import LoraConfig

        targets = self.target_modules if isinstance(self.target_modules, str) else list(self.target_modules)
        return LoraConfig(
            r=self.rank, lora_alpha=self.alpha, target_modules=targets, lora_dropout=self.dropout,
            bias="none", task_type="CAUSAL_LM",
        )


def _check_adaptable(model: torch.nn.Module) -> None:
    """Adapters only on untied ``nn.Linear`` layers (module docstring); the error names the key to change."""
    from peft.tuners.lora import LoraLayer

    adapted, base_weights = [], {}
    for name, module in model.named_modules():
        if isinstance(module, LoraLayer):
            adapted.append(name)
            if not isinstance(module.get_base_layer(), torch.nn.Linear):
                raise ValueError(
                    f"{KEY}.target_modules selects {name} ({type(module.get_base_layer()).__name__}); "
                    "LoRA is supported on nn.Linear layers only"
                )
            base_weights[id(module.get_base_layer().weight)] = name
    if not adapted:
        raise ValueError(f"{KEY}.target_modules matches no layer of the model; use all-linear or name its layers")
    for name, parameter in model.named_parameters(remove_duplicate=False):
        owner = base_weights.get(id(parameter))
        if owner is not None and not name.startswith(f"{owner}."):
            raise ValueError(
                f"{KEY}.target_modules selects {owner}, whose weight is tied to {name}; leave it out "
                "(all-linear already leaves out the output layer)"
            )


def add_adapters(model: PreTrainedModel, settings: LoraSettings, seed: int) -> PeftModel:
    """Insert the adapters into `model` in place (its base weights frozen) and return peft's wrapper.

    The adapters' random initialisation is drawn from `seed`, so every rank (and a single-process
    reference) builds the same adapters; the global RNG is left as it was."""
    from peft import get_peft_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        wrapped = get_peft_model(model, settings.peft_config())
    _check_adaptable(model)
    return wrapped


def adapters_disabled(wrapped: PeftModel) -> AbstractContextManager:
    """The base model, for the reference log-probs: the same module with its adapters switched off."""
    return wrapped.disable_adapter()


def merged_parameters(
    named_tensors: Iterable[tuple[str, torch.Tensor]], scale: float
) -> Iterator[tuple[str, torch.Tensor]]:
    """The adapted model's full parameters as plain Hugging Face names and tensors: each adapted layer's
    ``weight`` is ``W + scale * B @ A`` (in float32 or wider), other parameters pass through.

    Lazy: a layer's pieces are held only until its last one arrives (peft lists them together)."""
    pending: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in named_tensors:
        match = _LORA_NAME.match(name)
        if match is None:
            if ".lora_" in name:
                raise ValueError(f"merged_parameters: unexpected adapter parameter {name!r}")
            yield name, tensor
            continue
        layer, part = match.group(1), match.group(2).split(".")[0]
        if part == "base_layer" and name.endswith(".bias"):
            yield f"{layer}.bias", tensor
            continue
        pieces = pending.setdefault(layer, {})
        pieces[part] = tensor
        if len(pieces) == 3:
            del pending[layer]
            weight = pieces["base_layer"]
            dtype = torch.promote_types(weight.dtype, torch.float32)
            merged = torch.addmm(weight.to(dtype), pieces["lora_B"].to(dtype), pieces["lora_A"].to(dtype), alpha=scale)
            yield f"{layer}.weight", merged.to(weight.dtype)
    if pending:
        raise ValueError(f"merged_parameters: incomplete adapted layers {sorted(pending)}")


def write_lora_export(
    folder: Path, full_state: dict[str, torch.Tensor], model: PreTrainedModel, settings: LoraSettings, tokenizer,
    dtype: torch.dtype,
) -> None:
    """Into `folder`: the merged model (loads with ``AutoModelForCausalLM``) and tokenizer, and the adapter
    alone in ``folder/lora_adapter`` (loads with ``PeftModel.from_pretrained`` on the base model).

    `full_state` is the adapted model's unsharded state dict (peft names without the wrapper's prefix)."""
    from peft import get_peft_model

    with torch.device("meta"):
        adapted, merged = (AutoModelForCausalLM.from_config(model.config) for _ in range(2))
    wrapped = get_peft_model(adapted, settings.peft_config())
    adapted.load_state_dict(full_state, assign=True)
    wrapped.save_pretrained(folder / ADAPTER_DIR)
    merged.load_state_dict(dict(merged_parameters(full_state.items(), settings.scale)), assign=True)
    merged.tie_weights()
    merged.generation_config = model.generation_config
    merged.to(dtype).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
