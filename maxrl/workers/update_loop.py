"""The loop the actor's and the critic's updates share: PPO epochs over mini-batches, micro-batches with
gradient accumulation, one optimizer step per mini-batch, and metrics equal on every rank.

Why the result does not depend on micro-batch size or the number of ranks: a mini-batch's loss is
``sum over its tokens (or sequences) / N`` where ``N`` is the mini-batch's whole normaliser (its valid
token count for ``token-mean``, its sequence count for ``seq-mean-*``). Each rank computes its share of
``N``, all-reduces it, and passes the total to every micro-batch's loss; summing the micro-batch losses
of all ranks then gives the mini-batch loss exactly. Gradient accumulation sums over micro-batches, and
FSDP *averages* gradients over ranks, so each rank's loss is scaled by the world size to turn that
average back into the sum. Rows with ``sample_valid == 0`` (padding added by dispatch) are masked out
and do not count in ``N``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.distributed as dist

from maxrl.algorithms import loss_normalizer
from maxrl.data.batch import SAMPLE_VALID, Batch
from maxrl.workers.batch_sizes import chunk_sizes
from maxrl.workers.grad_step import all_reduce_sum, clip_and_step

__all__ = ["MicroLosses", "loss_mask", "run_update"]

# (mini-batch, its all-reduced normaliser) -> each micro-batch's (loss, statistic sums), in order; the
# caller backpropagates each loss before the next is drawn, so the generator may finish work after its last.
MicroLosses = Callable[[Batch, torch.Tensor], Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]]


def loss_mask(batch: Batch) -> torch.Tensor:
    """The response mask with padding rows (``sample_valid == 0``) zeroed."""
    mask = batch["response_mask"]
    if SAMPLE_VALID in batch:
        mask = mask * batch[SAMPLE_VALID].to(mask.dtype)[:, None]
    return mask


def run_update(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    micro_losses: MicroLosses,
    *,
    loss_agg_mode: str,
    losses: frozenset[str],
    mini_batch_per_device: int,
    ppo_epochs: int = 1,
    grad_clip: float | None = None,
    scaler=None,
    role: str = "actor",
) -> tuple[dict[str, float], int]:
    """``(metrics averaged over the optimizer steps, steps skipped for a non-finite gradient)``.

    Statistics named in `losses` are summed over a mini-batch's micro-batches and ranks; every other one is
    a token sum turned into a token-weighted mean (by the ``tokens`` statistic). ``grad_norm`` is added."""
    world_size = dist.get_world_size()
    totals: dict[str, float] = {}
    steps = skipped = 0
    model.train()
    for _ in range(ppo_epochs):
        for mini in batch.split(chunk_sizes(len(batch), mini_batch_per_device)):
            normalizer = all_reduce_sum(loss_normalizer(loss_mask(mini), loss_agg_mode))
            sums: dict[str, torch.Tensor] = {}
            for loss, stats in micro_losses(mini, normalizer):
                scaled = loss * world_size  # FSDP averages gradients over ranks; we want their sum
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
                for name, value in stats.items():
                    sums[name] = sums.get(name, 0.0) + value
            grad_norm, stepped = clip_and_step(model, optimizer, grad_clip, scaler, role=role)
            steps, skipped = steps + 1, skipped + (not stepped)
            for name, value in (_reduced(sums, losses) | {"grad_norm": grad_norm}).items():
                totals[name] = totals.get(name, 0.0) + value
    return {name: value / steps for name, value in totals.items()}, skipped


def _reduced(sums: dict[str, torch.Tensor], losses: frozenset[str]) -> dict[str, float]:
    """Whole-mini-batch values from every rank's micro-batch sums."""
    names = sorted(sums)
    reduced = dict(
        zip(names, all_reduce_sum(torch.stack([torch.as_tensor(sums[n]).float() for n in names])).tolist())
    )
    tokens = max(reduced.pop("tokens"), 1.0)
    return {name: value if name in losses else value / tokens for name, value in reduced.items()}
