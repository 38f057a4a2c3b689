"""Choosing the next token from a row of logits, and the log-probability the sampler reports for it.

The reported log-probability is that of the distribution the token was drawn from: ``softmax(logits /
temperature)`` cut to the top-k tokens and the top-p nucleus and renormalised (`SamplingDistribution`). That
is what the vLLM backend reports (vLLM's ``processed_logprobs``: the values after every sampling processor,
temperature and top-k/top-p included; its default, ``raw_logprobs``, would be the untempered model
distribution), and what the trainer's log-probs are taken under (`sampling_distribution`), so
``rollout_log_probs - old_log_probs`` measures only the numerical gap between engines. Greedy decoding reports
``log_softmax(logits)`` (temperature 1, no truncation), as vLLM does.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from maxrl.algorithms import SamplingDistribution
from maxrl.algorithms.logprob import kept_tokens
from maxrl.workers.rollout.base import SamplingParams

__all__ = ["sample_next_tokens", "sampling_distribution", "truncate_logits"]


def sampling_distribution(rollout: DictConfig) -> SamplingDistribution:
    """The distribution the training rollout (``actor_rollout_ref.rollout``) draws from, which the trainer's
    log-probs (old, reference, update) are taken under; greedy decoding reports temperature 1, untruncated."""
    if not rollout.do_sample:
        return SamplingDistribution()
    return SamplingDistribution(float(rollout.temperature), int(rollout.top_k), float(rollout.top_p))


def truncate_logits(scaled_logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Set logits outside the top-k tokens, then outside the top-p nucleus, to ``-inf`` (no copy when both are off)."""
    if not SamplingDistribution(top_k=top_k, top_p=top_p).truncated:
        return scaled_logits
    return scaled_logits.masked_fill(~kept_tokens(scaled_logits, top_k, top_p), float("-inf"))


def sample_next_tokens(
    logits: torch.Tensor, sampling: SamplingParams, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next tokens ``[B]`` for logits ``[B, V]`` and their log-probabilities (see the module docstring)."""
    logits = logits.float()
    if not sampling.do_sample:
        tokens = logits.argmax(dim=-1)
        return tokens, torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, None]).squeeze(-1)
    truncated = truncate_logits(logits / sampling.temperature, sampling.top_k, sampling.top_p)
    tokens = torch.multinomial(torch.softmax(truncated, dim=-1), num_samples=1, generator=generator).squeeze(-1)
    return tokens, torch.log_softmax(truncated, dim=-1).gather(-1, tokens[:, None]).squeeze(-1)
