"""PPO's clipped value loss, aggregated like the policy loss.

With V the critic's new prediction, V_old the values the advantages were computed from and G the returns,
the per-token loss is ``max((V - G)^2, (clip(V, V_old - c, V_old + c) - G)^2) / 2``: the clip keeps one
update from moving a value far from where the advantages assumed it was. It is reduced by `agg_loss` with
the same ``loss_agg_mode`` and whole-mini-batch normaliser as the policy loss, so micro-batching and the
number of ranks leave the update unchanged.
"""

from __future__ import annotations

import torch

from maxrl.algorithms.losses import agg_loss
from maxrl.algorithms.masked import masked_mean

__all__ = ["clipped_value_loss"]


def clipped_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    cliprange_value: float,
    loss_agg_mode: str = "token-mean",
    normalizer: torch.Tensor | float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, clipfrac)``: the clipped value loss and the fraction of valid tokens where the clipped
    term was the larger one."""
    clipped = old_values + (values - old_values).clamp(-cliprange_value, cliprange_value)
    unclipped_error = (values - returns).square()
    clipped_error = (clipped - returns).square()
    loss = 0.5 * agg_loss(torch.maximum(unclipped_error, clipped_error), mask, loss_agg_mode, normalizer)
    clipfrac = masked_mean((clipped_error > unclipped_error).float(), mask)
    return loss, clipfrac
