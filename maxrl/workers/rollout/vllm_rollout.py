"""The ``vllm`` rollout backend: a vLLM engine inside each worker, fed the actor's weights in place.

Life of one generation step (the worker calls ``wake``, ``sync_weights`` if the actor changed,
``generate``, ``sleep``):

* on a GPU, ``sleep`` puts the engine to sleep at level 1 (weights offloaded to host memory, KV cache
  dropped) so training gets the device memory back; ``wake`` brings back the weights only, the KV cache
  returns at the start of ``generate``, after the weights were refreshed. On a CPU there is nothing to free.
* ``sync_weights`` hands vLLM a generator of the actor's parameters; vLLM runs in this process, so each
  parameter is gathered from its FSDP2 shards (``full_tensor``) just when vLLM's loader asks for it and
  is dropped right after: no full copy on one device, no checkpoint file, no serialisation. vLLM's
  in-place ``reload_weights`` re-applies its kernel layouts (e.g. the oneDNN repacking on CPU, where
  ``model.load_weights`` alone cannot load). The prefix cache is reset, since its KV was computed with the
  old weights.
* ``generate`` strips the left padding, sends token ids, and returns the same fields as the ``hf``
  backend (`assemble_rollout`). The log-probs are vLLM's ``processed_logprobs``: those of the distribution
  the token was drawn from (temperature, then top-k / top-p, renormalised), as the ``hf`` backend records
  and ``compute_log_prob`` computes (`maxrl.workers.rollout.sampling`). Greedy decoding reports the
  untempered, untruncated ``log_softmax(logits)`` on both backends.

With ``tensor_model_parallel_size = t > 1`` the ``t`` consecutive ranks of a group run one engine
together (vLLM's ``external_launcher``): they gather their prompts, generate the same samples with the
same seeds, and each keeps the rows of its own prompts.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

import numpy as np
import torch
import torch.distributed as dist
from omegaconf import DictConfig

from maxrl.data.batch import Batch
from maxrl.workers.hf_model import pad_token_id
from maxrl.workers.rollout.base import PROMPT_FIELDS, SamplingParams, assemble_rollout
from maxrl.workers.rollout.registry import register_rollout
from maxrl.workers.rollout.vllm_engine import build_engine, import_vllm, load_model_config
from maxrl.workers.rollout.vllm_weights import load_weights_in_worker, tied_parameter_aliases, with_aliases

__all__ = ["VLLMRollout", "response_tensors"]



class _TensorParallelGroup:
    """The ranks that share one vLLM engine (consecutive ranks, as vLLM lays out its groups)."""

    def __init__(self, size: int):
        self.size = size
        self.group, self.leader, self.index = None, 0, 0
        if size == 1:
            return
        rank, world_size = dist.get_rank(), dist.get_world_size()
        for first in range(0, world_size, size):  # every rank creates every group, in the same order
            group = dist.new_group(list(range(first, first + size)))
            if first <= rank < first + size:
                self.group, self.leader, self.index = group, first, rank - first

    def gather(self, prompts: Batch) -> tuple[Batch, int, int]:
        """All prompts of the group, and the row range of this rank's prompts in it."""
        if self.size == 1:
            return prompts, 0, len(prompts)
        parts: list[Batch | None] = [None] * self.size
        dist.all_gather_object(parts, prompts, group=self.group)
        start = sum(len(part) for part in parts[: self.index])
        return Batch.concat(parts), start, start + len(prompts)

    def from_leader(self, value):
        """The group leader's `value` on every rank of the group."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=self.leader, group=self.group)
        return box[0]


def _chosen_log_probs(completion) -> list[float]:
    """The log-prob vLLM reported for each sampled token (``logprobs=0``: only the chosen one)."""
    log_probs = completion.logprobs
    if hasattr(log_probs, "start_indices"):  # FlatLogprobs: the chosen token comes first at each position
        return [log_probs.logprobs[i] for i in log_probs.start_indices]
    return [step[token].logprob for step, token in zip(log_probs, completion.token_ids)]


def response_tensors(
    outputs, n: int, max_tokens: int, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``responses`` (right-padded with `pad_id`), ``response_mask`` and ``rollout_log_probs``, each
    ``[N, max_tokens]``, from vLLM's request outputs: one row per sample, each prompt's `n` samples
    adjacent."""
    rows = len(outputs) * n
    responses = torch.full((rows, max_tokens), pad_id, dtype=torch.long)
    response_mask = torch.zeros((rows, max_tokens), dtype=torch.long)
    log_probs = torch.zeros((rows, max_tokens), dtype=torch.float32)
    row = 0
    for request in outputs:
        completions = sorted(request.outputs, key=lambda completion: completion.index)
        if len(completions) != n:
            raise RuntimeError(f"vLLM returned {len(completions)} samples for a prompt, expected n={n}")
        for completion in completions:
            length = len(completion.token_ids)
            responses[row, :length] = torch.tensor(completion.token_ids, dtype=torch.long)
            response_mask[row, :length] = 1
            log_probs[row, :length] = torch.tensor(_chosen_log_probs(completion), dtype=torch.float32)
            row += 1
    return responses, response_mask, log_probs


