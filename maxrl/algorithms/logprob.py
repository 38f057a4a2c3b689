"""Token log-probabilities and entropies from logits, without full-vocabulary float32 copies.

Logits of a [tokens, vocab] batch are the largest tensor in RL training (e.g. 16k × 152k). Upcasting them
to float32 with `log_softmax` would materialise (and keep for backward) another copy of that size. Here the
forward pass walks over row chunks, computing in float32 (float64 for float64 input) only one chunk at a
time, and keeps just the per-row log-normaliser for backward, which recomputes the softmax chunk by chunk.
Results are float32 (float64 for float64 logits); gradients come back in the logits' dtype.

A rollout may draw from a truncated distribution (`SamplingDistribution`: top-k, then top-p, renormalised);
its log-probs are then taken under that distribution. That path is plain autograd over full-size copies: it
serves the rarer runs that sample with top-k or top-p.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class SamplingDistribution:
    """The distribution a token is drawn from: softmax(logits / temperature), restricted to the ``top_k``
    largest logits (off when <= 0) and then to the ``top_p`` nucleus (off at 1), renormalised. This is what
    vLLM's ``processed_logprobs`` are taken under; greedy decoding reports ``SamplingDistribution()``."""

    temperature: float = 1.0
    top_k: int = -1
    top_p: float = 1.0

    @property
    def truncated(self) -> bool:
        return self.top_k > 0 or self.top_p < 1.0


def as_distribution(distribution: float | SamplingDistribution) -> SamplingDistribution:
    """A distribution given as itself, or as a temperature alone."""
    if isinstance(distribution, SamplingDistribution):
        return distribution
    return SamplingDistribution(temperature=float(distribution))


def kept_tokens(scaled_logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Which tokens of ``[..., V]`` temperature-scaled logits survive top-k, then top-p (bool, same shape).

    Top-k keeps every token whose logit reaches the k-th largest (ties stay); top-p then drops, in ascending
    order of probability, the tokens whose cumulative probability stays within ``1 - top_p``, keeping at
    least the most likely one (the rule of Transformers' warpers and vLLM's sampler)."""
    keep = torch.ones_like(scaled_logits, dtype=torch.bool)
    if 0 < top_k < scaled_logits.shape[-1]:
        keep = scaled_logits >= torch.topk(scaled_logits, top_k, dim=-1).values[..., -1:]
    if top_p < 1.0:
        ascending, order = torch.sort(scaled_logits.masked_fill(~keep, float("-inf")), dim=-1)
        dropped = torch.softmax(ascending, dim=-1).cumsum(dim=-1) <= 1 - top_p
        dropped[..., -1] = False
        keep = keep & ~dropped.scatter(-1, order, dropped)
    return keep


def _truncated_log_probs(logits: torch.Tensor, labels: torch.Tensor, distribution: SamplingDistribution):
    """log-probs of `labels` under the truncated, renormalised distribution, differentiable. The label itself
    always counts as kept, so a token that left the truncated set of an updated policy keeps a finite
    log-prob (for the policy that drew it, it is always inside)."""
    scaled = logits.to(_compute_dtype(logits.dtype)) / distribution.temperature
    with torch.no_grad():
        keep = kept_tokens(scaled, distribution.top_k, distribution.top_p)
        keep.scatter_(-1, labels.unsqueeze(-1), True)
    masked = scaled.masked_fill(~keep, float("-inf"))
    return masked.gather(-1, labels.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(masked, dim=-1)


def log_probs_from_logits(logits: torch.Tensor, labels: torch.Tensor,
                          distribution: float | SamplingDistribution = 1.0) -> torch.Tensor:
    """log p(label) for every position, p the `distribution` (a number: the temperature alone, i.e.
    log softmax(logits / T)): logits [..., V], labels [...] -> [...].

    Pass contiguous logits: a non-contiguous slice is copied (in its own dtype) to flatten it.
    """
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels shape {tuple(labels.shape)} must equal logits shape without the vocab "
                         f"dimension {tuple(logits.shape[:-1])}")
    distribution = as_distribution(distribution)
    temperature = _check_temperature(distribution.temperature)
    flat_logits, flat_labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long()
    if distribution.truncated:
        return _truncated_log_probs(flat_logits, flat_labels, distribution).view(labels.shape)
    return _LogProbOfLabels.apply(flat_logits, flat_labels, temperature).view(labels.shape)


def entropy_from_logits(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Entropy of softmax(logits / T) at every position: [..., V] -> [...]."""
    flat_logits = logits.reshape(-1, logits.shape[-1])
    return _Entropy.apply(flat_logits, _check_temperature(temperature)).view(logits.shape[:-1])
