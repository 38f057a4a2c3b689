"""Statistics of repeated timings, and paired comparisons of a framework call with its baseline.

On a shared machine the available CPU drifts while a benchmark runs, so a framework call and its
baseline are never timed in two separate blocks: `compare` runs them in rounds (one call of each per
round, the order rotating from round to round) and forms the ratio *within* each round. Drift that is
slow compared with a round cancels in the ratio; what remains shows up in its spread.

Besides wall time, `compare` can read a CPU clock (CPU seconds summed over the processes involved).
Its ratio hardly moves with the machine's load, but it misses time spent waiting (latency), so the
wall-time ratio stays the headline and the CPU ratio tells load noise from real overhead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Comparison", "Summary", "compare", "summarize"]

WorkFn = Callable[[], float]
"""A measured call: does the work once and returns how much it did (tokens, samples, ...)."""

Clock = Callable[[], float]
"""Seconds since some fixed point (e.g. CPU seconds used so far)."""


@dataclass(frozen=True)
class Summary:
    """Median and spread of repeated measurements: quartiles (IQR) and the extremes."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    count: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary:
    """`Summary` of `values` (quartiles by linear interpolation, as ``numpy.percentile``)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise ValueError("summarize: no values (a benchmark needs at least one repetition)")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"summarize: non-finite values {array.tolist()}")
    q1, median, q3 = np.percentile(array, [25, 50, 75])
    return Summary(float(median), float(q1), float(q3), float(array.min()), float(array.max()), int(array.size))


@dataclass(frozen=True)
class Comparison:
    """One framework call against its baseline, from paired rounds.

    ``ratio`` is the framework's time per unit of work divided by the baseline's, round by round:
    1.10 means the framework takes 10% longer for the same work (``overhead`` = ratio - 1).
    ``cpu_ratio`` is the same for CPU seconds, when a CPU clock was given.
    """

    name: str
    baseline: str
    unit: str
    rate: Summary  # framework work per second
    baseline_rate: Summary
    ratio: Summary
    cpu_ratio: Summary | None = None

    @property
    def overhead(self) -> float:
        return self.ratio.median - 1.0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "baseline": self.baseline,
            "unit": self.unit,
            "rate": self.rate.to_dict(),
            "baseline_rate": self.baseline_rate.to_dict(),
            "ratio": self.ratio.to_dict(),
            "cpu_ratio": None if self.cpu_ratio is None else self.cpu_ratio.to_dict(),
            "overhead": self.overhead,
        }


def _timed(fn: WorkFn, cpu_clock: Clock | None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (0 without a clock) and work of one call."""
    cpu_began = cpu_clock() if cpu_clock else 0.0
    began = time.perf_counter()
    work = float(fn())
    seconds = time.perf_counter() - began
    cpu_seconds = cpu_clock() - cpu_began if cpu_clock else 0.0
    if work <= 0 or not math.isfinite(work):
        raise ValueError(f"a measured call reported work {work}; it must return a positive amount")
    return seconds, cpu_seconds, work


def compare(
    baseline: tuple[str, WorkFn],
    candidates: Mapping[str, WorkFn],
    unit: str,
    repeats: int,
    warmup: int = 1,
    cpu_clock: Clock | None = None,
) -> dict[str, Comparison]:
    """Time each candidate against the baseline in `repeats` rounds after `warmup` untimed rounds.

    Every round calls the baseline and each candidate once, starting one place later each round, and
    compares each candidate with *that round's* baseline (by wall time, and by `cpu_clock` if given).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"compare: need repeats >= 1 and warmup >= 0, got {repeats=}, {warmup=}")
    baseline_name, baseline_fn = baseline
    calls = {baseline_name: baseline_fn, **candidates}
    if len(calls) != len(candidates) + 1:
        raise ValueError(f"compare: a candidate is named like the baseline {baseline_name!r}")
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    rates: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in candidates}
    cpu_ratios: dict[str, list[float]] = {name: [] for name in candidates}
    for round_index in range(repeats):
        shift = round_index % len(names)
        cost, cpu_cost = {}, {}
        for name in names[shift:] + names[:shift]:
            seconds, cpu_seconds, work = _timed(calls[name], cpu_clock)
            rates[name].append(work / seconds)
            cost[name], cpu_cost[name] = seconds / work, cpu_seconds / work
        for name in candidates:
            ratios[name].append(cost[name] / cost[baseline_name])
            if cpu_clock is not None:
                cpu_ratios[name].append(cpu_cost[name] / max(cpu_cost[baseline_name], 1e-12))
    baseline_rate = summarize(rates[baseline_name])
    return {
        name: Comparison(
            name, baseline_name, unit, summarize(rates[name]), baseline_rate, summarize(ratios[name]),
            summarize(cpu_ratios[name]) if cpu_clock is not None else None,
        )
        for name in candidates
    }
