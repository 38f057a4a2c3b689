"""SGD with momentum and the paper's learning-rate schedule: linear warm-up, then a half cosine to zero."""

from __future__ import annotations

import math

import torch
from omegaconf import DictConfig


def warmup_cosine_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Multiplier of the base LR at ``step``: (step+1)/warmup during warm-up, then 0.5 (1 + cos(pi t)), t in [0, 1]."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def build_optimizer(model: torch.nn.Module, optim: DictConfig) -> torch.optim.SGD:
    return torch.optim.SGD(
        model.parameters(), lr=optim.lr, momentum=optim.momentum,
        weight_decay=optim.weight_decay, nesterov=optim.nesterov,
    )


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine_factor(step, total_steps, warmup_steps)
    )
