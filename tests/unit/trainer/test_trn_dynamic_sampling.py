"""Dynamic sampling and the zero-signal census (`maxrl.trainer.dynamic_sampling`) on hand-made rounds: which
groups are kept, the deterministic trim, incomplete groups, the round limit, the filter metrics; DAPO's
overlong penalty. (Their config checks: test_trn_checks.py; a later round in the async pipeline:
test_trn_async_pipeline.py.)"""

import numpy as np
import pytest
import torch

from maxrl.data.batch import Batch
from maxrl.rewards.overlong import OverlongBuffer
from maxrl.trainer.dynamic_sampling import FilterGroups, GroupCollector, Round, all_generated, metric_values
from maxrl.trainer.scoring import Scored, with_overlong_penalty

N = 4


def make_round(round_index, group_scores, extras=None):
    """A scored round: one group per entry of `group_scores` (a list of per-sample scores), uids ``r<round>-<g>``."""
    uids = [f"r{round_index}-{g}" for g in range(len(group_scores))]
    rows = [(uid, score) for uid, scores in zip(uids, group_scores) for score in scores]
    scores = np.array([score for _, score in rows], dtype=np.float64)
    token_level_scores = torch.tensor(scores, dtype=torch.float32).unsqueeze(-1)
    samples = Batch({"token_level_scores": token_level_scores, "row": torch.arange(len(rows))},
                    {"uid": np.array([uid for uid, _ in rows], dtype=object)}, {"rollout/round": round_index})
    prompts = Batch({"p": torch.arange(len(uids))}, {"uid": np.array(uids, dtype=object)})
    scored = Scored(scores, extras or {}, {"reward/error_count": 1.0}, [""] * len(rows), token_level_scores)
    return Round(prompts, samples, scored)


FAIL, PASS, MIXED = [0.0] * N, [1.0] * N, [1.0, 0.0, 0.0, 1.0]


def collect(rounds, enable=True, train_batch_size=2, limit=0, metric="acc"):
    collector = GroupCollector(FilterGroups(enable, metric, limit), N, train_batch_size)
    drawn = []

    def draw(r):
        drawn.append(r)
        return rounds[r]

    result = collector.collect(draw)
    return drawn, result


def test_without_filtering_one_round_is_kept_whole_and_counted():
    round_ = make_round(0, [FAIL, PASS, MIXED, FAIL])
    drawn, (rounds, prompts, samples, census) = collect([round_], enable=False, train_batch_size=4)
    assert drawn == [0] and samples is round_.samples and prompts is round_.prompts
    metrics = census.metrics()
    assert metrics["batch/groups_all_fail_frac"] == 0.5
    assert metrics["batch/groups_all_pass_frac"] == metrics["batch/groups_mixed_frac"] == 0.25
    assert metrics["batch/gen_rounds"] == metrics["train/num_gen_batches"] == 1
    assert metrics["batch/samples_per_kept_group"] == N and metrics["batch/groups_kept"] == 4


def test_filtering_draws_rounds_until_full_and_trims_the_surplus_in_order():
    rounds = [make_round(0, [FAIL, MIXED, PASS]), make_round(1, [FAIL, FAIL]), make_round(2, [MIXED, PASS, MIXED])]
    drawn, (_, prompts, samples, census) = collect(rounds, train_batch_size=2)
    assert drawn == [0, 1, 2]
    assert list(prompts["uid"]) == ["r0-1", "r2-0"]  # r2-2 has signal too: the surplus, trimmed
    assert list(samples["uid"]) == ["r0-1"] * N + ["r2-0"] * N
    assert samples["row"].tolist() == [4, 5, 6, 7, 0, 1, 2, 3]
    assert samples.meta == {"rollout/round": 0}
    metrics = census.metrics()
    assert metrics["batch/groups_generated"] == 8 and metrics["batch/groups_kept"] == 2
    assert metrics["batch/groups_all_fail_frac"] == 3 / 8 and metrics["batch/groups_mixed_frac"] == 3 / 8
    assert metrics["batch/groups_zero_spread"] == 5
    assert metrics["batch/samples_per_kept_group"] == 8 * N / 2 and metrics["batch/gen_rounds"] == 3


