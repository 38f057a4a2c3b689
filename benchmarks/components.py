"""Rollout, log-prob and update: each framework call against its bare baseline on the same batch.

The framework side is the real path: one `ActorRolloutRefWorker` in a Ray `WorkerGroup` (FSDP2 over a
one-rank gloo world), called with ``dispatch`` as the trainer calls it, so the ratio includes Ray,
serialisation, sharding and the worker's bookkeeping. The rollout backend is also timed on its own,
in this process, to tell the backend's cost from the worker's. Baselines run in this process with the
worker's thread count. Every sample runs to the full response length (``ignore_eos``), so both sides
generate the same number of tokens.

A worker process's speed differs persistently from one process to the next, so the comparisons are
repeated in independent trials (the suite's ``trials``), each with a fresh worker group and fresh
baselines, and pooled with `benchmarks.stats.pool_trials`: the ratios are over all rounds of all trials,
and each trial's median shows the process-to-process spread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import torch
from omegaconf import DictConfig

from benchmarks.baselines import BarePolicyUpdate, RawGenerate, bare_log_probs, load_plain_model
from benchmarks.process_tree import tree_cpu_seconds, wait_for_workers_to_exit
from benchmarks.stats import Comparison, compare, pool_trials
from benchmarks.workspace import RunShape, Workspace
from maxrl.data.batch import Batch
from maxrl.workers.batch_sizes import chunk_sizes

__all__ = ["WORKER_THREADS", "benchmark_components", "first_prompts"]

logger = logging.getLogger(__name__)

WORKER_THREADS = 1
"""Torch threads of a worker (one CPU per bundle); the baselines use as many."""


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def first_prompts(workspace: Workspace, config, count: int) -> tuple[Batch, object]:
    """The first `count` training prompts, collated by the data loader as the trainer gets them, and the
    tokenizer."""
    from maxrl.data.dataset import RLDataset
    from maxrl.data.loader import build_dataloader
    from maxrl.trainer.main_ppo import load_tokenizer

    tokenizer = load_tokenizer(str(workspace.model_dir))
    dataset = RLDataset([str(workspace.train_file)], tokenizer, config.data)
    loader = build_dataloader(dataset, config.data, batch_size=count, shuffle=False, seed=0, drop_last=True)
    return Batch.from_dict(next(iter(loader))), tokenizer


def _tokens(batch: Batch) -> int:
    return int(batch["attention_mask"].sum())


def _with_advantages(samples: Batch, old_log_probs: Batch) -> Batch:
    """An update batch: the samples, their log-probs, and fixed random per-sample advantages."""
    generator = torch.Generator().manual_seed(0)
    advantages = torch.randn(len(samples), 1, generator=generator) * samples["response_mask"]
    return samples.union(old_log_probs).union(Batch({"advantages": advantages}))


def benchmark_components(
    workspace: Workspace, shape: RunShape, trials: int, repeats: int, warmup: int
) -> dict[str, Comparison]:
    """Rollout, log-prob and update comparisons on `shape` (one worker), pooled over `trials` trials.

    Every trial starts a fresh worker process and builds fresh baselines (model reloaded, new optimizer,
    new rollout backend), so the trials differ the way two runs of the benchmark would.
    """
    from maxrl.trainer.main_ppo import worker_config

    if trials < 1:
        raise ValueError(f"benchmark_components: need trials >= 1, got {trials}")
    shape = replace(shape, workers=1, ignore_eos=True)
    config = worker_config(workspace.config(shape), total_steps=1_000)
    prompts, tokenizer = first_prompts(workspace, config, shape.prompts)
    per_trial = []
    for trial in range(1, trials + 1):
        logger.info("components: trial %d of %d", trial, trials)
        per_trial.append(_one_trial(workspace, config, prompts, tokenizer, repeats, warmup))
    return pool_trials(per_trial)


def _one_trial(
    workspace: Workspace, config: DictConfig, prompts: Batch, tokenizer, repeats: int, warmup: int
) -> dict[str, Comparison]:
    """One trial of every comparison, with a worker group and baselines of its own."""
    from maxrl.controller import ResourcePool, WorkerGroup
    from maxrl.workers import ActorRolloutRefWorker
    from maxrl.workers.rollout import build_rollout, sampling_params_from_config, stop_token_ids

    rollout_cfg = config.actor_rollout_ref.rollout
    sampling = sampling_params_from_config(rollout_cfg, stop_token_ids(str(workspace.model_dir), tokenizer))
    temperature = float(rollout_cfg.temperature)
    if not wait_for_workers_to_exit():  # a dying worker would take its CPU seconds out of a round
        logger.warning("worker processes of an earlier run are still alive; they may disturb this trial")
    results: dict[str, Comparison] = {}
    pool = ResourcePool(1, 1, "cpu", cpus_per_worker=WORKER_THREADS)
    try:
        with WorkerGroup(ActorRolloutRefWorker, pool, config, timeout_s=900) as group, torch_threads(WORKER_THREADS):
            plain = load_plain_model(str(workspace.model_dir))
            backend = build_rollout("hf", config=config, tokenizer=tokenizer, device="cpu", seed=0)

            def worker_generate() -> int:
                return int(group.generate_sequences(prompts)["response_mask"].sum())

            def backend_generate() -> int:
                return int(backend.generate(prompts, sampling)["response_mask"].sum())

            logger.info("rollout: %d prompts x n=%d, %d tokens each", len(prompts), sampling.n,
                        sampling.max_tokens)
            results |= compare(
                ("model.generate", RawGenerate(plain, prompts, sampling, tokenizer.pad_token_id)),
                {"rollout hf: worker.generate_sequences": worker_generate, "rollout hf: backend.generate": backend_generate},
                "generated tokens", repeats, warmup, tree_cpu_seconds,
            )
            samples = group.generate_sequences(prompts)

            def worker_log_probs() -> int:
                group.compute_log_prob(samples, calculate_entropy=True)
                return _tokens(samples)

            def bare_forward() -> int:
                for micro in samples.split(chunk_sizes(len(samples), rollout_cfg.log_prob_micro_batch_size_per_gpu)):
                    bare_log_probs(plain, micro, temperature, with_entropy=True)
                return _tokens(samples)

            logger.info("log-prob: %d samples", len(samples))
            results |= compare(("bare forward", bare_forward), {"log-prob: worker.compute_log_prob": worker_log_probs},
                               "tokens", repeats, warmup, tree_cpu_seconds)
            batch = _with_advantages(samples, group.compute_log_prob(samples))
            bare_update = BarePolicyUpdate(plain, config)

            def worker_update() -> int:
                group.update_actor(batch)
                return _tokens(batch)

            logger.info("update: %d samples", len(batch))
            results |= compare(("bare training loop", lambda: bare_update(batch)),
                               {"update: worker.update_actor": worker_update}, "tokens", repeats, warmup,
                               tree_cpu_seconds)
    finally:
        pool.shutdown()
    return results
