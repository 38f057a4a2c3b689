"""Per-token log-probabilities (and entropies) of the responses under a causal LM, computed with as little
work as is exact.

The logits that predict response token ``t`` sit at sequence position ``P - 1 + t`` (``P`` = padded prompt
length); both log-probs and entropies are taken at ``logits / temperature``, the distribution the rollout
sampled from. Two switches (`ForwardOptions`) cut the work without changing the result beyond float
summation order (parity tests in ``tests/unit/workers/test_wrk_forward_layouts.py``):

* ``remove_padding``: columns that are padding in every row of the micro-batch (the left padding of the
  prompts, the right padding past the longest response) are dropped before the forward. Position ids are
  explicit, so the kept tokens see exactly what they saw before; the dropped positions get log-prob 0.
* ``share_prompt``: the samples of one prompt share its tokens, so each distinct prompt of the micro-batch
  runs through the model once; its keys and values are then indexed out to its samples, whose responses
  run as a second forward that attends to them (the KV cache of generation, here with gradients). The
  gradient of every response flows back through the one prompt pass. With ``n`` samples per prompt this
  removes ``(n - 1) / n`` of the prompt tokens from every forward and backward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from maxrl.algorithms import entropy_from_logits, log_probs_from_logits
from maxrl.data.batch import Batch
from maxrl.workers.hf_model import cache_keyword
from maxrl.workers.micro_batches import MicroBatching, distinct_prompts

__all__ = ["ForwardOptions", "micro_batched_log_probs", "response_log_probs"]


@dataclass(frozen=True)
class ForwardOptions:
    """How a forward lays out its tokens (``actor_rollout_ref.model.use_remove_padding`` and
    ``share_prompt_prefix``); every combination gives the same log-probs, loss and gradients."""

    remove_padding: bool = False
    share_prompt: bool = False

    @classmethod
    def from_config(cls, config: DictConfig) -> ForwardOptions:
        """The model keys' choice; prompt sharing is off with gradient checkpointing, under which
        Transformers' models return no KV cache (the rollout still shares: it keeps no gradients)."""
        model = config.actor_rollout_ref.model
        return cls(
            remove_padding=bool(model.get("use_remove_padding", True)),
            share_prompt=bool(model.get("share_prompt_prefix", True))
            and not model.get("enable_gradient_checkpointing", False),
        )


def _trimmed(batch: Batch, min_response_columns: int) -> tuple[Batch, int]:
    """The batch without the columns that are padding in every row (keeping at least
    `min_response_columns` response columns), and its response length before."""
    prompt_length = batch["input_ids"].shape[1] - batch["responses"].shape[1]
    valid = batch["attention_mask"].bool().any(dim=0)
    prompt_valid, response_valid = valid[:prompt_length], valid[prompt_length:]
    start = int(prompt_valid.nonzero()[0]) if bool(prompt_valid.any()) else prompt_length - 1
    end = int(response_valid.nonzero()[-1]) + 1 if bool(response_valid.any()) else 1
    end = max(end, min(min_response_columns, len(response_valid)))
    tensors = {
        "input_ids": batch["input_ids"][:, start: prompt_length + end],
        "attention_mask": batch["attention_mask"][:, start: prompt_length + end],
        "position_ids": batch["position_ids"][:, start: prompt_length + end],
        "responses": batch["responses"][:, :end],
    }
    return Batch(tensors), batch["responses"].shape[1]


def _pad_right(values: torch.Tensor, length: int) -> torch.Tensor:
    return torch.nn.functional.pad(values, (0, length - values.shape[1]))


