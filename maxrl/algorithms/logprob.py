"""Token log-probabilities and entropies from logits, without full-vocabulary float32 copies.

Logits of a [tokens, vocab] batch are the largest tensor in RL training (e.g. 16k × 152k). Upcasting them
to float32 with `log_softmax` would materialise (and keep for backward) another copy of that size. Here the
forward pass walks over row chunks, computing in float32 (float64 for float64 input) only one chunk at a
time, and keeps just the per-row log-normaliser for backward, which recomputes the softmax chunk by chunk.
Results are float32 (float64 for float64 logits); gradients come back in the logits' dtype.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

CHUNK_ELEMENTS = 1 << 24  # float32 elements per chunk (64 MiB)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _chunks(rows: int, vocab: int):
    step = max(1, CHUNK_ELEMENTS // max(vocab, 1))
    for start in range(0, rows, step):
        yield slice(start, min(start + step, rows))


def _scaled(block: torch.Tensor, temperature: float) -> torch.Tensor:
    block = block.to(_compute_dtype(block.dtype))
    return block if temperature == 1.0 else block / temperature


class _LogProbOfLabels(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, labels, temperature):
        out_dtype = _compute_dtype(logits.dtype)
        log_norm = torch.empty(logits.shape[0], dtype=out_dtype, device=logits.device)
        log_probs = torch.empty_like(log_norm)
        for rows in _chunks(*logits.shape):
            scaled = _scaled(logits[rows], temperature)
            log_norm[rows] = torch.logsumexp(scaled, dim=-1)
            log_probs[rows] = scaled.gather(-1, labels[rows].unsqueeze(-1)).squeeze(-1) - log_norm[rows]
        ctx.save_for_backward(logits, labels, log_norm)
        ctx.temperature = temperature
        return log_probs

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_log_probs):
        logits, labels, log_norm = ctx.saved_tensors
        grad_logits = torch.empty_like(logits)
        for rows in _chunks(*logits.shape):
            probs = torch.exp(_scaled(logits[rows], ctx.temperature) - log_norm[rows].unsqueeze(-1))
            upstream = grad_log_probs[rows].unsqueeze(-1).to(probs.dtype)
            block = (-probs * upstream).scatter_add_(-1, labels[rows].unsqueeze(-1), upstream)
            grad_logits[rows] = block / ctx.temperature
        return grad_logits, None, None


class _Entropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, temperature):
        out_dtype = _compute_dtype(logits.dtype)
        log_norm = torch.empty(logits.shape[0], dtype=out_dtype, device=logits.device)
        entropy = torch.empty_like(log_norm)
        for rows in _chunks(*logits.shape):
            scaled = _scaled(logits[rows], temperature)
            log_norm[rows] = torch.logsumexp(scaled, dim=-1)
            probs = torch.exp(scaled - log_norm[rows].unsqueeze(-1))
            entropy[rows] = log_norm[rows] - (probs * scaled).sum(-1)
        ctx.save_for_backward(logits, log_norm, entropy)
        ctx.temperature = temperature
        return entropy

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_entropy):
        # dH/dz_j = -p_j (z_j - E_p[z]) with z = logits / T and E_p[z] = log_norm - H.
        logits, log_norm, entropy = ctx.saved_tensors
        grad_logits = torch.empty_like(logits)
        for rows in _chunks(*logits.shape):
            scaled = _scaled(logits[rows], ctx.temperature)
            probs = torch.exp(scaled - log_norm[rows].unsqueeze(-1))
            mean_scaled = (log_norm[rows] - entropy[rows]).unsqueeze(-1)
            upstream = grad_entropy[rows].unsqueeze(-1).to(probs.dtype)
            grad_logits[rows] = -probs * (scaled - mean_scaled) * upstream / ctx.temperature
        return grad_logits, None


def _check_temperature(temperature: float) -> float:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (actor_rollout_ref.rollout.temperature), "
                         f"got {temperature}")
    return float(temperature)


def log_probs_from_logits(logits: torch.Tensor, labels: torch.Tensor,
                          temperature: float = 1.0) -> torch.Tensor:
    """log softmax(logits / T)[label] for every position: logits [..., V], labels [...] -> [...].

    Pass contiguous logits: a non-contiguous slice is copied (in its own dtype) to flatten it.
    """
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels shape {tuple(labels.shape)} must equal logits shape without the vocab "
                         f"dimension {tuple(logits.shape[:-1])}")
    flat_logits = logits.reshape(-1, logits.shape[-1])
    flat = _LogProbOfLabels.apply(flat_logits, labels.reshape(-1).long(), _check_temperature(temperature))
    return flat.view(labels.shape)


def entropy_from_logits(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Entropy of softmax(logits / T) at every position: [..., V] -> [...]."""
    flat_logits = logits.reshape(-1, logits.shape[-1])
    return _Entropy.apply(flat_logits, _check_temperature(temperature)).view(logits.shape[:-1])
