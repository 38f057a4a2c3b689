"""Reductions over the valid (mask = 1) entries of padded `[B, L]` tensors."""

from __future__ import annotations

import torch


def masked_sum(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Sum of `values` where `mask` is 1; padding may hold anything (even inf/nan is ignored)."""
    masked = torch.where(mask.bool(), values, torch.zeros((), dtype=values.dtype, device=values.device))
    return masked.sum() if dim is None else masked.sum(dim)


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
        raise ValueError(f"whitening needs at least 2 valid tokens in the batch, got {count} (check response_mask)")
    mean = masked_mean(values, mask)
    variance = masked_sum((values - mean).square(), mask) / (count - 1)
    whitened = (values - mean) * torch.rsqrt(variance + eps)
    return torch.where(mask.bool(), whitened, torch.zeros((), dtype=values.dtype, device=values.device))
