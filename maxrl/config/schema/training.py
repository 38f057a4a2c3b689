"""Sub-sections the actor and the critic share: optimizer, FSDP and checkpoint contents, and the dtypes."""

from __future__ import annotations

from dataclasses import dataclass

from maxrl.config.schema.fields import knob, non_negative, one_of, positive, unit_interval

DTYPES = ("fp32", "bf16", "fp16", "float32", "bfloat16", "float16")
STRATEGIES = ("fsdp2", "fsdp")


@dataclass
class OptimConfig:
    lr: float = knob("AdamW learning rate", positive)
    betas: list[float] = knob("AdamW betas")
    weight_decay: float = knob("AdamW decoupled weight decay", non_negative)
    lr_warmup_steps: int = knob("linear warmup steps; -1 = use lr_warmup_steps_ratio")
    lr_warmup_steps_ratio: float = knob("warmup as a fraction of the total training steps", unit_interval)
    warmup_style: str = knob("schedule after warmup: constant | cosine", one_of("constant", "cosine"))
    min_lr_ratio: float = knob("cosine floor as a fraction of lr", unit_interval)
    total_training_steps: int = knob(
        "set by the trainer from data size and trainer.total_epochs / total_training_steps"
    )
    lr_scheduler_type: str | None = knob(
        "verl's name for warmup_style (constant | cosine); takes precedence when given",
        one_of("constant", "cosine"), added=True,
    )


@dataclass
class FsdpConfig:
    param_offload: bool = knob(
        "GPU: keep the sharded parameters, gradients and optimizer state in CPU memory (FSDP2 "
        "CPUOffloadPolicy); CPU: no-op (warning)"
    )
    optimizer_offload: bool = knob(
        "GPU: same policy (FSDP2 offloads the optimizer state with the parameters); CPU: no-op (warning)"
    )
    reshard_after_forward: bool = knob("free gathered parameters after forward (ZeRO-3 style)")
    fsdp_size: int = knob("accepted for verl compatibility; FSDP always shards over all ranks")


@dataclass
class CheckpointConfig:
    save_contents: list[str] = knob("what each checkpoint stores (extra = the lr scheduler, and the RNG for the actor)")
    load_contents: list[str] = knob("what a resume restores")
