"""Proof that the rollout samples from the actor's weights: ``actor_rollout_ref.rollout.check_weight_sync``.

Weight-sync bugs are silent: a stale, partly loaded or randomly initialised rollout model still produces
fluent-looking samples, and training quietly goes off-policy. After each sync, the check lets the rollout
sample a few tokens for one of this rank's prompts and compares the log-probs it reports with the
actor's for the same tokens (temperature 1, no truncation, so both sides compute the same quantity).
The largest gap over all ranks is the metric ``rollout/weight_sync_max_abs_logprob_diff``; beyond the
tolerance every rank raises together (a lone failing rank would leave the others waiting in a collective).

What the tolerance can tell apart: a missing or mis-mapped parameter, random weights or a skipped sync
move log-probs by tenths to whole nats, while two correct engines differ only by numerics, ~1e-6 nats in
float32 and a few hundredths in bfloat16 (measured numbers in docs/vllm.md). The change of one small
optimizer step can be smaller than bfloat16 noise: to catch a sync that is one step stale, check in fp32.

The check uses only the generic backend interface (``generate``), so it works for every rollout backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.distributed as dist

from maxrl.data.batch import Batch
from maxrl.workers.rollout.base import PROMPT_FIELDS, SamplingParams

__all__ = ["DEFAULT_TOLERANCE", "WEIGHT_SYNC_METRIC", "WeightSyncError", "check_weight_sync", "weight_sync_gap"]

logger = logging.getLogger(__name__)

WEIGHT_SYNC_METRIC = "rollout/weight_sync_max_abs_logprob_diff"
DEFAULT_TOLERANCE = 0.1
"""Nats; ``actor_rollout_ref.rollout.weight_sync_tolerance`` overrides it."""
PROBE_TOKENS = 8


class WeightSyncError(RuntimeError):
    """The rollout's log-probs disagree with the actor's after a weight sync."""


def weight_sync_gap(
    rollout, prompts: Batch, actor_log_probs: Callable[[Batch], torch.Tensor], probe_tokens: int = PROBE_TOKENS
) -> float:
    """Largest |rollout log-prob - actor log-prob| over `probe_tokens` tokens sampled for this rank's first
    prompt, maximised over all ranks (call it on every rank). `actor_log_probs` maps a rollout batch to the
    actor's ``[N, R]`` log-probs of its responses at temperature 1."""
    probe = prompts.select(PROMPT_FIELDS).slice(0, 1)
    samples = rollout.generate(probe, SamplingParams(n=1, max_tokens=probe_tokens, temperature=1.0, seed=0))
    mask = samples["response_mask"].bool().cpu()
    reference = actor_log_probs(samples).float().cpu()
    gap = (samples["rollout_log_probs"].float().cpu() - reference).abs()[mask].max()
    if dist.is_initialized():
        dist.all_reduce(gap, op=dist.ReduceOp.MAX)
    return float(gap)


def check_weight_sync(
    rollout,
    prompts: Batch,
    actor_log_probs: Callable[[Batch], torch.Tensor],
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, float]:
    """``{WEIGHT_SYNC_METRIC: gap}``, or `WeightSyncError` on every rank when the gap exceeds `tolerance`."""
    gap = weight_sync_gap(rollout, prompts, actor_log_probs)
    logger.info("%s = %.3g (tolerance %.3g)", WEIGHT_SYNC_METRIC, gap, tolerance)
    if not gap <= tolerance:  # also catches NaN
        raise WeightSyncError(
            f"after the weight sync the rollout's log-probs differ from the actor's by up to {gap:.4g} nats "
            f"(> actor_rollout_ref.rollout.weight_sync_tolerance={tolerance}): the rollout is not sampling from "
            "the actor's weights (a parameter missing or mis-mapped, a skipped sync, or dtype noise if the "
            "tolerance is too tight for bf16; see docs/vllm.md)"
        )
    return {WEIGHT_SYNC_METRIC: gap}
