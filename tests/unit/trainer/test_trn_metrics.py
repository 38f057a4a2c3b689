"""Training metrics with golden values: data metrics, pass-rate bins, sampler/trainer mismatch, timing,
throughput, and the token balancing of `trainer.balance_batch`."""

import math

import numpy as np
import pytest
import torch

from maxrl.trainer.balance import balanced_layout, balanced_partition, tokens_per_rank
from maxrl.trainer.metrics import (
    balance_metrics,
    compute_data_metrics,
    group_pass_rates,
    pass_rate_bins,
    pass_rate_metrics,
    rollout_mismatch_metrics,
    throughput_metrics,
    timing_metrics,
)
from maxrl.workers.batch_sizes import update_order


def test_data_metrics_golden():
    response_mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    prompt_mask = torch.tensor([[0, 1], [1, 1]])  # left-padded prompts of 1 and 2 tokens
    batch = {
        "prompts": torch.zeros(2, 2, dtype=torch.long),
        "attention_mask": torch.cat([prompt_mask, response_mask], dim=1),
        "response_mask": response_mask,
        "token_level_scores": torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
        "token_level_rewards": torch.tensor([[0.0, 0.9, 0.0], [0.0, 0.0, -0.1]]),
        "advantages": torch.tensor([[1.0, 1.0, 7.0], [-1.0, -1.0, -1.0]]),
        "returns": torch.tensor([[1.0, 1.0, 7.0], [-1.0, -1.0, -1.0]]),
    }
    metrics = compute_data_metrics(batch, max_response_length=3)
    assert metrics["critic/score/mean"] == 0.5 and metrics["critic/score/max"] == 1.0 and metrics["critic/score/min"] == 0.0
    assert metrics["critic/rewards/mean"] == pytest.approx(0.4)
    assert metrics["critic/advantages/mean"] == pytest.approx(-0.2)  # (1 + 1 - 3) / 5: the masked 7 is ignored
    assert metrics["critic/advantages/max"] == 1.0
    assert (metrics["response_length/mean"], metrics["response_length/max"], metrics["response_length/min"]) == (2.5, 3.0, 2.0)
    assert metrics["response_length/clip_ratio"] == 0.5
    assert (metrics["prompt_length/mean"], metrics["prompt_length/clip_ratio"]) == (1.5, 0.5)


def test_pass_rate_bins_match_the_paper():
    labels = [label for label, _, _ in pass_rate_bins()]
    assert labels[:3] == ["[0.0, 0.0]", "(0.0, 0.0009765625]", "(0.0009765625, 0.001953125]"]
    assert labels[-3:] == ["(0.25, 0.5]", "(0.5, 1.0)", "[1.0, 1.0]"]
    assert len(labels) == 13


def _rates_to_metrics(rates_per_prompt, n):
    group_ids, success = [], []
    for prompt, rate in enumerate(rates_per_prompt):
        correct = round(rate * n)
        group_ids += [f"p{prompt}"] * n
        success += [1] * correct + [0] * (n - correct)
    return pass_rate_metrics(group_ids, ["ds"] * len(group_ids), np.array(success, dtype=float), "train")


def test_pass_rate_bin_edges():
    metrics = _rates_to_metrics([0.0, 1 / 1024, 2 / 1024, 0.5, 0.75, 1.0], n=1024)
    prefix = "train_all_datasets_binning/fraction_of_prompts_in_"
    for label, expected in [
        ("[0.0, 0.0]", 1 / 6),
        ("(0.0, 0.0009765625]", 1 / 6),  # 2^-10 is the closed right edge
        ("(0.0009765625, 0.001953125]", 1 / 6),
        ("(0.25, 0.5]", 1 / 6),
        ("(0.5, 1.0)", 1 / 6),
        ("[1.0, 1.0]", 1 / 6),
        ("(0.125, 0.25]", 0.0),
    ]:
        assert metrics[prefix + label] == pytest.approx(expected), label
    assert metrics["train_pass_rate/fraction_zero"] == pytest.approx(1 / 6)
    assert metrics["train_pass_rate/fraction_mixed"] == pytest.approx(4 / 6)
    assert metrics["train_pass_rate/fraction_one"] == pytest.approx(1 / 6)
    assert metrics["train_binning_for_dataset_ds/fraction_of_prompts_in_[1.0, 1.0]"] == pytest.approx(1 / 6)


