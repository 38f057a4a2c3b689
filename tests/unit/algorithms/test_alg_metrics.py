"""pass@k against brute-force enumeration and exact rationals; bootstrap metrics; scaling efficiency."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

import maxrl.algorithms as alg
from maxrl.algorithms import best_worst_at_k, maj_at_k, pass_at_k


def brute_force_pass_at_k(n, c, k):
    """Share of k-subsets of n samples (the first c correct) holding at least one correct sample."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


def test_pass_at_k_equals_subset_enumeration():
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                expected = brute_force_pass_at_k(n, c, k)
                assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-13, abs=1e-15)


def test_pass_at_k_is_vectorised_over_problems_with_different_n():
    n = np.array([8, 8, 5, 6, 7])
    c = np.array([0, 3, 5, 1, 2])
    out = pass_at_k(n, c, 3)
    assert out.shape == (5,)
    np.testing.assert_allclose(out, [brute_force_pass_at_k(a, b, 3) for a, b in zip(n, c)], rtol=1e-13)


@pytest.mark.parametrize("k", [1, 2, 64, 1024, 4000, 4096])
def test_pass_at_k_is_stable_for_n_4096(k):
    n = 4096
    cs = np.array([0, 1, 2, 7, 100, 2048, 4000, 4095, 4096])
    out = pass_at_k(n, cs, k)
    exact = [float(1 - Fraction(math.comb(n - c, k), math.comb(n, k))) for c in cs]
    np.testing.assert_allclose(out, exact, rtol=1e-12, atol=1e-300)
    assert np.all(np.diff(out) >= 0)  # more correct samples never lower pass@k


def test_pass_at_k_errors():
    with pytest.raises(ValueError, match="k=9 exceeds"):
        pass_at_k(8, 2, 9)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(8, 9, 1)
    with pytest.raises(ValueError, match="integer counts"):
        pass_at_k(8.0, 2, 1)


def test_best_worst_at_k():
    certain = best_worst_at_k(np.ones(6), 4)
    assert (certain.best_mean, certain.best_std, certain.worst_mean) == (1.0, 0.0, 1.0)
    # values [0, 1], k = 2: best = 1 unless both draws are 0 (prob 1/4); worst = 0 unless both are 1.
    coin = best_worst_at_k([0.0, 1.0], 2, n_bootstrap=40_000, seed=3)
    assert coin.best_mean == pytest.approx(0.75, abs=0.01)
    assert coin.worst_mean == pytest.approx(0.25, abs=0.01)
    assert coin.best_std == pytest.approx(math.sqrt(0.75 * 0.25), abs=0.01)
    # seeded: identical draws; vectorised over problems (rows share the draws)
    batch = best_worst_at_k([[0.0, 1.0], [1.0, 0.0]], 2, n_bootstrap=40_000, seed=3)
    assert batch.best_mean[0] == coin.best_mean and batch.best_mean.shape == (2,)


def test_maj_at_k():
    assert maj_at_k(["x"] * 5, [1.0] * 5, 3) == (1.0, 0.0)
    # ["B", "A"] scored [0, 1], k = 2: BB -> 0, AA -> 1, AB/BA tie -> "B" (first seen) -> 0: mean 1/4.
    mean, _ = maj_at_k(["B", "A"], [0.0, 1.0], 2, n_bootstrap=40_000, seed=0)
    assert mean == pytest.approx(0.25, abs=0.01)
    # a clear majority wins whatever the draw when k = n is large
    mean, std = maj_at_k(["a"] * 9 + ["b"], [1.0] * 9 + [0.0], 10, n_bootstrap=2000)
    assert mean > 0.99
    with pytest.raises(ValueError, match="2 answers but 3 scores"):
        maj_at_k(["a", "b"], [1, 0, 1], 1)


KS = [1, 2, 4, 8]


def test_efficiency_interpolates_in_log2_k():
    # B's pass@8 = 0.4; A passes 0.3 at k=2 and 0.5 at k=4 -> log2 k* = 1.5, k* = 2^1.5, ratio 8/2^1.5.
    result = alg.test_time_scaling_efficiency(KS, [0.1, 0.3, 0.5, 0.7], KS, [0.05, 0.1, 0.2, 0.4])
    assert result.reached and result.k_star == pytest.approx(2**1.5)
    assert result.ratio == pytest.approx(8 / 2**1.5)
    assert (result.k_max, result.target) == (8.0, 0.4)


def test_efficiency_exact_hit_and_unsorted_input():
    result = alg.test_time_scaling_efficiency([8, 1, 4, 2], [0.7, 0.1, 0.5, 0.3], KS, [0.05, 0.1, 0.2, 0.5])
    assert result.k_star == pytest.approx(4.0) and result.ratio == pytest.approx(2.0)


def test_efficiency_when_a_never_reaches_b():
    result = alg.test_time_scaling_efficiency(KS, [0.1, 0.3, 0.5, 0.7], KS, [0.2, 0.5, 0.8, 0.9])
    assert not result.reached and result.ratio is None and result.k_star is None
    assert "stays below" in result.reason


def test_efficiency_when_a_starts_above_the_target():
    result = alg.test_time_scaling_efficiency(KS, [0.6, 0.7, 0.8, 0.9], [1, 16], [0.1, 0.5])
    assert result.reached and result.ratio == 16.0 and "lower bound" in result.reason


def test_efficiency_validates_curves():
    with pytest.raises(ValueError, match="equal"):
        alg.test_time_scaling_efficiency([1, 2], [0.1], KS, [0.1] * 4)
    with pytest.raises(ValueError, match="positive"):
        alg.test_time_scaling_efficiency([0, 2], [0.1, 0.2], KS, [0.1] * 4)
