"""One `update_critic` call: epochs over mini-batches, micro-batches with gradient accumulation, the
clipped value loss (`maxrl.algorithms.value_loss`).

The update does not depend on micro-batching or the number of ranks, for the actor's reasons
(`maxrl.workers.policy_update`): each micro-batch's loss is divided by the whole mini-batch's normaliser,
all-reduced over ranks, and multiplied by the world size because FSDP averages gradients over ranks.
The batch must be laid out with `maxrl.workers.batch_sizes.update_order` for the critic's mini-batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from omegaconf import DictConfig

from maxrl.algorithms import loss_normalizer
from maxrl.algorithms.masked import masked_sum
from maxrl.algorithms.value_loss import clipped_value_loss
from maxrl.data.batch import Batch
from maxrl.workers.batch_sizes import chunk_sizes
from maxrl.workers.grad_step import all_reduce_sum, clip_and_step
from maxrl.workers.micro_batches import MicroBatching
from maxrl.workers.policy_update import loss_mask
from maxrl.workers.value_model import response_values

__all__ = ["ValueLoss", "update_values"]


@dataclass(frozen=True)
class ValueLoss:
    """``critic.cliprange_value`` and ``critic.loss_agg_mode``."""

    cliprange_value: float = 0.5
    loss_agg_mode: str = "token-mean"

    @classmethod
    def from_config(cls, critic: DictConfig) -> ValueLoss:
        return cls(float(critic.cliprange_value), str(critic.loss_agg_mode))


def _micro_batch_loss(model, micro: Batch, normalizer: torch.Tensor, spec: ValueLoss):
    mask = loss_mask(micro)
    values = response_values(model, micro)
    loss, clipfrac = clipped_value_loss(
        values, micro["values"], micro["returns"], mask, spec.cliprange_value, spec.loss_agg_mode, normalizer
    )
    tokens = mask.sum().float()
    stats = {"vf_loss": loss.detach(), "tokens": tokens, "vf_clipfrac": clipfrac.detach() * tokens,
             "vpred_mean": masked_sum(values.detach(), mask)}
    return loss, stats


def update_values(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    spec: ValueLoss,
    mini_batch_per_device: int,
    micro_batching: MicroBatching,
    ppo_epochs: int = 1,
    grad_clip: float | None = None,
    scaler=None,
) -> dict[str, float]:
    """Optimizer steps over this rank's share; returns ``critic/*`` metrics equal on every rank
    (the loss summed over each mini-batch's micro-batches, statistics token-weighted, all averaged over
    the optimizer steps)."""
    world_size = dist.get_world_size()
    totals: dict[str, float] = {}
    steps = 0
    model.train()
    for _ in range(ppo_epochs):
        for mini in batch.split(chunk_sizes(len(batch), mini_batch_per_device)):
            normalizer = all_reduce_sum(loss_normalizer(loss_mask(mini), spec.loss_agg_mode))
            sums: dict[str, torch.Tensor] = {}
            for rows in micro_batching.plan(mini):
                loss, stats = _micro_batch_loss(model, mini.reorder(rows), normalizer, spec)
                scaled = loss * world_size  # FSDP averages gradients over ranks; we want their sum
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
                for name, value in stats.items():
                    sums[name] = sums.get(name, 0.0) + value
            grad_norm, _ = clip_and_step(model, optimizer, grad_clip, scaler, role="critic")
            names = sorted(sums)
            reduced = dict(zip(names, all_reduce_sum(torch.stack([sums[n].float() for n in names])).tolist()))
            tokens = max(reduced.pop("tokens"), 1.0)
            step_metrics = {name: value if name == "vf_loss" else value / tokens for name, value in reduced.items()}
            step_metrics["grad_norm"] = grad_norm
            for name, value in step_metrics.items():
                totals[name] = totals.get(name, 0.0) + value
            steps += 1
    return {f"critic/{name}": value / steps for name, value in totals.items()}