def test_group_pass_rates_group_by_id_not_position():
    ids, totals, correct = group_pass_rates(["b", "a", "b", "a", "b"], np.array([1, 0, 0, 0, 1]))
    assert ids.tolist() == ["b", "a"] and totals.tolist() == [3, 2] and correct.tolist() == [2, 0]


def test_rollout_mismatch_golden():
    rollout = torch.log(torch.tensor([[0.5, 0.25, 0.9]]))
    trainer = torch.log(torch.tensor([[0.4, 0.25, 0.1]]))
    metrics = rollout_mismatch_metrics(rollout, trainer, torch.tensor([[1, 1, 0]]))
    assert metrics["training/rollout_probs_diff_mean"] == pytest.approx(0.05)
    assert metrics["training/rollout_probs_diff_max"] == pytest.approx(0.1)
    assert metrics["training/rollout_probs_diff_std"] == pytest.approx(0.05)
    assert metrics["training/rollout_log_probs_diff_max"] == pytest.approx(math.log(0.5 / 0.4))
    assert metrics["training/rollout_actor_kl"] == pytest.approx(math.log(0.5 / 0.4) / 2)


def test_timing_and_throughput():
    timings = {"step": 2.0, "gen": 1.0, "update_actor": 0.5}
    metrics = timing_metrics(timings, num_response_tokens=100, num_tokens=250)
    assert metrics["timing_s/gen"] == 1.0 and metrics["timing_per_token_ms/gen"] == 10.0
    assert metrics["timing_per_token_ms/update_actor"] == 2.0 and "timing_per_token_ms/step" not in metrics
    perf = throughput_metrics(2.0, 1.0, num_response_tokens=100, num_tokens=250, num_devices=2)
    assert perf == {"perf/total_num_tokens": 250.0, "perf/time_per_step": 2.0, "perf/throughput": 62.5, "perf/gen_tokens_per_s": 100.0}


def test_balanced_partition_is_a_fair_equal_count_split():
    lengths = [10, 1, 9, 2, 8, 3, 7, 4]
    groups = balanced_partition(lengths, 2)
    assert sorted(i for g in groups for i in g) == list(range(8))
    assert [len(g) for g in groups] == [4, 4]
    assert sorted(sum(lengths[i] for i in g) for g in groups) == [22, 22]


def test_balanced_layout_keeps_each_mini_batch_together():
    lengths = np.array([50, 40, 1, 1, 9, 9, 9, 9])  # two mini-batches of 4, two ranks
    order = balanced_layout(lengths, mini_batch_samples=4, num_ranks=2)
    assert sorted(order[:4].tolist()) == [0, 1, 2, 3] and sorted(order[4:].tolist()) == [4, 5, 6, 7]
    # The update phase hands rank r slice r of every mini-batch (update_order). Unbalanced, rank 0 gets
    # both long samples; balanced, each rank gets one long and one short sample.
    to_ranks = update_order(8, mini_batch_samples=4, world_size=2).numpy()
    assert tokens_per_rank(lengths[to_ranks], 2) == [90 + 18, 2 + 18]
    assert tokens_per_rank(lengths[order[to_ranks]], 2) == [51 + 18, 41 + 18]


def test_balance_metrics():
    metrics = balance_metrics([30, 10], [21, 19])
    assert metrics == {
        "global_seqlen/min": 10.0, "global_seqlen/max": 30.0, "global_seqlen/minmax_diff": 20.0,
        "global_seqlen/balanced_min": 19.0, "global_seqlen/balanced_max": 21.0, "global_seqlen/mean": 20.0,
    }
