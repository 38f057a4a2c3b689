"""Binomial coefficients in log space (float64), exact enough for group sizes in the thousands."""

from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=8)
def _log_factorials(largest: int) -> torch.Tensor:
    """log m! for m = 0..largest (computed once; lgamma is slow elementwise, lookups are not)."""
    return torch.lgamma(torch.arange(largest + 1, dtype=torch.float64) + 1)


def log_comb(n, k) -> torch.Tensor:
    """log C(n, k) elementwise for integer-valued n, k (broadcasting); -inf where C(n, k) = 0."""
    n = torch.as_tensor(n).to(torch.long)
    k = torch.as_tensor(k).to(torch.long)
    valid = (k >= 0) & (k <= n)
    safe_n, safe_k = torch.where(valid, n, 0), torch.where(valid, k, 0)
    largest = int(safe_n.max()) if safe_n.numel() else 0
    log_fact = _log_factorials(1 << max(largest, 1).bit_length())  # power-of-two sizes: few cache entries
    value = log_fact[safe_n] - log_fact[safe_k] - log_fact[safe_n - safe_k]
    return torch.where(valid, value, -torch.inf)


def comb_ratio(n_top, k_top, n_bottom, k_bottom) -> torch.Tensor:
    """C(n_top, k_top) / C(n_bottom, k_bottom); 0 where the numerator is 0 (the denominator must not be)."""
    return torch.exp(log_comb(n_top, k_top) - log_comb(n_bottom, k_bottom))
