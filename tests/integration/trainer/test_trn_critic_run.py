"""PPO with a critic (GAE) and ReMax through the whole stack on CPU: Ray, FSDP2 workers (gloo), HF rollout,
checkpoints and exact resume; the critic colocated with the actor and on its own pool give the same run."""

import pytest
from maze_runs import (
    EVEN_WORD_COUNT_SCORER,
    base_overrides,
    make_workspace,
    override_list,
    reproducible_by_step,
)

from maxrl.config import compose_config
from maxrl.trainer.main_ppo import run_ppo
from maxrl.trainer.tracking import read_metrics


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("trainer_critic"), EVEN_WORD_COUNT_SCORER, train_rows=8)


def overrides(workspace, run_dir, *extra):
    return override_list(
        *base_overrides(workspace, run_dir, response_length=8),
        "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.actor.optim.lr=1e-2",
        "actor_rollout_ref.rollout.n=2", "actor_rollout_ref.rollout.val_kwargs.n=2",
        "trainer.n_gpus_per_node=2", "trainer.save_freq=1",
        *extra,
    )


GAE = ("algorithm.adv_estimator=gae", "algorithm.lam=0.95", "critic.optim.lr=1e-2", "critic.ppo_mini_batch_size=4",
       "trainer.critic_warmup=1", "trainer.total_training_steps=3", "trainer.max_critic_ckpt_to_keep=2",
       "trainer.test_freq=2", "trainer.val_on_last_step=False")


@pytest.fixture(scope="module")
def gae_run(workspace, ray_cluster):
    run_dir = workspace / "gae"
    run_ppo(compose_config(overrides(workspace, run_dir, *GAE)))
    return run_dir


def test_gae_trains_the_critic_first_then_both(gae_run):
    rows = reproducible_by_step(gae_run)
    assert sorted(rows) == [0, 1, 2, 3]
    assert "val/maze_7/pass@1" in rows[2] and "val/maze_7/pass@1" not in rows[3]  # val_on_last_step=False
    assert "actor/pg_loss" not in rows[1] and "actor/pg_loss" in rows[2]  # critic_warmup=1
    for step in (1, 2, 3):
        assert rows[step]["critic/vf_loss"] > 0 and rows[step]["critic/grad_norm"] > 0
        assert "critic/values/mean" in rows[step] and "critic/vf_explained_var" in rows[step]
    assert rows[1]["critic/values/mean"] == 0.0  # the zero-initialised head
    assert rows[2]["critic/values/mean"] != 0.0


def test_gae_checkpoints_hold_the_newest_critics(gae_run):
    assert not (gae_run / "global_step_1" / "critic").exists()  # max_critic_ckpt_to_keep=2
    for step in (2, 3):
        assert (gae_run / f"global_step_{step}" / "critic" / "extra_state_rank1.json").is_file()
    assert (gae_run / "global_step_1" / "actor").is_dir()


def test_gae_resume_is_exact(gae_run, workspace):
    resumed = workspace / "gae_resumed"
    run_ppo(compose_config(overrides(workspace, resumed, *GAE, "trainer.resume_mode=resume_path",
                                     f"trainer.resume_from_path={gae_run / 'global_step_2'}")))
    assert reproducible_by_step(resumed)[3] == reproducible_by_step(gae_run)[3]


def test_a_critic_on_its_own_pool_trains_like_a_colocated_one(workspace, ray_cluster):
    one_rank = ("trainer.n_gpus_per_node=1", "trainer.total_training_steps=2", "trainer.save_freq=-1",
                "trainer.val_before_train=False", "trainer.test_freq=-1", "trainer.val_on_last_step=False")
    runs = {}
    for colocate in (True, False):
        runs[colocate] = workspace / f"pool_{colocate}"
        run_ppo(compose_config(overrides(workspace, runs[colocate], *GAE, *one_rank, f"critic.colocate={colocate}")))
    assert reproducible_by_step(runs[False]) == reproducible_by_step(runs[True])


@pytest.fixture(scope="module")
def remax_run(workspace, ray_cluster):
    run_dir = workspace / "remax"
    run_ppo(compose_config(overrides(workspace, run_dir, "algorithm.adv_estimator=remax",
                                     "trainer.total_training_steps=2", "trainer.val_before_train=False")))
    return run_dir


def test_remax_scores_a_greedy_baseline_and_resumes_exactly(remax_run, workspace):
    rows = reproducible_by_step(remax_run)
    assert sorted(rows) == [1, 2]
    assert all("timing_s/gen_max" in row for row in read_metrics(remax_run))
    assert rows[2]["actor/grad_norm"] > 0
    resumed = workspace / "remax_resumed"
    run_ppo(compose_config(overrides(workspace, resumed, "algorithm.adv_estimator=remax", "trainer.total_training_steps=2",
                                     "trainer.resume_mode=resume_path",
                                     f"trainer.resume_from_path={remax_run / 'global_step_1'}")))
    assert reproducible_by_step(resumed)[2] == rows[2]

