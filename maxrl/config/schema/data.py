"""``data.*``: the RL prompt data (verl-format parquet: data_source, prompt, ability, reward_model, extra_info)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maxrl.config.schema.fields import knob, non_negative_int, one_of, positive_int, section
from maxrl.data.prompts import TRUNCATION_MODES


@dataclass
class CustomDatasetConfig:
    path: str | None = knob("Python file with your own dataset class; null = maxrl.data.dataset.RLDataset")
    name: str | None = knob("class name in that file")


@dataclass
class DataConfig:
    tokenizer: str | None = knob("tokenizer folder; null = actor_rollout_ref.model.path")
    train_files: Any = knob("parquet path or list of paths for training (required)")
    val_files: Any = knob("parquet path or list of paths for validation; null = no validation")
    prompt_key: str = knob("column holding the chat messages")
    reward_fn_key: str = knob("column that routes each row to its scorer and groups validation metrics")
    max_prompt_length: int = knob("prompt tokens (left-padded to this length)", positive_int)
    max_response_length: int = knob("generated tokens per sample", positive_int)
    train_batch_size: int = knob(
        "prompts per training step (each sampled actor_rollout_ref.rollout.n times)", positive_int
    )
    gen_batch_size: int | None = knob(
        "prompts drawn per generation round with algorithm.filter_groups.enable; null = train_batch_size",
        positive_int,
    )
    val_batch_size: int | None = knob(
        "prompts per validation generation call; null = the whole validation set", positive_int
    )
    shuffle: bool = knob("shuffle the training prompts every epoch")
    seed: int = knob("seed of the training shuffle (epoch e uses seed + e)")
    filter_overlong_prompts: bool = knob("drop prompts longer than max_prompt_length instead of failing/truncating")
    truncation: str = knob(
        "overlong prompt: error | left | right | middle (the part cut; middle keeps both ends)",
        one_of(*TRUNCATION_MODES),
    )
    apply_chat_template: bool = knob("true: tokenizer chat template + generation prompt; false: raw message text")
    tool_config_path: str | None = knob("tool schemas rendered into prompts (multi-turn)")
    dataloader_num_workers: int = knob("loader worker processes (0 = in the driver)", non_negative_int)
    custom_cls: CustomDatasetConfig = section(CustomDatasetConfig, "your own dataset class")
