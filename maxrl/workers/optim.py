"""The actor's optimizer (AdamW) and learning-rate schedule (linear warmup, then constant or cosine).

The schedule advances once per training step (one `update_actor` call), as in verl, so warmup and decay
lengths are counted in training steps whatever the number of mini-batches per step. It is written here
rather than taken from ``transformers.optimization``, whose import pulls in ``transformers.trainer_utils``
and with it ``peft``: seconds of every worker's start-up, for two one-line formulas.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from omegaconf import DictConfig

__all__ = ["build_grad_scaler", "build_lr_scheduler", "build_optimizer", "warmup_steps"]

OPTIM = "actor_rollout_ref.actor.optim"


def build_optimizer(parameters: Iterable[torch.nn.Parameter], optim: DictConfig) -> torch.optim.AdamW:
    """AdamW with ``optim.lr``, ``optim.betas`` and ``optim.weight_decay``."""
    return torch.optim.AdamW(
        parameters,
        lr=float(optim.lr),
        betas=tuple(float(b) for b in optim.betas),
        weight_decay=float(optim.weight_decay),
    )


def build_grad_scaler(compute_dtype: torch.dtype, device: torch.device):
    """A loss scaler for fp16 (its gradients underflow without one); None for bf16 and fp32."""
    if compute_dtype != torch.float16:
        return None
    from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler

    return ShardedGradScaler(device=device.type, growth_interval=400)


def _total_steps(optim: DictConfig, needed_for: str) -> int:
    total = optim.total_training_steps
    if total is None or int(total) < 1:
        raise ValueError(
            f"{OPTIM}.total_training_steps={total}: {needed_for} needs the run length in training steps "
            "(the trainer sets it from the data size and trainer.total_epochs / total_training_steps)"
        )
    return int(total)


def warmup_steps(optim: DictConfig) -> int:
    """``lr_warmup_steps`` when positive, else ``lr_warmup_steps_ratio`` of the total training steps."""
    steps = int(optim.lr_warmup_steps)
    if steps > 0:
        return steps
    ratio = float(optim.lr_warmup_steps_ratio)
    return int(ratio * _total_steps(optim, f"{OPTIM}.lr_warmup_steps_ratio={ratio}")) if ratio > 0 else 0


def build_lr_scheduler(
    optimizer: torch.optim.Optimizer, optim: DictConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup from 0 over `warmup_steps`, then ``constant`` or ``cosine`` (down to ``min_lr_ratio * lr``).

    The style is ``optim.lr_scheduler_type`` (newer verl name) or ``optim.warmup_style`` (older name).
    """
    # lr_scheduler_type is added with + only (verl's newer name), so it may be absent; warmup_style is in the YAML.
    style = optim.get("lr_scheduler_type") or optim.warmup_style
    warmup = warmup_steps(optim)
    if style == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then(warmup, lambda step: 1.0))
    if style == "cosine":
        decay_steps = max(1, _total_steps(optim, "the cosine schedule") - warmup)
        floor = float(optim.min_lr_ratio)

        def cosine(step: int) -> float:
            """Half a cosine from 1 down to ``floor`` over the steps after warmup."""
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * step / decay_steps)) * (1.0 - floor) + floor)

        return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then(warmup, cosine))
    raise ValueError(f"{OPTIM}.warmup_style={style!r}: choose constant or cosine")


def warmup_then(warmup: int, after: Callable[[int], float]) -> Callable[[int], float]:
    """The learning-rate factor at a step: ``step / warmup`` during the first `warmup` steps (0 at the first),
    then ``after(steps since warmup ended)``."""

    def factor(step: int) -> float:
        return step / warmup if step < warmup else after(step - warmup)

    return factor
