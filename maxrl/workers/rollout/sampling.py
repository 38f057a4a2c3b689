"""Choosing the next token from a row of logits, and the log-probability the sampler reports for it.

The reported log-probability is that of the temperature-scaled distribution over the whole vocabulary,
``log_softmax(logits / temperature)``, *before* top-k / top-p truncation: the same quantity the actor's
``compute_log_prob`` computes, so ``rollout_log_probs - old_log_probs`` measures only the numerical gap
between engines. (With top-k / top-p on, the token is drawn from the truncated, renormalised
distribution, whose log-probability is this value plus ``-log(kept probability mass)``.) Greedy decoding
reports ``log_softmax(logits)`` (temperature 1).
"""

from __future__ import annotations

import torch
from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

from maxrl.workers.rollout.base import SamplingParams

__all__ = ["sample_next_tokens", "truncate_logits"]


def truncate_logits(scaled_logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Set logits outside the top-k tokens, then outside the top-p nucleus, to ``-inf``."""
    vocab_size = scaled_logits.shape[-1]
    if 0 < top_k < vocab_size:
        scaled_logits = TopKLogitsWarper(top_k)(None, scaled_logits)
    if top_p < 1.0:
        scaled_logits = TopPLogitsWarper(top_p)(None, scaled_logits)
    return scaled_logits


def sample_next_tokens(
    logits: torch.Tensor, sampling: SamplingParams, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next tokens ``[B]`` for logits ``[B, V]`` and their log-probabilities (see the module docstring)."""
    logits = logits.float()
    if not sampling.do_sample:
        tokens = logits.argmax(dim=-1)
        return tokens, torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, None]).squeeze(-1)
    scaled = logits / sampling.temperature
    probs = torch.softmax(truncate_logits(scaled, sampling.top_k, sampling.top_p), dim=-1)
    tokens = torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)
    return tokens, torch.log_softmax(scaled, dim=-1).gather(-1, tokens[:, None]).squeeze(-1)
