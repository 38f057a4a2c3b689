"""Per-token log-probabilities (and entropies) of the responses under a causal LM.

The logits that predict response token ``t`` sit at sequence position ``P - 1 + t`` (``P`` = padded
prompt length), so the model is asked for exactly those ``R`` positions (``logits_to_keep``) and never
materialises the prompt's logits. Both are taken at ``logits / temperature``, the distribution the
rollout sampled from.
"""

from __future__ import annotations

import torch

from maxrl.algorithms import entropy_from_logits, log_probs_from_logits
from maxrl.data.batch import Batch
from maxrl.workers.batch_sizes import chunk_sizes

__all__ = ["micro_batched_log_probs", "response_log_probs"]


def response_log_probs(
    model: torch.nn.Module,
    batch: Batch,
    temperature: float,
    with_entropy: bool = False,
    entropy_grad: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(log_probs [N, R], entropy [N, R] or None)`` of ``batch["responses"]``.

    The log-probs are differentiable; the entropy is too unless ``entropy_grad=False`` (a statistic only).
    """
    input_ids, responses = batch["input_ids"], batch["responses"]
    prompt_length, response_length = input_ids.shape[1] - responses.shape[1], responses.shape[1]
    positions = torch.arange(prompt_length - 1, prompt_length - 1 + response_length, device=input_ids.device)
    logits = model(
        input_ids=input_ids,
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        use_cache=False,
        logits_to_keep=positions,
    ).logits
    log_probs = log_probs_from_logits(logits, responses, temperature)
    if not with_entropy:
        return log_probs, None
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        return log_probs, entropy_from_logits(logits, temperature)


@torch.no_grad()
def micro_batched_log_probs(
    model: torch.nn.Module, batch: Batch, temperature: float, micro_batch_size: int | None, with_entropy: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`response_log_probs` over chunks of at most `micro_batch_size` rows, concatenated."""
    parts = [
        response_log_probs(model, micro, temperature, with_entropy)
        for micro in batch.split(chunk_sizes(len(batch), micro_batch_size))
    ]
    log_probs = torch.cat([log_prob for log_prob, _ in parts])
    return log_probs, torch.cat([entropy for _, entropy in parts]) if with_entropy else None