@register_rollout("vllm")
class VLLMRollout:
    """vLLM generation honouring ``actor_rollout_ref.rollout.*`` (see the module docstring)."""

    def __init__(self, config: DictConfig, tokenizer, device: torch.device | str = "cpu", seed: int = 0):
        self._vllm = import_vllm()
        self.device = torch.device(device)
        self.pad_token_id = pad_token_id(tokenizer)
        rollout = config.actor_rollout_ref.rollout
        self._tp = _TensorParallelGroup(int(rollout.tensor_model_parallel_size))
        seed = int(self._tp.from_leader(seed))  # engines of one group must draw identically
        world_size = dist.get_world_size() if dist.is_initialized() else 1
        model_config = load_model_config(config.actor_rollout_ref.model)
        self._aliases = tied_parameter_aliases(
            model_config, bool(config.actor_rollout_ref.model.trust_remote_code)
        )
        self.llm = build_engine(config, model_config, self.device, seed, world_size)
        self._seeds = np.random.default_rng(seed)
        self._flat_logprobs = "flat_logprobs" in inspect.signature(self._vllm.SamplingParams).parameters
        self._can_sleep = self.device.type == "cuda" and bool(rollout.free_cache_engine)
        self._asleep: set[str] = set()
        self.sleep()  # hand the memory to training until the first generation

    # ------------------------------------------------------------------ memory
    def sleep(self) -> None:
        """Level-1 sleep on a GPU: weights to host memory, KV cache freed."""
        if self._can_sleep and not self._asleep:
            self.llm.sleep(level=1)
            self._asleep = {"weights", "kv_cache"}

    def wake(self) -> None:
        """Bring back the weights only; the KV cache waits until `generate` (after a sync)."""
        self._wake_up({"weights"})

    def _wake_up(self, tags: set[str]) -> None:
        tags = tags & self._asleep
        if tags:
            self.llm.wake_up(tags=sorted(tags))
            self._asleep -= tags

    # ------------------------------------------------------------------ weights
    def sync_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Stream full parameters (Hugging Face names) into vLLM in place, one at a time (tied ones under
        each of their names, see `maxrl.workers.rollout.vllm_weights`)."""
        self.wake()
        self.llm.collective_rpc(load_weights_in_worker, args=(with_aliases(named_tensors, self._aliases),))
        self.llm.reset_prefix_cache()

    # ------------------------------------------------------------------ generation
    def generate(self, prompts: Batch, sampling: SamplingParams) -> Batch:
        self._wake_up({"weights", "kv_cache"})
        local = prompts.select(PROMPT_FIELDS).to("cpu")
        group_prompts, start, stop = self._tp.gather(local)
        seeds = self._tp.from_leader(self._request_seeds(len(group_prompts), sampling))
        # vLLM samples n > 1 per request only when sampling; greedy samples are n identical requests.
        copies, per_request = (1, sampling.n) if sampling.do_sample else (sampling.n, 1)
        requests = [
            {"prompt_token_ids": ids[mask.bool()].tolist()}
            for ids, mask in zip(group_prompts["input_ids"], group_prompts["attention_mask"])
            for _ in range(copies)
        ]
        params = [
            self._sampling_params(sampling, per_request, int(seed)) for seed in seeds for _ in range(copies)
        ]
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        responses, response_mask, log_probs = response_tensors(
            outputs[start * copies : stop * copies], per_request, sampling.max_tokens, self.pad_token_id
        )
        samples = local.repeat(sampling.n)
        return assemble_rollout(samples, responses, response_mask, log_probs).to(self.device)

    def _request_seeds(self, num_prompts: int, sampling: SamplingParams) -> np.ndarray:
        """One seed per prompt (vLLM derives the seeds of its `n` samples from it): a fixed function of
        ``sampling.seed`` when given, else the next draws of this backend's own stream."""
        source = self._seeds if sampling.seed is None else np.random.default_rng(sampling.seed)
        return source.integers(0, 2**31 - 1, size=num_prompts)

    def _sampling_params(self, sampling: SamplingParams, n: int, seed: int):
        extra = {"flat_logprobs": True} if self._flat_logprobs else {}
        return self._vllm.SamplingParams(
            n=n,
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature if sampling.do_sample else 0.0,
            top_p=sampling.top_p if sampling.do_sample else 1.0,
            top_k=sampling.top_k if sampling.do_sample and sampling.top_k > 0 else -1,
            stop_token_ids=list(sampling.stop_token_ids),
            # As in every backend, only stop_token_ids end a sample (they hold eos unless rollout.ignore_eos).
            ignore_eos=True,
            seed=seed,
            logprobs=0,
            detokenize=False,
            **extra,
        )
