"""Statistic helpers: quartiles, and paired rounds timed with a fake clock so every ratio is exact."""

import math

import pytest

from benchmarks import stats
from benchmarks.stats import compare, summarize


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
