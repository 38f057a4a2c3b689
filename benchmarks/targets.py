"""The performance targets, checked against a run's results.

* rollout: the framework takes at most 10% longer per generated token than the raw library call;
* update: at most 15% longer per token than a bare PyTorch training loop;
* scaling: the step time grows no faster than linearly in ``rollout.n``.

The overhead targets are judged on the median ratio over all rounds of all trials; the range of the
trials' own medians (``trial_range``, where there were several trials) shows how much one process
differs from the next. A target whose measurement was not part of the run is left out.
"""

from __future__ import annotations

__all__ = ["OVERHEAD_LIMITS", "evaluate_targets"]

OVERHEAD_LIMITS = {
    "rollout hf: worker.generate_sequences": 1.10,
    "rollout vllm: backend.generate": 1.10,
    "update: worker.update_actor": 1.15,
}
"""Framework/baseline time ratio allowed for each comparison that has a target."""

LINEAR_LIMIT = 1.0
"""Largest allowed (t(n) / t(n_first)) / (n / n_first)."""


def _trial_range(trial_ratios: list[float]) -> list[float] | None:
    """[lowest, highest] of the trials' median ratios; None for a single trial."""
    return [round(min(trial_ratios), 3), round(max(trial_ratios), 3)] if len(trial_ratios) > 1 else None


def evaluate_targets(results: dict) -> list[dict]:
    """One row per target: the measured value, the trials' range (or None), the limit, whether it is met."""
    rows = []
    for comparison in results.get("components", []):
        limit = OVERHEAD_LIMITS.get(comparison["name"])
        if limit is not None:
            ratio = comparison["ratio"]["median"]
            rows.append({
                "target": f"{comparison['name']} vs {comparison['baseline']}: time ratio <= {limit:.2f}",
                "value": round(ratio, 3),
                "trial_range": _trial_range(comparison["trial_ratios"]),
                "limit": limit,
                "met": ratio <= limit,
            })
    scaling = results.get("scaling_n", [])
    if len(scaling) > 1:
        first, last = scaling[0]["n"], scaling[-1]["n"]
        for key, what in (("growth_per_unit", "step time"), ("cpu_growth_per_unit", "CPU seconds per step")):
            if scaling[1][key] is None:
                continue
            worst = max(row[key] for row in scaling[1:])
            rows.append({
                "target": f"{what} grows at most linearly in rollout.n ({first} -> {last}): "
                          f"max (t(n)/t({first})) / (n/{first}) <= {LINEAR_LIMIT:g}",
                "value": round(worst, 3),
                "trial_range": None,
                "limit": LINEAR_LIMIT,
                "met": worst <= LINEAR_LIMIT,
            })
    return rows
