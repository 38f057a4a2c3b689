"""The ``hf`` rollout backend: token-by-token sampling with a plain (unsharded) Hugging Face model.

Design: the backend owns a full copy of the policy, refreshed by `sync_weights` whenever the actor's
weights change. Generating with the FSDP2-sharded actor instead would run an all-gather in every decoding
step, so all ranks would have to take the same number of steps in lock-step, although their samples stop
at different lengths; a local copy makes generation free of collectives. The cost is one extra copy of the
weights per device, which is fine for the models this backend serves (CPU runs, tests, small models;
vLLM is the backend for large ones).

The decoding loop is written out rather than calling ``model.generate``: it reports the log-probability
of each chosen token from the very logits it sampled from (``generate`` would have to keep every step's
full ``[batch, vocab]`` logits for that), it uses the position ids of the prompt batch verbatim (the ones
``compute_log_prob`` sees), and no sampling default hidden in the model's ``generation_config.json`` can
change the draw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import torch
from omegaconf import DictConfig
from transformers import DynamicCache

from maxrl.data.batch import Batch
from maxrl.workers.batch_sizes import chunk_sizes
from maxrl.workers.hf_model import cache_keyword, load_causal_lm, pad_token_id, parse_dtype
from maxrl.workers.rollout.base import PROMPT_FIELDS, SamplingParams, assemble_rollout
from maxrl.workers.rollout.kv_buffers import KeyValueBuffers
from maxrl.workers.rollout.registry import register_rollout
from maxrl.workers.rollout.sampling import sample_next_tokens
from maxrl.workers.rollout.shared_prompt_decoding import (
    SHARED_CACHE_KEYWORD,
    shared_prompt_cache,
    use_shared_prompt_attention,
)

__all__ = ["HFRollout"]


class _GrowInPlace:
    """Replaces a cache layer's `update` during decoding: new keys and values go into `KeyValueBuffers`
    instead of a copy of the cache per token; the layer's ``keys`` and ``values`` stay views of the filled
    part."""

    def __init__(self, layer, extra_tokens: int):
        self.layer = layer
        self.buffers = KeyValueBuffers(layer.keys, layer.values, extra_tokens)

    def __call__(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        self.layer.keys, self.layer.values = self.buffers.append(key_states, value_states)
        return self.layer.keys, self.layer.values


def _grow_in_place(cache: DynamicCache, extra_tokens: int) -> None:
    """Let every full-attention layer of a prefilled `cache` take `extra_tokens` more tokens without
    copying itself. Other layer kinds (sliding windows drop old tokens) and Transformers releases before
    cache layers existed keep their own update."""
    for layer in getattr(cache, "layers", ()):
        if type(layer).__name__ == "DynamicLayer" and getattr(layer, "keys", None) is not None:
            layer.update = _GrowInPlace(layer, extra_tokens)


@register_rollout("hf")
class HFRollout:
    """Samples with a local Hugging Face model in ``rollout.dtype``, ``rollout.micro_batch_size`` samples at a time."""

    def __init__(self, config: DictConfig, tokenizer, device: torch.device | str = "cpu", seed: int = 0):
        rollout = config.actor_rollout_ref.rollout
        dtype = parse_dtype(rollout.dtype, "actor_rollout_ref.rollout.dtype")
        self.model = load_causal_lm(config.actor_rollout_ref.model, dtype).to(device).eval()
        self.model.requires_grad_(False)
        self.device = torch.device(device)
        self.pad_token_id = pad_token_id(tokenizer)
        self.micro_batch_size = rollout.get("micro_batch_size")  # added with + only: absent means the whole batch
        self.share_prompt = bool(config.actor_rollout_ref.model.share_prompt_prefix)
        self._generator = torch.Generator(self.device).manual_seed(seed)
        self._cache_keyword = cache_keyword(self.model)
        self.shared_attention = use_shared_prompt_attention(self.model)

    def sync_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Copy full parameters (Hugging Face names) into the local model, converting dtype and device."""
        parameters = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, tensor in named_tensors:
                if name not in parameters:
                    raise KeyError(f"sync_weights: the rollout model has no parameter {name!r}")
                parameters[name].copy_(tensor)

    def sleep(self) -> None:
        """Nothing to release: the copy is needed at every generation."""

    def wake(self) -> None:
        """Nothing was released by `sleep`."""

    def generate(self, prompts: Batch, sampling: SamplingParams) -> Batch:
        prompts = prompts.select(PROMPT_FIELDS).to(self.device)
        generator = self._generator
        if sampling.seed is not None:
            generator = torch.Generator(self.device).manual_seed(sampling.seed)
        if not self.share_prompt:  # every sample prefills its own copy of the prompt
            prompts, sampling = prompts.repeat(sampling.n), replace(sampling, n=1)
        prompts_per_chunk = self.micro_batch_size and max(1, self.micro_batch_size // sampling.n)
        outputs = [
            self._generate_chunk(chunk, sampling, generator)
            for chunk in prompts.split(chunk_sizes(len(prompts), prompts_per_chunk))
        ]
        responses, response_mask, log_probs = (torch.cat(parts) for parts in zip(*outputs))
        return assemble_rollout(prompts.repeat(sampling.n), responses, response_mask, log_probs)

    @torch.no_grad()
    def _generate_chunk(
        self, prompts: Batch, sampling: SamplingParams, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``sampling.n`` samples of each prompt (adjacent): responses ``[N, R]`` (pad after the end),
        response mask (1 through the first stop token) and the sampler's log-probs (0 outside the mask).

        Each prompt is prefilled once, without the columns that are padding in every row. Its keys and
        values then serve all its samples: stored once (`shared_prompt_decoding`) under sdpa with
        full-attention layers, repeated per sample otherwise."""
        input_ids, attention_mask, position_ids = (prompts[key] for key in PROMPT_FIELDS)
        first = int(attention_mask.bool().any(dim=0).nonzero()[0]) if bool(attention_mask.any()) else 0
        input_ids, attention_mask, position_ids = (t[:, first:] for t in (input_ids, attention_mask, position_ids))
        num, length = len(prompts) * sampling.n, sampling.max_tokens
        responses = torch.full((num, length), self.pad_token_id, dtype=torch.long, device=self.device)
        response_mask = torch.zeros((num, length), dtype=torch.long, device=self.device)
        log_probs = torch.zeros((num, length), dtype=torch.float32, device=self.device)
        stop_ids = torch.tensor(sampling.stop_token_ids, dtype=torch.long, device=self.device)
        finished = torch.zeros(num, dtype=torch.bool, device=self.device)

        cache = DynamicCache(config=self.model.config)
        logits = self._next_token_logits(input_ids, attention_mask, position_ids, cache)
        logits = logits.repeat_interleave(sampling.n, dim=0)
        shared = shared_prompt_cache(cache, attention_mask, sampling.n, length) if self.shared_attention else None
        if shared is not None:  # each prompt's keys and values stay single; no mask is needed
            cache, attention_mask, decode_keywords = shared, None, {SHARED_CACHE_KEYWORD: shared}
        else:  # repeat the cache for the samples, and mask the prompts' left padding
            cache.batch_repeat_interleave(sampling.n)
            attention_mask, decode_keywords = attention_mask.repeat_interleave(sampling.n, dim=0), {}
            _grow_in_place(cache, length)
        next_positions = position_ids[:, -1:].repeat_interleave(sampling.n, dim=0)
        for step in range(length):
            tokens, token_log_probs = sample_next_tokens(logits, sampling, generator)
            active = ~finished
            responses[:, step] = torch.where(active, tokens, self.pad_token_id)
            response_mask[:, step] = active.long()
            log_probs[:, step] = torch.where(active, token_log_probs, 0.0)
            finished |= active & torch.isin(tokens, stop_ids)
            if bool(finished.all()) or step == length - 1:
                break
            next_positions = next_positions + 1
            if attention_mask is not None:
                attention_mask = torch.cat([attention_mask, active.to(attention_mask.dtype)[:, None]], dim=1)
            logits = self._next_token_logits(tokens[:, None], attention_mask, next_positions, cache,
                                             **decode_keywords)
        return responses, response_mask, log_probs

    def _next_token_logits(self, input_ids, attention_mask, position_ids, cache, **keywords) -> torch.Tensor:
        """The logits after the last of `input_ids`, appending their keys and values to `cache`."""
        return self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            **{self._cache_keyword: cache},
            use_cache=True,
            logits_to_keep=1,
            **keywords,
        ).logits[:, -1]
