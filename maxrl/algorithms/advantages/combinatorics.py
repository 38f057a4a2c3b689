"""Binomial coefficients in log space (float64), exact enough for group sizes in the thousands."""

from __future__ import annotations

import torch


def log_comb(n, k) -> torch.Tensor:
    """log C(n, k) elementwise (broadcasting); -inf where the coefficient is 0 (k < 0 or k > n)."""
    n = torch.as_tensor(n, dtype=torch.float64)
    k = torch.as_tensor(k, dtype=torch.float64)
    valid = (k >= 0) & (k <= n)
    safe_n, safe_k = torch.where(valid, n, 0.0), torch.where(valid, k, 0.0)
    value = torch.lgamma(safe_n + 1) - torch.lgamma(safe_k + 1) - torch.lgamma(safe_n - safe_k + 1)
    return torch.where(valid, value, -torch.inf)


def comb_ratio(n_top, k_top, n_bottom, k_bottom) -> torch.Tensor:
    """C(n_top, k_top) / C(n_bottom, k_bottom); 0 where the numerator is 0 (the denominator must not be)."""
    return torch.exp(log_comb(n_top, k_top) - log_comb(n_bottom, k_bottom))
