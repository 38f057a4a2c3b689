"""Metrics of a step's episodes, read from the per-sample fields the agent loop adds (`EPISODE_FIELDS`).

``multi_turn/assistant_turns/*`` and ``multi_turn/user_turns/*`` (per episode), ``num_turns/*`` (both
together, verl's name), ``multi_turn/tool_calls/mean``, ``multi_turn/tool_call_rate`` (episodes with at
least one call), ``multi_turn/tool_errors/<kind>`` (calls per episode that failed that way),
``multi_turn/call_seconds/mean`` (time spent in tool and interaction calls per episode),
``multi_turn/truncated_ratio`` (episodes that hit the response budget), and the response tokens the model
generated against those the environment inserted (``multi_turn/{generated,inserted}_tokens/mean``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from maxrl.agents.settings import ERROR_KINDS

__all__ = ["episode_metrics"]


def _stats(prefix: str, values: torch.Tensor) -> dict[str, float]:
    values = values.double()
    return {f"{prefix}/mean": values.mean().item(), f"{prefix}/max": values.max().item(), f"{prefix}/min": values.min().item()}


def episode_metrics(batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """The step's multi-turn metrics; empty when the batch holds no episodes (single-turn rollouts)."""
    if "episode_assistant_turns" not in batch:
        return {}
    assistant, user = batch["episode_assistant_turns"], batch["episode_user_turns"]
    calls = batch["episode_tool_calls"].double()
    response_columns = batch["responses"].shape[1]
    real = batch["attention_mask"][:, -response_columns:].sum(dim=-1).double()
    generated = batch["response_mask"].sum(dim=-1).double()
    metrics = _stats("multi_turn/assistant_turns", assistant) | _stats("multi_turn/user_turns", user)
    metrics |= _stats("num_turns", assistant + user)
    metrics |= {
        "multi_turn/tool_calls/mean": calls.mean().item(),
        "multi_turn/tool_call_rate": (calls > 0).double().mean().item(),
        "multi_turn/call_seconds/mean": batch["episode_call_seconds"].double().mean().item(),
        "multi_turn/truncated_ratio": batch["episode_truncated"].double().mean().item(),
        "multi_turn/generated_tokens/mean": generated.mean().item(),
        "multi_turn/inserted_tokens/mean": (real - generated).mean().item(),
    }
    for kind in ERROR_KINDS:
        metrics[f"multi_turn/tool_errors/{kind}"] = batch[f"episode_errors_{kind}"].double().mean().item()
    return metrics
