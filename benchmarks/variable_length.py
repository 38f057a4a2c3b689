"""Responses of spread lengths: the update and log-prob passes with padded batches against padding-free
forwards with token-budget micro-batches.

Real responses stop at eos, so a batch's lengths spread widely, and a padded forward spends most of its
work on padding. A random-init model cannot be made to stop at chosen lengths, so the batch is built
directly: the TRL comparison's model and 8 of its 100-token prompts x 16 samples, response tokens drawn
at random with lengths uniform in 8..256 (fixed seed), padded to 256 like a rollout's output. Both sides
are the real worker path (one `ActorRolloutRefWorker` in a Ray `WorkerGroup`, started and called as the
trainer does),
in two worker groups that differ only in config:

* padded: `benchmarks.trl.maxrl_side.PADDED` (every forward over the full rectangle) with fixed
  micro-batches of `MICRO_BATCH` samples;
* padding-free + token budget: maxrl's forward defaults with ``use_dynamic_bsz=true`` and a budget of
  `MICRO_BATCH` full-length rows (``MICRO_BATCH x (100 + 256)`` tokens), so neither side may hold
  more activations than the other.

They are timed in paired rounds (`benchmarks.stats.compare`); the work is the batch's valid response
tokens, so a rate is response tokens per second, and the gain is the padded time / the padding-free time.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from benchmarks.stats import Comparison, compare, summarize
from benchmarks.trl import workload
from benchmarks.trl.inputs import ComparisonInputs, prompt_batch
from benchmarks.trl.maxrl_side import PADDED, maxrl_overrides
from maxrl.data.batch import Batch

__all__ = ["MICRO_BATCH", "benchmark_variable_length", "layouts", "settings_dict", "variable_length_batch",
           "with_gain"]

logger = logging.getLogger(__name__)

MIN_RESPONSE, MAX_RESPONSE = 8, 256
MICRO_BATCH = 16
SEED = 0
PADDED_NAME, PADDING_FREE_NAME = "padded, fixed micro-batches", "padding-free, token budget"


def layouts(micro_batch: int = MICRO_BATCH) -> dict[str, tuple[str, ...]]:
    """The two layouts' config overrides, by name (the padded one first: it is the baseline)."""
    budget = settings_dict(micro_batch)["token_budget"]
    return {
        PADDED_NAME: (*PADDED, f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={micro_batch}",
                      f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={micro_batch}"),
        PADDING_FREE_NAME: ("actor_rollout_ref.actor.use_dynamic_bsz=true",
                            f"actor_rollout_ref.actor.ppo_max_token_len_per_gpu={budget}"),
    }


def variable_length_batch(tokenizer, seed: int = SEED) -> Batch:
    """8 prompts x 16 samples, prompts of 100 tokens, responses of uniform lengths in 8..256 padded to 256,
    with fixed random advantages; every field the update needs except ``old_log_probs``."""
    from maxrl.workers.rollout.base import assemble_rollout

    prompts = prompt_batch(tokenizer).repeat(workload.SAMPLES_PER_PROMPT)
    samples = len(prompts)
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(MIN_RESPONSE, MAX_RESPONSE + 1, (samples,), generator=generator)
    mask = torch.arange(MAX_RESPONSE) < lengths[:, None]
    first_word = workload.VOCAB.index(workload.WORDS[0])
    responses = torch.randint(first_word, workload.VOCAB_SIZE, (samples, MAX_RESPONSE), generator=generator)
    responses[~mask] = tokenizer.pad_token_id
    batch = assemble_rollout(prompts, responses, mask.long(), torch.zeros(samples, MAX_RESPONSE))
    advantages = torch.randn(samples, 1, generator=generator) * mask
    return batch.union(Batch({"advantages": advantages}))


def benchmark_variable_length(inputs: ComparisonInputs, repeats: int, warmup: int) -> dict[str, Comparison]:
    """Update and log-prob comparisons, padding-free + token budget against padded (one trial)."""
    from maxrl.config import compose_config
    from maxrl.controller import ResourcePool, WorkerGroup
    from maxrl.trainer.main_ppo import load_tokenizer, worker_config
    from maxrl.workers import ActorRolloutRefWorker

    batch = variable_length_batch(load_tokenizer(str(inputs.model_dir)))
    tokens = int(batch["response_mask"].sum())
    logger.info("variable length: %d samples, %d valid response tokens of %d padded", len(batch), tokens,
                batch["response_mask"].numel())
    run_dir = Path(inputs.root) / "variable_length"
    pools, groups = [], {}
    try:
        for name, extra in layouts().items():
            config = compose_config(maxrl_overrides(inputs, 1, 1, run_dir, extra, response_length=MAX_RESPONSE))
            pools.append(ResourcePool(1, 1, "cpu"))
            groups[name] = WorkerGroup(ActorRolloutRefWorker, pools[-1], worker_config(config, total_steps=1_000),
                                       timeout_s=900, keep_freed_memory=bool(config.trainer.cpu_keep_freed_memory))
        update_batch = batch.union(groups[PADDED_NAME].compute_log_prob(batch))

        def call(name: str, method: str, data: Batch):
            def work() -> int:
                getattr(groups[name], method)(data)
                return tokens
            return work

        results = {}
        for label, method, data in (("log-prob", "compute_log_prob", batch), ("update", "update_actor", update_batch)):
            results |= compare((f"{label}: {PADDED_NAME}", call(PADDED_NAME, method, data)),
                               {f"{label}: {PADDING_FREE_NAME}": call(PADDING_FREE_NAME, method, data)},
                               "response tokens", repeats, warmup)
        return results
    finally:
        for group in groups.values():
            group.shutdown()
        for pool in pools:
            pool.shutdown()


def with_gain(comparison: Comparison) -> dict:
    """The comparison's dict with ``gain``: padded time / padding-free time per round (the inverse of its
    time ratio), summarised."""
    return {**comparison.to_dict(), "gain": summarize([1 / ratio for ratio in comparison.ratios]).to_dict()}


def settings_dict(micro_batch: int = MICRO_BATCH) -> dict:
    """What the report says about the batch and the two layouts."""
    return {"response_lengths": [MIN_RESPONSE, MAX_RESPONSE], "micro_batch": micro_batch,
            "token_budget": micro_batch * (workload.PROMPT_TOKENS + MAX_RESPONSE)}
