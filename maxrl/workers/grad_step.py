"""The end of every optimizer step of the actor and the critic: sums over ranks, grad-norm clipping, and
a step that a non-finite norm skips."""

from __future__ import annotations

import logging
import math

import torch
import torch.distributed as dist

__all__ = ["all_reduce_sum", "clip_and_step"]

logger = logging.getLogger(__name__)


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """A detached copy of `values`, summed over all ranks."""
    values = values.detach().clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def clip_and_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, grad_clip: float | None, scaler, role: str = "actor"
) -> tuple[float, bool]:
    """Clip the global grad norm and step; a non-finite norm skips the step (logged naming `role`).
    Returns (norm, stepped)."""
    if scaler is not None:
        scaler.unscale_(optimizer)
    max_norm = float(grad_clip) if grad_clip and grad_clip > 0 else math.inf
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
    stepped = math.isfinite(norm)
    if scaler is not None:
        scaler.step(optimizer)  # the scaler skips the step itself when gradients overflowed
        scaler.update()
    elif stepped:
        optimizer.step()
    if not stepped:
        logger.warning("%s grad norm is %s: optimizer step skipped", role, norm)
    optimizer.zero_grad(set_to_none=True)
    return norm, stepped
