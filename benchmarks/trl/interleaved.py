"""TRL against maxrl's default layouts in interleaved rounds, and the paired ratios.

Each round runs every layout once, as a fresh process, in an order rotated by one place per round, so
that slow drifts of a shared machine hit every layout alike; each ratio is formed within a round (as
`benchmarks.stats.compare` does for calls) and summarised over the rounds. Ratios are TRL / maxrl for
times (above 1: maxrl is faster) and maxrl / TRL for memory (below 1: maxrl uses less).

maxrl's *best default layout* is the layout with the smaller median seconds per step over all rounds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from benchmarks.stats import summarize
from benchmarks.trl.inputs import ComparisonInputs
from benchmarks.trl.maxrl_side import run_maxrl
from benchmarks.trl.runs import PHASES, FrameworkRun
from benchmarks.trl.trl_side import run_trl

__all__ = ["TRL", "compare_rounds", "rotated", "run_comparison", "summarize_comparison"]

logger = logging.getLogger(__name__)

TRL = "TRL"
TIME_KEYS = ("step", *PHASES, "startup")
MEMORY_KEYS = ("peak_total_mib", "peak_largest_mib")


def rotated(names: list[str], round_index: int) -> list[str]:
    """`names` starting at place ``round_index`` (mod their number)."""
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def run_comparison(inputs: ComparisonInputs, trl_python: Path, worker_layouts: tuple[int, ...], rounds: int,
                   warmup_steps: int, measured_steps: int, extra_overrides: tuple[str, ...] = ()) -> dict:
    """`rounds` rounds of TRL and maxrl on each of `worker_layouts`; the per-run rows and their summary."""
    def maxrl_launcher(workers: int) -> Callable[[Path], FrameworkRun]:
        return lambda run_dir: run_maxrl(inputs, workers, run_dir, warmup_steps, measured_steps, extra_overrides)

    launchers = {TRL: lambda run_dir: run_trl(trl_python, inputs, run_dir, warmup_steps, measured_steps)}
    launchers |= {f"maxrl {w} worker{'s' if w > 1 else ''}": maxrl_launcher(w) for w in worker_layouts}
    rows = []
    for round_index in range(rounds):
        for position, layout in enumerate(rotated(list(launchers), round_index)):
            logger.info("TRL comparison: round %d of %d, %s", round_index + 1, rounds, layout)
            run_dir = inputs.root / "runs" / f"r{round_index}_{layout.replace(' ', '_')}"
            run = launchers[layout](run_dir)
            rows.append({"round": round_index, "position": position, **run.to_dict()})
    return {"workload": inputs.workload.to_dict(), "warmup_steps": warmup_steps, "measured_steps": measured_steps,
            "rounds": rounds, "overrides": list(extra_overrides), "runs": rows, "summary": summarize_comparison(rows)}


def _value(row: dict, key: str) -> float:
    return row["startup_s"] if key == "startup" else row[key] if key in MEMORY_KEYS else row["median_s"][key]


def compare_rounds(rows: list[dict], layout: str) -> dict:
    """Per-round ratios of `layout` against TRL: TRL / layout for `TIME_KEYS`, layout / TRL for memory;
    each summarised (median and quartiles) over the rounds that ran both."""
    by_round: dict[int, dict[str, dict]] = {}
    for row in rows:
        by_round.setdefault(row["round"], {})[row["layout"]] = row
    pairs = [(runs[TRL], runs[layout]) for runs in by_round.values() if TRL in runs and layout in runs]
    if not pairs:
        raise ValueError(f"compare_rounds: no round ran both {TRL!r} and {layout!r}")
    ratios = {key: summarize([_value(trl, key) / _value(own, key) for trl, own in pairs]).to_dict()
              for key in TIME_KEYS}
    ratios |= {key: summarize([_value(own, key) / _value(trl, key) for trl, own in pairs]).to_dict()
               for key in MEMORY_KEYS}
    return ratios


def summarize_comparison(rows: list[dict]) -> dict:
    """Medians over the rounds per layout, ratios of each maxrl layout against TRL, the best layout."""
    layouts = list(dict.fromkeys(row["layout"] for row in rows))
    medians = {
        layout: {key: summarize([_value(row, key) for row in rows if row["layout"] == layout]).to_dict()
                 for key in (*TIME_KEYS, *MEMORY_KEYS)}
        for layout in layouts
    }
    own = [layout for layout in layouts if layout != TRL]
    best = min(own, key=lambda layout: medians[layout]["step"]["median"]) if own else None
    ratios = {layout: compare_rounds(rows, layout) for layout in own} if TRL in layouts else {}
    return {"layouts": medians, "ratios": ratios, "best_layout": best}