def test_every_generated_sample_goes_to_the_reward_metrics():
    rounds = [make_round(0, [FAIL, MIXED]), make_round(1, [MIXED])]
    _, (kept_rounds, *_) = collect(rounds, train_batch_size=2)
    samples, scored = all_generated(kept_rounds)
    assert len(samples) == len(scored.scores) == len(scored.responses) == 3 * N
    assert scored.metrics == {"reward/error_count": 2.0}
    assert list(samples["uid"][::N]) == ["r0-0", "r0-1", "r1-0"]


def test_an_incomplete_group_is_dropped_and_counted_never_trained():
    short, lost = [1.0, 0.0, 1.0], []  # one sample lost; every sample lost
    rounds = [make_round(0, [short, lost, MIXED]), make_round(1, [MIXED])]
    _, (_, prompts, _, census) = collect(rounds, train_batch_size=2)
    assert list(prompts["uid"]) == ["r0-2", "r1-0"]
    assert census.metrics()["batch/groups_incomplete"] == 2
    assert census.metrics()["batch/groups_incomplete_frac"] == 2 / 4
    assert census.metrics()["batch/groups_mixed_frac"] == 2 / 4


def test_the_round_limit_stops_the_run_naming_the_key_the_kept_count_and_the_fractions():
    rounds = [make_round(0, [FAIL, MIXED]), make_round(1, [PASS, FAIL])]
    with pytest.raises(RuntimeError) as raised:
        collect(rounds, train_batch_size=3, limit=2)
    message = str(raised.value)
    assert "algorithm.filter_groups.max_num_gen_batches=2 reached with 1 of data.train_batch_size=3" in message
    assert "4 groups generated in 2 rounds: all-fail 50%, all-pass 25%, mixed 25%" in message


def test_no_limit_keeps_drawing():
    rounds = [make_round(r, [FAIL]) for r in range(5)] + [make_round(5, [MIXED])]
    drawn, _ = collect(rounds, train_batch_size=1, limit=0)
    assert drawn == list(range(6))


def test_filter_metrics():
    round_ = make_round(0, [[0.2, 0.2, 0.2, 0.2], [0.9, 0.6, 0.6, 0.6]], extras={"steps": np.array([3, 3, 3, 4] * 2),
                                                                            "pred": np.array(["a"] * 8)})
    assert metric_values("acc", round_.scored, round_.samples).tolist() == [0] * 4 + [1] * 4
    assert metric_values("score", round_.scored, round_.samples)[4] == 0.9
    seq_reward = metric_values("seq_reward", round_.scored, round_.samples)
    assert seq_reward[0] == pytest.approx(0.2)
    assert metric_values("steps", round_.scored, round_.samples).tolist() == [3, 3, 3, 4] * 2
    with pytest.raises(ValueError, match=r"metric='pred' is neither .* \(it returns \['steps'\]\)"):
        metric_values("pred", round_.scored, round_.samples)
    # acc: both groups have zero spread (all fail, all succeed); score: the second varies
    _, (_, prompts, _, _) = collect([round_, make_round(1, [MIXED])], train_batch_size=1, metric="acc")
    assert list(prompts["uid"]) == ["r1-0"]
    _, (_, prompts, _, _) = collect([round_], train_batch_size=1, metric="score")
    assert list(prompts["uid"]) == ["r0-1"]


def test_overlong_penalty_is_linear_over_the_last_len_tokens():
    shaping = OverlongBuffer(buffer_len=4, penalty_factor=0.5, max_response_length=12)
    assert shaping.penalty(np.array([0, 8, 9, 10, 12])).tolist() == [0.0, 0.0, -0.125, -0.25, -0.5]


def test_the_overlong_penalty_goes_on_the_last_generated_token():
    response_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    batch = Batch({"responses": torch.zeros(2, 4, dtype=torch.long), "response_mask": response_mask,
                   "attention_mask": torch.cat([torch.ones(2, 1, dtype=torch.long), response_mask], dim=1)})
    token_level_scores = torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0]])
    scored = Scored(np.array([1.0, 1.0]), {}, {}, ["", ""], token_level_scores)
    shaped = with_overlong_penalty(batch, scored, OverlongBuffer(2, 1.0, 4))
    assert shaped.token_level_scores.tolist() == [[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
    assert shaped.extras["overlong_penalty"].tolist() == [-1.0, 0.0]
    assert shaped.scores.tolist() == [1.0, 1.0]  # the scorer's verdict (and so the success) is unchanged
