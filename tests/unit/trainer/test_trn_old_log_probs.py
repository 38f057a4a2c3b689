"""`old_log_prob_pass`: the separate pass is skipped exactly when the update is one on-policy step."""

import pytest

from maxrl.config import compose_config
from maxrl.config.checks import ConfigError, check_types
from maxrl.trainer.old_log_probs import old_log_prob_pass
from maxrl.workers.batch_sizes import resolve_batch_sizes

ONE_STEP = ("data.train_batch_size=8", "actor_rollout_ref.actor.ppo_mini_batch_size=8", "actor_rollout_ref.rollout.n=4")


def decide(*overrides):
    config = compose_config(["actor_rollout_ref.model.path=unused", *ONE_STEP, *overrides])
    return old_log_prob_pass(config, resolve_batch_sizes(config, world_size=2))


def test_one_on_policy_step_skips_the_pass():
    needed, why = decide()
    assert not needed and "one optimizer step" in why


@pytest.mark.parametrize("override, reason", [
    ("actor_rollout_ref.actor.recompute_old_log_prob=always", "recompute_old_log_prob=always"),
    ("actor_rollout_ref.actor.ppo_epochs=2", "ppo_epochs=2"),
    ("actor_rollout_ref.actor.ppo_mini_batch_size=4", "2 mini-batches per step"),
    ("algorithm.use_kl_in_reward=true", "use_kl_in_reward"),
])
def test_anything_that_needs_the_old_log_probs_keeps_the_pass(override, reason):
    needed, why = decide(override)
    assert needed and reason in why


def test_an_unknown_mode_is_a_config_error():
    config = compose_config(["actor_rollout_ref.model.path=unused", "actor_rollout_ref.actor.recompute_old_log_prob=never"])
    problems = list(check_types(config))
    assert any("actor_rollout_ref.actor.recompute_old_log_prob" in problem and "always" in problem for problem in problems)
    assert issubclass(ConfigError, ValueError)
