"""One `update_critic` call: epochs over mini-batches, micro-batches with gradient accumulation, the
clipped value loss (`maxrl.algorithms.value_loss`).

The loop is the actor's (`maxrl.workers.update_loop`), so the update does not depend on micro-batching or
the number of ranks for the same reasons. The batch must be laid out with `maxrl.workers.batch_sizes.update_order` for the critic's mini-batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from maxrl.algorithms.masked import masked_sum
from maxrl.algorithms.value_loss import clipped_value_loss
from maxrl.data.batch import Batch
from maxrl.workers.micro_batches import MicroBatching
from maxrl.workers.update_loop import loss_mask, run_update
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

    def micro_losses(mini: Batch, normalizer: torch.Tensor):
        for rows in micro_batching.plan(mini):
            yield _micro_batch_loss(model, mini.reorder(rows), normalizer, spec)

    means, _ = run_update(
        model, optimizer, batch, micro_losses, loss_agg_mode=spec.loss_agg_mode, losses=frozenset({"vf_loss"}),
        mini_batch_per_device=mini_batch_per_device, ppo_epochs=ppo_epochs, grad_clip=grad_clip, scaler=scaler,
        role="critic",
    )
    return {f"critic/{name}": value for name, value in means.items()}
