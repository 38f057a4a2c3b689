"""``actor_rollout_ref.model.*``: the policy, a Hugging Face causal LM folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maxrl.config.schema.fields import dropout_rate, knob, lora_targets, non_negative_int, positive


@dataclass
class ModelConfig:
    path: str | None = knob(
        "local folder of the model (and tokenizer unless data.tokenizer is set); required"
    )
    tokenizer_path: str | None = knob("tokenizer folder if it differs from path")
    trust_remote_code: bool = knob("allow custom modelling code shipped with the model")
    override_config: dict[str, Any] = knob("keys merged into the model's config.json at load time")
    external_lib: str | None = knob("module imported before loading (registers custom architectures)")
    enable_gradient_checkpointing: bool = knob("recompute activations in backward to save memory")
    use_remove_padding: bool = knob(
        "skip columns that are padding in every row of a micro-batch (exact; docs/performance.md)"
    )
    share_prompt_prefix: bool = knob(
        "each distinct prompt once per mini-batch (per micro-batch when the prompts take over half the token "
        "budget), its samples attend to its KV (exact; off under gradient checkpointing)"
    )
    lora_rank: int = knob(
        "LoRA: train rank-r adapters on target_modules only (0 = full fine-tuning; docs/architecture.md)",
        non_negative_int,
    )
    lora_alpha: float = knob("LoRA scale: adapted weight = W + lora_alpha / lora_rank * B @ A", positive)
    target_modules: Any = knob(
        "layers that get adapters: all-linear (every linear layer but the output one) or a list of names",
        lora_targets,
    )
    lora_dropout: float = knob("LoRA: dropout on the adapters' input in the update's forward", dropout_rate)
