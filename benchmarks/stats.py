"""Statistics of repeated timings, and paired comparisons of a framework call with its baseline.

On a shared machine the available CPU drifts while a benchmark runs, so a framework call and its
baseline are never timed in two separate blocks: `compare` runs them in rounds (one call of each per
round, the order rotating from round to round) and forms the ratio *within* each round. Drift that is
slow compared with a round cancels in the ratio; what remains shows up in its spread.

Besides wall time, `compare` can read a CPU clock (CPU seconds summed over the processes involved).
Its ratio hardly moves with the machine's load, but it misses time spent waiting (latency), so the
wall-time ratio stays the headline and the CPU ratio tells load noise from real overhead.

Pairing removes drift within a run, not differences between processes: one worker process can run
persistently faster or slower than the next (by up to about 15% measured on a 2-core machine), which
one trial's quartiles cannot show. So a comparison is repeated in independent trials, each with a
fresh worker process, and `pool_trials` merges them: the headline is over all rounds of all trials,
and each trial's median ratio is kept to show the spread between processes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Comparison", "Summary", "compare", "pool_trials", "summarize"]

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
    """One framework call against its baseline, from paired rounds in one or more trials.

    Holds the value of every round (of all trials, trial after trial); the summaries are over all of them.
    ``ratio`` is the framework's time per unit of work divided by the baseline's, round by round:
    1.10 means the framework takes 10% longer for the same work (``overhead`` = ratio - 1).
    ``cpu_ratio`` is the same for CPU seconds, when a CPU clock was given. ``trial_ratios`` holds the
    median ratio of each trial.
    """

    name: str
    baseline: str
    unit: str
    rates: tuple[float, ...]  # framework work per second, per round
    baseline_rates: tuple[float, ...]
    ratios: tuple[float, ...]
    cpu_ratios: tuple[float, ...] | None  # None without a CPU clock
    trial_ratios: tuple[float, ...]

    @property
    def rate(self) -> Summary:
        return summarize(self.rates)

    @property
    def baseline_rate(self) -> Summary:
        return summarize(self.baseline_rates)

    @property
    def ratio(self) -> Summary:
        return summarize(self.ratios)

    @property
    def cpu_ratio(self) -> Summary | None:
        return None if self.cpu_ratios is None else summarize(self.cpu_ratios)

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
            "trial_ratios": list(self.trial_ratios),
            "round_ratios": list(self.ratios),
        }


def pool_trials(per_trial: Sequence[Mapping[str, Comparison]]) -> dict[str, Comparison]:
    """The comparisons of several trials as one: the rounds of all trials together, and every trial's
    median ratio. Each trial must hold the same comparisons; one trial is returned unchanged."""
    if not per_trial:
        raise ValueError("pool_trials: no trials")
    names = list(per_trial[0])
    for index, trial in enumerate(per_trial[1:], start=2):
        if list(trial) != names:
            raise ValueError(f"pool_trials: trial {index} compares {list(trial)}, trial 1 {names}")
    pooled = {}
    for name in names:
        trials = [trial[name] for trial in per_trial]
        first = trials[0]
        if any((t.baseline, t.unit) != (first.baseline, first.unit) for t in trials):
            raise ValueError(f"pool_trials: {name!r} has a different baseline or unit in some trial")
        if any((t.cpu_ratios is None) != (first.cpu_ratios is None) for t in trials):
            raise ValueError(f"pool_trials: {name!r} has CPU ratios in some trials only")
        pooled[name] = Comparison(
            name, first.baseline, first.unit,
            rates=_concatenated(t.rates for t in trials),
            baseline_rates=_concatenated(t.baseline_rates for t in trials),
            ratios=_concatenated(t.ratios for t in trials),
            cpu_ratios=None if first.cpu_ratios is None else _concatenated(t.cpu_ratios for t in trials),
            trial_ratios=_concatenated(t.trial_ratios for t in trials),
        )
    return pooled


def _concatenated(parts: Iterable[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(value for part in parts for value in part)


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
    return {
        name: Comparison(
            name, baseline_name, unit, tuple(rates[name]), tuple(rates[baseline_name]), tuple(ratios[name]),
            tuple(cpu_ratios[name]) if cpu_clock is not None else None,
            trial_ratios=(summarize(ratios[name]).median,),
        )
        for name in candidates
    }
