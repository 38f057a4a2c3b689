"""Training metrics from one step's batch, with verl's names plus the ones MaxRL needs.

verl names: ``critic/score/*`` (sequence score), ``critic/rewards/*`` (after the in-reward KL),
``critic/advantages/*``, ``critic/returns/*``, ``response_length/*``, ``prompt_length/*``, ``timing_s/*``,
``timing_per_token_ms/*``, ``perf/*``, ``global_seqlen/*``.
MaxRL's: the distribution of per-prompt pass rates (fraction of prompts at 0, in (0, 1), at 1, and the
paper's finer bins near 0), and the mismatch between the sampler's and the trainer's log-probs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch

SUCCESS_THRESHOLD = 0.5
"""A sample counts as a success when its score exceeds this (every built-in scorer returns 0 or 1)."""


def _stats(prefix: str, values: torch.Tensor) -> dict[str, float]:
    values = values.float()
    if values.numel() == 0:
        return {}
    return {f"{prefix}/mean": values.mean().item(), f"{prefix}/max": values.max().item(), f"{prefix}/min": values.min().item()}


def sequence_sum(token_values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample sum over valid tokens (the sequence score when the reward sits on the last token)."""
    return (token_values * mask).sum(dim=-1)


def masked_values(token_values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The token values where `mask` is set, flattened."""
    return token_values[mask.bool()]


def compute_data_metrics(batch: Mapping[str, torch.Tensor], max_response_length: int) -> dict[str, float]:
    """verl's data metrics: scores, rewards, advantages, returns, prompt and response lengths."""
    response_mask = batch["response_mask"]  # the model's tokens (a multi-turn response also holds inserted ones)
    response_columns = response_mask.shape[-1]
    response_length = batch["attention_mask"][:, -response_columns:].sum(dim=-1).float()
    prompt_length = batch["attention_mask"][:, :-response_columns].sum(dim=-1).float()
    max_prompt_length = batch["prompts"].shape[-1]
    metrics: dict[str, float] = {}
    metrics |= _stats("critic/score", sequence_sum(batch["token_level_scores"], response_mask))
    metrics |= _stats("critic/rewards", sequence_sum(batch["token_level_rewards"], response_mask))
    metrics |= _stats("critic/advantages", masked_values(batch["advantages"], response_mask))
    metrics |= _stats("critic/returns", masked_values(batch["returns"], response_mask))
    if "values" in batch:  # a critic's: its values and how much of the returns' variance they explain
        values, returns = masked_values(batch["values"], response_mask), masked_values(batch["returns"], response_mask)
        metrics |= _stats("critic/values", values)
        variance = returns.float().var() if returns.numel() > 1 else torch.tensor(0.0)
        unexplained = (returns - values).float().var() if returns.numel() > 1 else torch.tensor(0.0)
        metrics["critic/vf_explained_var"] = (1.0 - unexplained / (variance + 1e-5)).item()
    metrics |= _stats("response_length", response_length)
    metrics["response_length/clip_ratio"] = (response_length >= max_response_length).float().mean().item()
    metrics |= _stats("prompt_length", prompt_length)
    metrics["prompt_length/clip_ratio"] = (prompt_length >= max_prompt_length).float().mean().item()
    return metrics


# --------------------------------------------------------------------------- pass-rate distribution
def pass_rate_bins() -> list[tuple[str, float, float]]:
    """The paper's bins of per-prompt pass rate: [0], (0, 2^-10], (2^-10, 2^-9], ..., (0.25, 0.5], (0.5, 1), [1].

    Each bin is ``(label, low, high)``; labels are Python float reprs as in the paper's logs.
    """
    edges = [0.0] + [2.0**-e for e in range(10, 0, -1)]  # 0, 2^-10, ..., 0.5
    bins = [("[0.0, 0.0]", 0.0, 0.0)]
    bins += [(f"({low}, {high}]", low, high) for low, high in zip(edges[:-1], edges[1:])]
    bins += [("(0.5, 1.0)", 0.5, 1.0), ("[1.0, 1.0]", 1.0, 1.0)]
    return bins


def _bin_fractions(rates: np.ndarray) -> dict[str, float]:
    fractions = {}
    for label, low, high in pass_rate_bins():
        if low == high:
            inside = rates == low
        elif high == 1.0:
            inside = (rates > low) & (rates < high)
        else:
            inside = (rates > low) & (rates <= high)
        fractions[f"fraction_of_prompts_in_{label}"] = float(inside.mean())
    return fractions


def group_pass_rates(group_ids: Sequence, success: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group (prompt), in first-seen order: its id, its number of samples and its number of successes."""
    ids, first, inverse = np.unique(
        np.asarray(group_ids, dtype=object).astype(str), return_index=True, return_inverse=True
    )
    totals = np.bincount(inverse, minlength=len(ids))
    successes = np.bincount(inverse, weights=np.asarray(success, dtype=np.float64), minlength=len(ids))
    order = np.argsort(first)
    return ids[order], totals[order], successes[order].round().astype(np.int64)


def pass_rate_metrics(
    group_ids: Sequence, data_sources: Sequence[str], success: np.ndarray, split: str
) -> dict[str, float]:
    """Distribution of per-prompt pass rates: the coarse split (0, mixed, 1) and the paper's bins.

    `split` is ``train`` or ``validation``; names follow the paper's logs
    (``<split>_all_datasets_binning/...``, ``<split>_binning_for_dataset_<ds>/...``) and add
    ``<split>_pass_rate/fraction_{zero,mixed,one}``.
    """
    group_ids = np.asarray(group_ids, dtype=object).astype(str)
    data_sources = np.asarray(data_sources, dtype=object).astype(str)
    _, totals, successes = group_pass_rates(group_ids, success)
    rates = successes / totals
    metrics = {
        f"{split}_pass_rate/fraction_zero": float((rates == 0).mean()),
        f"{split}_pass_rate/fraction_mixed": float(((rates > 0) & (rates < 1)).mean()),
        f"{split}_pass_rate/fraction_one": float((rates == 1).mean()),
    }
    metrics |= {f"{split}_all_datasets_binning/{k}": v for k, v in _bin_fractions(rates).items()}
    for source in np.unique(data_sources):
        rows = data_sources == source
        _, totals, successes = group_pass_rates(group_ids[rows], success[rows])
        fractions = _bin_fractions(successes / totals)
        metrics |= {f"{split}_binning_for_dataset_{source}/{k}": v for k, v in fractions.items()}
    return metrics


# --------------------------------------------------------------------------- sampler vs trainer
def rollout_mismatch_metrics(
    rollout_log_probs: torch.Tensor, old_log_probs: torch.Tensor, response_mask: torch.Tensor
) -> dict[str, float]:
    """How far the sampler's log-probs are from the trainer's recomputation of the same tokens.

    ``training/rollout_probs_diff_*`` (verl's names): |p_rollout - p_trainer| over valid tokens;
    ``training/rollout_log_probs_diff_*``: |log p_rollout - log p_trainer|;
    ``training/rollout_actor_kl``: mean of log p_rollout - log p_trainer, the k1 estimate of KL(rollout || actor).
    """
    mask = response_mask.bool()
    rollout, actor = rollout_log_probs.float()[mask], old_log_probs.float()[mask]
    if rollout.numel() == 0:
        return {}
    prob_diff = (rollout.exp() - actor.exp()).abs()
    log_diff = (rollout - actor).abs()
    return {
        "training/rollout_probs_diff_mean": prob_diff.mean().item(),
        "training/rollout_probs_diff_max": prob_diff.max().item(),
        "training/rollout_probs_diff_std": prob_diff.std(correction=0).item(),
        "training/rollout_log_probs_diff_mean": log_diff.mean().item(),
        "training/rollout_log_probs_diff_max": log_diff.max().item(),
        "training/rollout_actor_kl": (rollout - actor).mean().item(),
    }


# --------------------------------------------------------------------------- timing and throughput
@contextmanager
def timed(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Add the wall-clock seconds of the block to ``timings[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def timing_metrics(timings: Mapping[str, float], num_response_tokens: int, num_tokens: int) -> dict[str, float]:
    """``timing_s/<phase>`` and ``timing_per_token_ms/<phase>`` (generation per response token, the rest per token)."""
    metrics = {f"timing_s/{phase}": seconds for phase, seconds in timings.items()}
    for phase, seconds in timings.items():
        if phase == "step":
            continue
        tokens = num_response_tokens if phase == "gen" else num_tokens
        metrics[f"timing_per_token_ms/{phase}"] = 1000.0 * seconds / max(tokens, 1)
    return metrics


def throughput_metrics(
    step_seconds: float, gen_seconds: float, num_response_tokens: int, num_tokens: int, num_devices: int
) -> dict[str, float]:
    """verl's ``perf/throughput`` (prompt + response tokens per second per device) and generation speed."""
    return {
        "perf/total_num_tokens": float(num_tokens),
        "perf/time_per_step": step_seconds,
        "perf/throughput": num_tokens / max(step_seconds, 1e-9) / num_devices,
        "perf/gen_tokens_per_s": num_response_tokens / max(gen_seconds, 1e-9),
    }


def balance_metrics(tokens_per_rank_before: Sequence[int], tokens_per_rank_after: Sequence[int]) -> dict[str, float]:
    """verl's ``global_seqlen/*``: tokens per rank before and after `trainer.balance_batch`."""
    before, after = np.asarray(tokens_per_rank_before), np.asarray(tokens_per_rank_after)
    return {
        "global_seqlen/min": float(before.min()),
        "global_seqlen/max": float(before.max()),
        "global_seqlen/minmax_diff": float(before.max() - before.min()),
        "global_seqlen/balanced_min": float(after.min()),
        "global_seqlen/balanced_max": float(after.max()),
        "global_seqlen/mean": float(before.mean()),
    }
