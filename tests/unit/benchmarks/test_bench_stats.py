"""Statistic helpers: quartiles, paired rounds timed with a fake clock so every ratio is exact, and the
pooling of trials."""

import json
import math

import pytest

from benchmarks import stats
from benchmarks.stats import compare, pool_trials, summarize


def test_summarize_odd_count():
    summary = summarize([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (summary.median, summary.q1, summary.q3, summary.min, summary.max, summary.count) == (3, 2, 4, 1, 5, 5)
    assert summary.iqr == 2


def test_summarize_even_count_interpolates_like_numpy():
    summary = summarize([1.0, 2.0, 3.0, 4.0])
    assert (summary.median, summary.q1, summary.q3) == (2.5, 1.75, 3.25)


def test_summarize_single_value():
    summary = summarize([7.0])
    assert summary.median == summary.q1 == summary.q3 == summary.min == summary.max == 7.0


@pytest.mark.parametrize("values, message", [([], "no values"), ([1.0, math.nan], "non-finite")])
def test_summarize_rejects_bad_input(values, message):
    with pytest.raises(ValueError, match=message):
        summarize(values)


class FakeClock:
    """Stands in for time.perf_counter; measured calls advance it by their 'duration'."""

    def __init__(self):
        self.now = 0.0
        self.calls = []

    def __call__(self):
        return self.now

    def work(self, name, seconds, units):
        def call():
            self.calls.append(name)
            self.now += seconds
            return units

        return call


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(stats.time, "perf_counter", fake)
    return fake


def test_compare_ratio_and_rates_are_exact(clock):
    results = compare(
        ("raw", clock.work("raw", 1.0, 10)),  # 0.1 s per unit
        {"framework": clock.work("framework", 3.0, 20)},  # 0.15 s per unit
        unit="tokens", repeats=4, warmup=1,
    )
    comparison = results["framework"]
    assert comparison.ratio.median == pytest.approx(1.5)
    assert comparison.ratio.min == pytest.approx(1.5) and comparison.ratio.max == pytest.approx(1.5)
    assert comparison.overhead == pytest.approx(0.5)
    assert comparison.rate.median == pytest.approx(20 / 3)
    assert comparison.baseline_rate.median == pytest.approx(10.0)
    assert comparison.rate.count == comparison.ratio.count == 4
    assert (comparison.name, comparison.baseline, comparison.unit) == ("framework", "raw", "tokens")


def test_compare_cpu_ratio_from_a_cpu_clock(clock):
    cpu = {"seconds": 0.0}

    def work(wall, cpu_seconds, units):
        def call():
            clock.now += wall
            cpu["seconds"] += cpu_seconds
            return units

        return call

    results = compare(("raw", work(1.0, 1.0, 10)), {"fw": work(2.0, 1.1, 10)}, unit="x", repeats=3, warmup=1,
                      cpu_clock=lambda: cpu["seconds"])
    assert results["fw"].ratio.median == pytest.approx(2.0)  # waited twice as long...
    assert results["fw"].cpu_ratio.median == pytest.approx(1.1)  # ...but computed only 10% more
    assert results["fw"].to_dict()["cpu_ratio"]["count"] == 3


def test_compare_without_a_cpu_clock_has_no_cpu_ratio(clock):
    results = compare(("raw", clock.work("raw", 1.0, 1)), {"fw": clock.work("fw", 1.0, 1)}, "x", repeats=1)
    assert results["fw"].cpu_ratio is None and results["fw"].to_dict()["cpu_ratio"] is None


def test_compare_rotates_the_order_each_round_after_warmup(clock):
    compare(("a", clock.work("a", 1.0, 1)), {"b": clock.work("b", 1.0, 1), "c": clock.work("c", 1.0, 1)},
            unit="x", repeats=3, warmup=1)
    assert clock.calls == ["a", "b", "c"] + ["a", "b", "c"] + ["b", "c", "a"] + ["c", "a", "b"]


def test_compare_pairs_each_round_with_its_own_baseline(clock):
    """Drift: the machine is twice as slow during round 2; the per-round ratio is unaffected."""
    calls = []

    def timed(seconds):
        def call():
            calls.append(None)
            clock.now += seconds * (1 if len(calls) <= 2 else 2)  # 2 calls per round
            return 1

        return call

    results = compare(("raw", timed(1.0)), {"fw": timed(1.2)}, unit="x", repeats=2, warmup=0)
    assert results["fw"].ratio.min == pytest.approx(1.2) and results["fw"].ratio.max == pytest.approx(1.2)
    assert results["fw"].rate.min == pytest.approx(1 / 2.4) and results["fw"].rate.max == pytest.approx(1 / 1.2)


def test_compare_rejects_calls_that_report_no_work(clock):
    with pytest.raises(ValueError, match="positive amount"):
        compare(("raw", clock.work("raw", 1.0, 0)), {"fw": clock.work("fw", 1.0, 1)}, "x", repeats=1, warmup=0)


def test_compare_rejects_bad_arguments(clock):
    with pytest.raises(ValueError, match="repeats >= 1"):
        compare(("raw", clock.work("raw", 1.0, 1)), {"fw": clock.work("fw", 1.0, 1)}, "x", repeats=0)
    with pytest.raises(ValueError, match="named like the baseline"):
        compare(("raw", clock.work("raw", 1.0, 1)), {"raw": clock.work("fw", 1.0, 1)}, "x", repeats=1)


def test_compare_on_a_real_trivial_function():
    results = compare(("sum", lambda: sum(range(1000)) * 0 + 1000), {"sum again": lambda: sum(range(1000)) * 0 + 1000},
                      unit="items", repeats=3, warmup=1)
    comparison = results["sum again"]
    assert comparison.ratio.count == 3 and comparison.ratio.median > 0
    assert comparison.to_dict()["ratio"]["count"] == 3


# --------------------------------------------------------------------------- pooling trials
def trial(clock, framework_seconds, cpu_clock=None):
    """One trial: the baseline takes 1 s per round, the framework `framework_seconds[i]` in round i (1 unit
    each), so round i's ratio is exactly framework_seconds[i]."""
    durations = iter(framework_seconds)
    return compare(("raw", clock.work("raw", 1.0, 1)), {"fw": lambda: clock.work("fw", next(durations), 1)()},
                   unit="x", repeats=len(framework_seconds), warmup=0, cpu_clock=cpu_clock)


def test_one_trial_keeps_its_rounds_and_median(clock):
    comparison = trial(clock, [1.0, 1.5, 1.25])["fw"]
    assert comparison.ratios == (1.0, 1.5, 1.25)
    assert comparison.rates == (1.0, 1 / 1.5, 0.8) and comparison.baseline_rates == (1.0, 1.0, 1.0)
    assert comparison.trial_ratios == (1.25,)
    assert comparison.to_dict()["trial_ratios"] == [1.25]
    assert comparison.to_dict()["round_ratios"] == [1.0, 1.5, 1.25]


def test_pool_trials_summarizes_all_rounds_of_all_trials(clock):
    trials = [trial(clock, [1.0, 1.5, 1.25]), trial(clock, [0.75, 1.0]), trial(clock, [1.5, 2.0, 1.75])]
    pooled = pool_trials(trials)["fw"]
    # all 8 rounds: 0.75, 1.0, 1.0, 1.25, 1.5, 1.5, 1.75, 2.0
    assert (pooled.ratio.median, pooled.ratio.q1, pooled.ratio.q3) == (1.375, 1.0, 1.5625)
    assert (pooled.ratio.min, pooled.ratio.max, pooled.ratio.count) == (0.75, 2.0, 8)
    assert pooled.overhead == 0.375
    assert pooled.trial_ratios == (1.25, 0.875, 1.75)  # each trial's median
    assert pooled.ratios == (1.0, 1.5, 1.25, 0.75, 1.0, 1.5, 2.0, 1.75)  # trial after trial
    assert pooled.rate.count == pooled.baseline_rate.count == 8 and pooled.baseline_rate.median == 1.0
    assert pooled.rate.median == pytest.approx((1 / 1.25 + 1 / 1.5) / 2)  # rates: 1 / seconds, each round
    assert (pooled.name, pooled.baseline, pooled.unit, pooled.cpu_ratio) == ("fw", "raw", "x", None)
    as_dict = pooled.to_dict()
    assert as_dict["trial_ratios"] == [1.25, 0.875, 1.75] and as_dict["ratio"]["median"] == 1.375
    assert json.loads(json.dumps(as_dict)) == as_dict


def test_pool_trials_pools_cpu_ratios(clock):
    cpu = {"seconds": 0.0}

    def cpu_clock():
        cpu["seconds"] += 1.0  # every reading one CPU second later: each call costs 1 CPU second
        return cpu["seconds"]

    pooled = pool_trials([trial(clock, [2.0], cpu_clock), trial(clock, [1.0, 3.0], cpu_clock)])["fw"]
    assert pooled.cpu_ratios == (1.0, 1.0, 1.0) and pooled.cpu_ratio.count == 3
    assert pooled.trial_ratios == (2.0, 2.0) and pooled.ratio.median == 2.0


def test_pool_trials_of_one_trial_is_that_trial(clock):
    one = trial(clock, [1.0, 1.5, 1.25])
    assert pool_trials([one]) == one


def test_pool_trials_rejects_no_trials_and_mismatched_trials(clock):
    with pytest.raises(ValueError, match="no trials"):
        pool_trials([])
    other = compare(("raw", clock.work("raw", 1.0, 1)), {"other": clock.work("other", 1.0, 1)}, "x",
                    repeats=1)
    with pytest.raises(ValueError, match="trial 2 compares"):
        pool_trials([trial(clock, [1.0]), other])
    other_baseline = compare(("bare", clock.work("bare", 1.0, 1)), {"fw": clock.work("fw", 1.0, 1)}, "x",
                             repeats=1)
    with pytest.raises(ValueError, match="different baseline"):
        pool_trials([trial(clock, [1.0]), other_baseline])
    with pytest.raises(ValueError, match="CPU ratios in some trials only"):
        pool_trials([trial(clock, [1.0]), trial(clock, [1.0], cpu_clock=lambda: 0.0)])
