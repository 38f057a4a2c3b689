"""Reductions over the valid (mask = 1) entries of padded `[B, L]` tensors.

Sums are contractions with the mask (einsum), which skip the full-size temporary that `values * mask`
would allocate; finite values on padding are multiplied by 0 and so never leak into a result.
"""

from __future__ import annotations

import torch


def masked_sum(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Sum of `values` where `mask` is 1, over everything (`dim=None`) or the last dimension (`dim=-1`)."""
    mask = mask.to(values.dtype)
    if dim is None:
        return torch.einsum("...,...->", values, mask)
    if dim not in (-1, values.dim() - 1):
        raise ValueError(f"masked_sum reduces over everything or the last dimension, got dim={dim}")
    return torch.einsum("...l,...l->...", values, mask)


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean over valid entries (0 when there are none)."""
    count = mask.to(values.dtype).sum() if dim is None else mask.to(values.dtype).sum(dim)
    return masked_sum(values, mask, dim) / count.clamp_min(1)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Shift to zero mean and scale to unit (unbiased) variance over all valid entries of the batch.

    Padding positions come back as 0, so whitened advantages stay zero outside the response.
    """
    count = int(mask.bool().sum())
    if count < 2:
        raise ValueError(f"whitening needs at least 2 valid tokens in the batch, got {count} "
                         "(check response_mask)")
    mean = masked_mean(values, mask)
    variance = masked_sum((values - mean).square(), mask) / (count - 1)
    return (values - mean) * torch.rsqrt(variance + eps) * mask.to(values.dtype)