def _log_probs_and_entropy(
    logits: torch.Tensor, labels: torch.Tensor, temperature: float, with_entropy: bool, entropy_grad: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    log_probs = log_probs_from_logits(logits, labels, temperature)
    if not with_entropy:
        return log_probs, None
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        return log_probs, entropy_from_logits(logits, temperature)


def _padded_forward(model, batch: Batch, temperature: float, with_entropy: bool, entropy_grad: bool):
    """One forward over ``[prompt | response]`` rows, logits kept for the response positions only."""
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
    return _log_probs_and_entropy(logits, responses, temperature, with_entropy, entropy_grad)


def _shared_prompt_forward(model, batch: Batch, temperature: float, with_entropy: bool, entropy_grad: bool):
    """Each distinct prompt once, then every response attending to its prompt's keys and values.

    Always two forwards when there are two response columns, even if no prompt repeats: FSDP ranks
    gather parameters in every forward, so all ranks must run the same number of them."""
    input_ids, responses = batch["input_ids"], batch["responses"]
    prompt_length, response_length = input_ids.shape[1] - responses.shape[1], responses.shape[1]
    rows, inverse = distinct_prompts(batch)
    keyword = cache_keyword(model)
    prompt_out = model(
        input_ids=input_ids[rows, :prompt_length],
        attention_mask=batch["attention_mask"][rows, :prompt_length],
        position_ids=batch["position_ids"][rows, :prompt_length],
        use_cache=True,
        logits_to_keep=1,
    )
    # The logits at the prompt's last position predict the first response token.
    first = _log_probs_and_entropy(
        prompt_out.logits[:, -1][inverse], responses[:, 0], temperature, with_entropy, entropy_grad
    )
    parts = [tuple(None if value is None else value[:, None] for value in first)]
    if response_length > 1:
        cache = getattr(prompt_out, keyword)  # the output field has the keyword's name
        cache.batch_select_indices(inverse)  # differentiable indexing: the gradients sum back per prompt
        inputs = slice(prompt_length, prompt_length + response_length - 1)
        logits = model(
            input_ids=input_ids[:, inputs],
            attention_mask=batch["attention_mask"][:, : inputs.stop],
            position_ids=batch["position_ids"][:, inputs],
            use_cache=True,
            **{keyword: cache},
        ).logits
        parts.append(_log_probs_and_entropy(logits, responses[:, 1:], temperature, with_entropy, entropy_grad))
    log_probs = torch.cat([part[0] for part in parts], dim=1)
    entropy = torch.cat([part[1] for part in parts], dim=1) if with_entropy else None
    return log_probs, entropy


def response_log_probs(
    model: torch.nn.Module,
    batch: Batch,
    temperature: float,
    with_entropy: bool = False,
    entropy_grad: bool = True,
    options: ForwardOptions = ForwardOptions(),
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(log_probs [N, R], entropy [N, R] or None)`` of ``batch["responses"]``.

    The log-probs are differentiable; the entropy is too unless ``entropy_grad=False`` (a statistic only).
    With ``options.remove_padding`` the positions past the micro-batch's longest response are 0.
    """
    response_length = batch["responses"].shape[1]
    if options.remove_padding:
        # Under FSDP every rank must run as many forwards as the others: the shared-prompt layout runs
        # two (prompt, then responses) whenever the batch has two response columns, so trimming keeps them.
        batch, response_length = _trimmed(batch, min_response_columns=2 if options.share_prompt else 1)
    forward = _shared_prompt_forward if options.share_prompt else _padded_forward
    log_probs, entropy = forward(model, batch, temperature, with_entropy, entropy_grad)
    if log_probs.shape[1] < response_length:
        log_probs = _pad_right(log_probs, response_length)
        entropy = None if entropy is None else _pad_right(entropy, response_length)
    return log_probs, entropy


@torch.no_grad()
def micro_batched_log_probs(
    model: torch.nn.Module,
    batch: Batch,
    temperature: float,
    micro_batching: MicroBatching,
    with_entropy: bool,
    options: ForwardOptions = ForwardOptions(),
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`response_log_probs` over the micro-batches of `micro_batching`, in the batch's row order."""
    order = micro_batching.plan(batch, share_prompt=options.share_prompt)
    parts = [
        response_log_probs(model, batch.reorder(rows), temperature, with_entropy, options=options) for rows in order
    ]
    rows = torch.cat(order).to(batch["input_ids"].device)
    log_probs = torch.empty_like(torch.cat([part[0] for part in parts]))
    log_probs[rows] = torch.cat([part[0] for part in parts])
    if not with_entropy:
        return log_probs, None
    entropy = torch.empty_like(log_probs)
    entropy[rows] = torch.cat([part[1] for part in parts])
    return log_probs, entropy
