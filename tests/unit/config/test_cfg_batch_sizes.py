"""The mini-batch arithmetic of the config checks (maxrl.config.batch_sizes), without torch or the workers."""

from maxrl.config import compose_config
from maxrl.config.batch_sizes import mini_batch_problem, working_mini_batches
from maxrl.config.checks import check_batch_sizes


def test_a_working_mini_batch_has_no_problem():
    assert mini_batch_problem("actor_rollout_ref.actor.ppo_mini_batch_size", 2, 8, 4, 2) is None


def test_a_mini_batch_that_does_not_divide_names_values_that_work():
    assert mini_batch_problem("k", 3, 8, 4, 2) == "k=3 does not divide data.train_batch_size=8; values that work: [1, 2, 4, 8]"


def test_when_no_mini_batch_splits_over_the_ranks_the_fix_is_the_batch_or_the_ranks():
    assert working_mini_batches(4, 1, 8) == []
    assert mini_batch_problem("k", 4, 4, 1, 8) == (
        "k=4 times actor_rollout_ref.rollout.n=1 gives 4 samples, not divisible by 8 ranks; no value works with 8 "
        "ranks; change data.train_batch_size or the number of ranks"
    )


def test_the_critic_is_checked_only_when_the_estimator_trains_one():
    bad_critic = ["critic.ppo_mini_batch_size=3", "critic.rollout_n=3"]
    assert list(check_batch_sizes(compose_config(bad_critic))) == []
    assert list(check_batch_sizes(compose_config(["algorithm.adv_estimator=gae", *bad_critic]))) == [
        "critic.rollout_n=3 must equal actor_rollout_ref.rollout.n=8; leave it at its default "
        "${actor_rollout_ref.rollout.n}",
        "critic.ppo_mini_batch_size=3 does not divide data.train_batch_size=1024; values that work: "
        "[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]",
    ]
