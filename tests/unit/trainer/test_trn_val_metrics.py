"""Validation metrics: unbiased pass@k against brute force, verl's names, maj@k only with `pred`, counts files."""

from itertools import combinations

import numpy as np
import pytest

from maxrl.trainer.val_metrics import pass_at_k_curve, read_counts, validation_metrics, write_counts


def brute_force_pass_at_k(outcomes, k):
    """The fraction of k-subsets of a prompt's samples that hold at least one success."""
    subsets = list(combinations(outcomes, k))
    return sum(any(s) for s in subsets) / len(subsets)


@pytest.fixture
def two_sources():
    # maze: prompt a has 1/4 successes, prompt b 0/4; gsm: c 2/2, d 1/2. Rows deliberately interleaved.
    rows = [("maze", "a", 1), ("gsm", "c", 1), ("maze", "b", 0), ("maze", "a", 0), ("gsm", "d", 0),
            ("maze", "a", 0), ("maze", "b", 0), ("gsm", "c", 1), ("maze", "a", 0), ("maze", "b", 0),
            ("gsm", "d", 1), ("maze", "b", 0)]
    sources, uids, scores = (np.array(column, dtype=object) for column in zip(*rows))
    return sources, uids, scores.astype(float)


def test_unbiased_pass_at_k_per_source(two_sources):
    sources, uids, scores = two_sources
    metrics, counts = validation_metrics(sources, uids, scores, {}, ks=[1, 2, 4])
    assert metrics["val/maze/pass@1"] == pytest.approx((0.25 + 0) / 2)
    assert metrics["val/maze/pass@2"] == pytest.approx((brute_force_pass_at_k([1, 0, 0, 0], 2) + 0) / 2)
    assert metrics["val/maze/pass@4"] == pytest.approx(0.5)
    assert metrics["val/gsm/pass@2"] == pytest.approx(1.0)
    assert "val/gsm/pass@4" not in metrics  # k > n is not reported
    assert metrics["val/maze/mean@4"] == pytest.approx(0.125) and metrics["val/gsm/mean@2"] == pytest.approx(0.75)
    assert metrics["val/maze/num_prompts"] == 2
    assert counts == {
        "gsm": {"prompt": ["c", "d"], "num_samples": [2, 2], "num_correct": [2, 1]},
        "maze": {"prompt": ["a", "b"], "num_samples": [4, 4], "num_correct": [1, 0]},
    }


def test_verl_names(two_sources):
    sources, uids, scores = two_sources
    metrics, _ = validation_metrics(sources, uids, scores, {"optimal": scores * 0}, ks=[1, 2, 4])
    assert metrics["val-core/maze/reward/mean@4"] == pytest.approx(0.125)
    assert "val-core/maze/reward/best@4/mean" in metrics and "val-aux/maze/reward/best@2/mean" in metrics
    assert metrics["val-core/gsm/reward/best@2/mean"] <= 1.0
    assert metrics["val-aux/maze/optimal/mean@4"] == 0.0
    assert not any("maj@" in key for key in metrics)  # no `pred` from the scorer, no majority vote
    assert metrics["validation_all_datasets_binning/fraction_of_prompts_in_[0.0, 0.0]"] == pytest.approx(0.25)


def test_bootstrap_best_at_k_is_biased_low_against_unbiased_pass_at_k():
    # One prompt with 1 success in 8: unbiased pass@8 = 1, bootstrap best@8 = 1 - (7/8)^8 ~ 0.656.
    metrics, _ = validation_metrics(["s"] * 8, ["p"] * 8, np.array([1.0] + [0.0] * 7), {}, ks=[8])
    assert metrics["val/s/pass@8"] == 1.0
    assert metrics["val-core/s/reward/best@8/mean"] == pytest.approx(1 - (7 / 8) ** 8, abs=0.05)


def test_acc_is_the_core_variable_and_pred_enables_majority_vote():
    extras = {"acc": np.array([1, 1, 0, 0]), "pred": np.array(["4", "4", "5", "6"], dtype=object)}
    metrics, counts = validation_metrics(["m"] * 4, ["p"] * 4, np.array([0.9, 0.9, 0.1, 0.1]), extras, ks=[1, 2, 4])
    assert metrics["val-core/m/acc/mean@4"] == 0.5 and metrics["val-aux/m/reward/mean@4"] == pytest.approx(0.5)
    assert counts["m"]["num_correct"] == [2]
    assert "val-core/m/acc/maj@4/mean" in metrics and metrics["val-core/m/acc/maj@4/mean"] > 0.5


def test_unequal_samples_per_prompt_is_an_error():
    with pytest.raises(ValueError, match="between 1 and 2 samples"):
        validation_metrics(["m"] * 3, ["a", "a", "b"], np.zeros(3), {}, ks=[1])


def test_counts_files_round_trip_and_give_any_k(tmp_path):
    counts = {"maze": {"prompt": ["a", "b"], "num_samples": [8, 8], "num_correct": [1, 0]}}
    write_counts(tmp_path, 10, counts)
    write_counts(tmp_path, 0, counts)
    assert [step for step, _ in read_counts(tmp_path)] == [0, 10]
    ks, values = pass_at_k_curve(read_counts(tmp_path)[1][1]["maze"])
    assert ks == [1, 2, 4, 8]
    assert values == pytest.approx([brute_force_pass_at_k([1] + [0] * 7, k) / 2 for k in ks])
    assert pass_at_k_curve(counts["maze"], ks=[3, 16])[0] == [3]
