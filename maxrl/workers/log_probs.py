"""Per-token log-probabilities (and entropies) of the responses under a causal LM, computed with as little
work as is exact.

The logits that predict response token ``t`` sit at sequence position ``P - 1 + t`` (``P`` = padded prompt
length); log-probs are taken under the distribution the rollout sampled from (`SamplingDistribution`: the
temperature, and top-k / top-p when set; a number means a temperature alone), entropies at ``logits /
temperature`` over the whole vocabulary. Two switches (`ForwardOptions`) cut the work without changing the
result beyond float summation order (parity tests in ``tests/unit/workers/test_wrk_forward_layouts.py``):

* ``remove_padding``: columns that are padding in every row of the micro-batch (the left padding of the
  prompts, the right padding past the longest response) are dropped before the forward. Position ids are
  explicit, so the kept tokens see exactly what they saw before; the dropped positions get log-prob 0.
* ``share_prompt``: the samples of one prompt share its tokens, so each distinct prompt of the micro-batch
  runs through the model once; its keys and values are then indexed out to its samples, whose responses
  run as a second forward that attends to them (the KV cache of generation, here with gradients). The
  gradient of every response flows back through the one prompt pass. With ``n`` samples per prompt this
  removes ``(n - 1) / n`` of the prompt tokens from every forward and backward. Over micro-batches
  (`BatchForwards`), when the plan allows it the prompt pass runs once for the whole batch and every
  micro-batch draws on it (`PromptPass`): each prompt is then computed once per batch, not once per
  micro-batch holding one of its samples.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from maxrl.algorithms import SamplingDistribution, entropy_from_logits, log_probs_from_logits
from maxrl.algorithms.logprob import as_distribution
from maxrl.data.batch import Batch
from maxrl.workers.hf_model import cache_keyword
from maxrl.workers.micro_batches import MicroBatching, distinct_prompts

__all__ = ["BatchForwards", "ForwardOptions", "PromptPass", "micro_batched_log_probs", "response_log_probs"]

_SEQUENCE_FIELDS = ("input_ids", "attention_mask", "position_ids")


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
            remove_padding=bool(model.use_remove_padding),
            share_prompt=bool(model.share_prompt_prefix) and not model.enable_gradient_checkpointing,
        )


def _trim_prompts(batch: Batch) -> Batch:
    """The batch without the leading prompt columns that are padding in every row."""
    prompt_length = batch["input_ids"].shape[1] - batch["responses"].shape[1]
    prompt_valid = batch["attention_mask"][:, :prompt_length].bool().any(dim=0)
    start = int(prompt_valid.nonzero()[0]) if bool(prompt_valid.any()) else prompt_length - 1
    return batch.replace({name: batch[name][:, start:] for name in _SEQUENCE_FIELDS})


def _trim_responses(batch: Batch, min_columns: int) -> tuple[Batch, int]:
    """The batch without the trailing response columns that are padding in every row (keeping at least
    `min_columns`), and its response length before."""
    prompt_length = batch["input_ids"].shape[1] - batch["responses"].shape[1]
    response_valid = batch["attention_mask"][:, prompt_length:].bool().any(dim=0)
    end = int(response_valid.nonzero()[-1]) + 1 if bool(response_valid.any()) else 1
    end = max(end, min(min_columns, len(response_valid)))
    tensors = {name: batch[name][:, : prompt_length + end] for name in _SEQUENCE_FIELDS}
    return batch.replace(tensors | {"responses": batch["responses"][:, :end]}), batch["responses"].shape[1]


def _pad_right(values: torch.Tensor, length: int) -> torch.Tensor:
    return torch.nn.functional.pad(values, (0, length - values.shape[1]))


def _log_probs_and_entropy(
    logits: torch.Tensor, labels: torch.Tensor, distribution: SamplingDistribution, with_entropy: bool,
    entropy_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    log_probs = log_probs_from_logits(logits, labels, distribution)
    if not with_entropy:
        return log_probs, None
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        return log_probs, entropy_from_logits(logits, distribution.temperature)


def _padded_forward(model, batch: Batch, distribution: SamplingDistribution, with_entropy: bool, entropy_grad: bool):
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
    return _log_probs_and_entropy(logits, responses, distribution, with_entropy, entropy_grad)


def _leaf(value: torch.Tensor) -> torch.Tensor:
    """A detached copy of `value` that collects its gradient, or `value` itself when it has no graph."""
    return value.detach().requires_grad_() if value.requires_grad else value


class PromptPass:
    """Each distinct prompt of a batch run through the model once; its keys and values (and the logits at
    its last position, which predict the first response token) serve every sample of that prompt.

    With ``reusable=True`` under autograd, the pass's outputs that require grad are handed out as detached
    leaves that collect the gradients of every micro-batch drawn from them, and `backward` then sends the
    collected gradients through the prompt pass once: the same gradient as backpropagating each micro-batch
    through its own prompt pass, summed in another order. Outputs without a graph (with LoRA on some
    projections only, e.g. the first layer's keys when ``k_proj`` has no adapter) are handed out as they
    are: nothing upstream of them trains. Otherwise the outputs are used as they are (one graph)."""

    def __init__(self, model: torch.nn.Module, batch: Batch, reusable: bool = False):
        prompt_length = batch["input_ids"].shape[1] - batch["responses"].shape[1]
        rows, self.prompt_of = distinct_prompts(batch)
        self.prompt_length = prompt_length
        out = model(
            input_ids=batch["input_ids"][rows, :prompt_length],
            attention_mask=batch["attention_mask"][rows, :prompt_length],
            position_ids=batch["position_ids"][rows, :prompt_length],
            use_cache=True,
            logits_to_keep=1,
        )
        self._cache = getattr(out, cache_keyword(model))  # the output field has the keyword's name
        outputs = [out.logits[:, -1]]
        for layer in self._cache.layers:
            outputs += [layer.keys, layer.values]
        self._graph_outputs = outputs if reusable and torch.is_grad_enabled() else None
        self._outputs = [_leaf(value) for value in outputs] if self._graph_outputs else outputs

    def first_logits(self, rows: torch.Tensor) -> torch.Tensor:
        """The logits predicting the first response token of each of `rows`."""
        return self._outputs[0][self.prompt_of[rows]]

    def cache(self, rows: torch.Tensor):
        """A cache holding, for each of `rows`, its prompt's keys and values (differentiably indexed: the
        gradients sum back per prompt)."""
        index = self.prompt_of[rows]
        cache = copy.copy(self._cache)
        cache.layers = [copy.copy(layer) for layer in self._cache.layers]
        for i, layer in enumerate(cache.layers):
            layer.keys, layer.values = self._outputs[1 + 2 * i][index], self._outputs[2 + 2 * i][index]
        return cache

    def backward(self) -> None:
        """Backpropagate the gradients the reusable outputs collected through the prompt pass (once)."""
        if self._graph_outputs is None:
            return
        pairs = [(out, leaf.grad) for out, leaf in zip(self._graph_outputs, self._outputs) if leaf.grad is not None]
        self._graph_outputs = None
        if pairs:
            torch.autograd.backward([out for out, _ in pairs], [grad for _, grad in pairs])


def _response_forward(
    model, prompts: PromptPass, rows: torch.Tensor, batch: Batch, distribution: SamplingDistribution,
    with_entropy: bool, entropy_grad: bool,
):
    """The responses of `batch` (rows `rows` of the batch `prompts` ran over, same prompt columns)
    attending to their prompts' keys and values.

    Always a forward when there are two response columns, even if nothing else needs it: FSDP ranks
    gather parameters in every forward, so all ranks must run the same number of them."""
    input_ids, responses = batch["input_ids"], batch["responses"]
    prompt_length, response_length = prompts.prompt_length, responses.shape[1]
    first = _log_probs_and_entropy(prompts.first_logits(rows), responses[:, 0], distribution, with_entropy,
                                   entropy_grad)
    parts = [tuple(None if value is None else value[:, None] for value in first)]
    if response_length > 1:
        inputs = slice(prompt_length, prompt_length + response_length - 1)
        logits = model(
            input_ids=input_ids[:, inputs],
            attention_mask=batch["attention_mask"][:, : inputs.stop],
            position_ids=batch["position_ids"][:, inputs],
            use_cache=True,
            **{cache_keyword(model): prompts.cache(rows)},
        ).logits
        parts.append(_log_probs_and_entropy(logits, responses[:, 1:], distribution, with_entropy, entropy_grad))
    log_probs = torch.cat([part[0] for part in parts], dim=1)
    entropy = torch.cat([part[1] for part in parts], dim=1) if with_entropy else None
    return log_probs, entropy


def _shared_prompt_forward(model, batch: Batch, distribution: SamplingDistribution, with_entropy: bool,
                           entropy_grad: bool):
    """Each distinct prompt once, then every response attending to its prompt's keys and values."""
    rows = torch.arange(len(batch), device=batch["input_ids"].device)
    return _response_forward(model, PromptPass(model, batch), rows, batch, distribution, with_entropy, entropy_grad)


