"""Evaluation math: unbiased pass@k, bootstrap best@k / worst@k / maj@k, test-time-scaling efficiency."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np


def pass_at_k(n, c, k: int):
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k)/C(n, k) (Chen et al., 2021).

    Vectorised over problems (`n`, `c` broadcast). Computed as 1 - Π_{i=n-c+1}^{n} (1 - k/i) through a
    cumulative sum of log1p terms starting at i = n, which stays accurate for n in the thousands.
    """
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n), np.asarray(c))
    if not (np.issubdtype(n_arr.dtype, np.integer) and np.issubdtype(c_arr.dtype, np.integer)):
        raise ValueError("pass_at_k: n and c must be integer counts")
    if int(k) != k or k < 1:
        raise ValueError(f"pass_at_k: k must be an integer >= 1, got {k!r}")
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("pass_at_k: need 0 <= c <= n for every problem")
    if np.any(n_arr < k):
        raise ValueError(f"pass_at_k: k={k} exceeds the number of samples n={int(n_arr.min())} "
                         "of some problem")
    result = np.ones(n_arr.shape, dtype=np.float64)
    some_fail = n_arr - c_arr >= k  # otherwise every k-subset holds a correct sample: pass@k = 1
    for n_value in np.unique(n_arr[some_fail]):
        rows = some_fail & (n_arr == n_value)
        i = np.arange(n_value, k, -1, dtype=np.float64)  # n, n-1, ..., k+1 (c <= n - k terms are used)
        log_fail = np.concatenate([[0.0], np.cumsum(np.log1p(-k / i))])
        result[rows] = -np.expm1(log_fail[c_arr[rows]])
    return float(result) if result.ndim == 0 else result


def _bootstrap_indices(n: int, k: int, n_bootstrap: int, seed: int) -> np.ndarray:
    if not 1 <= k <= n:
        raise ValueError(f"bootstrap needs 1 <= k <= n, got k={k}, n={n}")
    return np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, k))


@dataclass(frozen=True)
class BestWorst:
    best_mean: np.ndarray
    best_std: np.ndarray
    worst_mean: np.ndarray
    worst_std: np.ndarray


def best_worst_at_k(values, k: int, n_bootstrap: int = 1000, seed: int = 42) -> BestWorst:
    """Bootstrap best@k / worst@k: draw k of the n values with replacement, take the max / min, and report
    mean and std over draws. `values` is [..., n] (problems share the draws). This is the plug-in
    1-(1-p̂)^k for binary values, biased low against `pass_at_k`; it exists for verl's metric names."""
    values = np.asarray(values, dtype=np.float64)
    draws = values[..., _bootstrap_indices(values.shape[-1], k, n_bootstrap, seed)]  # [..., n_bootstrap, k]
    best, worst = draws.max(-1), draws.min(-1)
    return BestWorst(best.mean(-1), best.std(-1), worst.mean(-1), worst.std(-1))


def maj_at_k(answers: Sequence[Hashable], scores, k: int, n_bootstrap: int = 1000,
             seed: int = 42) -> tuple[float, float]:
    """Bootstrap majority vote for one problem: draw k responses with replacement, take the most frequent
    answer and score it; return mean and std over draws. Each answer is scored by its first response;
    ties go to the answer that appears first in `answers`."""
    scores = np.asarray(scores, dtype=np.float64)
    if len(answers) != len(scores):
        raise ValueError(f"maj_at_k: {len(answers)} answers but {len(scores)} scores")
    first_seen: dict[Hashable, int] = {}
    codes = np.array([first_seen.setdefault(a, len(first_seen)) for a in answers])
    answer_score = scores[np.unique(codes, return_index=True)[1]]
    drawn = codes[_bootstrap_indices(len(codes), k, n_bootstrap, seed)]  # [n_bootstrap, k]
    votes = np.zeros((n_bootstrap, len(first_seen)), dtype=np.int64)
    np.add.at(votes, (np.arange(n_bootstrap)[:, None], drawn), 1)
    majority_score = answer_score[votes.argmax(-1)]
    return float(majority_score.mean()), float(majority_score.std())


@dataclass(frozen=True)
class ScalingEfficiency:
    """How many times fewer samples curve A needs to match curve B's pass@k at B's largest k."""

    reached: bool
    ratio: float | None  # k_max / k_star, None when A never reaches the target
    k_star: float | None  # (interpolated) k at which A first reaches the target
    k_max: float  # B's largest k
    target: float  # B's pass@k_max
    reason: str


def _sorted_curve(ks, passes, name: str) -> tuple[np.ndarray, np.ndarray]:
    ks, passes = np.asarray(ks, dtype=np.float64), np.asarray(passes, dtype=np.float64)
    if ks.ndim != 1 or ks.shape != passes.shape or ks.size == 0:
        raise ValueError(f"curve {name}: ks and pass values must be 1-D and of equal, non-zero length")
    if np.any(ks <= 0):
        raise ValueError(f"curve {name}: every k must be positive")
    order = np.argsort(ks)
    return ks[order], passes[order]


def test_time_scaling_efficiency(ks_a, pass_a, ks_b, pass_b) -> ScalingEfficiency:
    """k_max / k*, where k_max is B's largest k and k* the first k at which A's pass@k reaches
    B's pass@k_max, interpolating A linearly in log2 k between its evaluated points."""
    ks_a, pass_a = _sorted_curve(ks_a, pass_a, "A")
    ks_b, pass_b = _sorted_curve(ks_b, pass_b, "B")
    k_max, target = float(ks_b[-1]), float(pass_b[-1])
    reached = np.nonzero(pass_a >= target)[0]
    if reached.size == 0:
        return ScalingEfficiency(False, None, None, k_max, target,
                                 f"A's best pass@k ({pass_a.max():.4g}) stays below B's pass@{k_max:g} "
                                 f"({target:.4g}) for every evaluated k up to {ks_a[-1]:g}")
    j = int(reached[0])
    if j == 0:
        k_star = float(ks_a[0])
        reason = f"A already reaches the target at its smallest k={k_star:g}: the ratio is a lower bound"
    else:
        x0, x1 = np.log2(ks_a[j - 1]), np.log2(ks_a[j])
        y0, y1 = pass_a[j - 1], pass_a[j]
        k_star = float(2.0 ** (x0 + (target - y0) / (y1 - y0) * (x1 - x0)))
        reason = f"interpolated in log2 k between k={ks_a[j - 1]:g} and k={ks_a[j]:g}"
    return ScalingEfficiency(True, k_max / k_star, k_star, k_max, target, reason)


# The paper's name starts with "test": keep pytest from collecting it where it is imported.
test_time_scaling_efficiency.__test__ = False