def response_log_probs(
    model: torch.nn.Module,
    batch: Batch,
    distribution: float | SamplingDistribution,
    with_entropy: bool = False,
    entropy_grad: bool = True,
    options: ForwardOptions = ForwardOptions(),
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(log_probs [N, R], entropy [N, R] or None)`` of ``batch["responses"]`` under `distribution`.

    The log-probs are differentiable; the entropy is too unless ``entropy_grad=False`` (a statistic only).
    With ``options.remove_padding`` the positions past the micro-batch's longest response are 0.
    """
    response_length = batch["responses"].shape[1]
    if options.remove_padding:
        batch, response_length = _trim_responses(_trim_prompts(batch), _min_response_columns(options))
    forward = _shared_prompt_forward if options.share_prompt else _padded_forward
    return _padded_back(*forward(model, batch, as_distribution(distribution), with_entropy, entropy_grad),
                        response_length)


def _min_response_columns(options: ForwardOptions) -> int:
    """Under FSDP every rank must run as many forwards as the others: the shared-prompt layout runs one for
    the responses whenever the batch has two response columns, so trimming keeps two."""
    return 2 if options.share_prompt else 1


def _padded_back(log_probs: torch.Tensor, entropy: torch.Tensor | None, response_length: int):
    if log_probs.shape[1] < response_length:
        log_probs = _pad_right(log_probs, response_length)
        entropy = None if entropy is None else _pad_right(entropy, response_length)
    return log_probs, entropy


class BatchForwards:
    """The forwards of one batch cut into micro-batches (`MicroBatching.forward_plan`): iterate over
    ``(rows, micro_batch)``, call `log_probs` on each, then `finish` (which backpropagates the batch-wide
    prompt pass, if the plan has one, once every micro-batch's loss has been backpropagated)."""

    def __init__(self, model: torch.nn.Module, batch: Batch, micro_batching: MicroBatching,
                 options: ForwardOptions, distribution: float | SamplingDistribution):
        self.model, self.options, self.distribution = model, options, as_distribution(distribution)
        plan = micro_batching.forward_plan(batch, share_prompt=options.share_prompt)
        self.micro_batches = plan.micro_batches
        self.batch = _trim_prompts(batch) if plan.prompt_once and options.remove_padding else batch
        self.prompts = PromptPass(model, self.batch, reusable=True) if plan.prompt_once else None

    def __iter__(self):
        for rows in self.micro_batches:
            yield rows, self.batch.reorder(rows)

    def log_probs(self, rows: torch.Tensor, micro: Batch, with_entropy: bool = False, entropy_grad: bool = True):
        """`response_log_probs` of the micro-batch `micro` (rows `rows` of the batch)."""
        if self.prompts is None:
            return response_log_probs(self.model, micro, self.distribution, with_entropy, entropy_grad, self.options)
        response_length = micro["responses"].shape[1]
        if self.options.remove_padding:
            micro, response_length = _trim_responses(micro, _min_response_columns(self.options))
        return _padded_back(
            *_response_forward(self.model, self.prompts, rows, micro, self.distribution, with_entropy, entropy_grad),
            response_length,
        )

    def finish(self) -> None:
        if self.prompts is not None:
            self.prompts.backward()


@torch.no_grad()
def micro_batched_log_probs(
    model: torch.nn.Module,
    batch: Batch,
    distribution: float | SamplingDistribution,
    micro_batching: MicroBatching,
    with_entropy: bool,
    options: ForwardOptions = ForwardOptions(),
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`response_log_probs` over the micro-batches of `micro_batching`, in the batch's row order."""
    forwards = BatchForwards(model, batch, micro_batching, options, distribution)
    order, parts = [], []
    for rows, micro in forwards:
        order.append(rows)
        parts.append(forwards.log_probs(rows, micro, with_entropy))
    rows = torch.cat(order).to(batch["input_ids"].device)
    log_probs = torch.empty_like(torch.cat([part[0] for part in parts]))
    log_probs[rows] = torch.cat([part[0] for part in parts])
    if not with_entropy:
        return log_probs, None
    entropy = torch.empty_like(log_probs)
    entropy[rows] = torch.cat([part[1] for part in parts])
    return log_probs, entropy
