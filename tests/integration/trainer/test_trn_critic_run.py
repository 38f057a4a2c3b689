"""PPO with a critic (GAE) and ReMax through the whole stack on CPU: Ray, FSDP2 workers (gloo), HF rollout,
checkpoints and exact resume; the critic colocated with the actor and on its own pool give the same run."""

import pandas as pd
import pytest

from maxrl.config import compose_config
from maxrl.tasks.maze import build_tokenizer
from maxrl.tasks.maze.make_data import main as make_maze_data
from maxrl.trainer.main_ppo import run_ppo
from maxrl.trainer.tracking import read_metrics
from maxrl.utils.tiny_models import build_tiny_causal_lm

SCORER = '''
def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    return float(len(solution_str.split()) % 2 == 0)  # about half the samples of an untrained model
'''

NOT_REPRODUCIBLE = ("timing_s/", "timing_per_token_ms/", "perf/throughput", "perf/time_per_step", "perf/gen_tokens_per_s")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer_critic")
    make_maze_data(["--output-dir", str(root / "data"), "--size", "7", "--num-mazes", "40", "--test-size", "4",
                    "--formats", "parquet", "--no-progress"])
    train = root / "data" / "train.parquet"
    pd.read_parquet(train).head(8).to_parquet(train)
    tokenizer = build_tokenizer(save_dir=root / "model")
    build_tiny_causal_lm(len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         save_dir=root / "model")
    (root / "scorer.py").write_text(SCORER)
    return root


def overrides(workspace, run_dir, *extra):
    return [
        f"data.train_files={workspace / 'data' / 'train.parquet'}",
        f"data.val_files={workspace / 'data' / 'test.parquet'}",
        "data.train_batch_size=4", "data.max_prompt_length=64", "data.max_response_length=8",
        "data.apply_chat_template=False",
        f"actor_rollout_ref.model.path={workspace / 'model'}",
        "actor_rollout_ref.actor.dtype=fp32", "actor_rollout_ref.rollout.dtype=fp32",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.actor.optim.lr=1e-2",
        "actor_rollout_ref.rollout.n=2",
        "actor_rollout_ref.rollout.val_kwargs.n=2", "actor_rollout_ref.rollout.val_kwargs.do_sample=True",
        "actor_rollout_ref.rollout.val_kwargs.temperature=1.0",
        f"custom_reward_function.path={workspace / 'scorer.py'}",
        "+reward_model.reward_kwargs.num_processes=1",
        "trainer.n_gpus_per_node=2", "trainer.device=cpu", "trainer.logger=[file]",
        "trainer.save_freq=1", f"trainer.default_local_dir={run_dir}",
        *extra,
    ]


GAE = ("algorithm.adv_estimator=gae", "algorithm.lam=0.95", "critic.optim.lr=1e-2", "critic.ppo_mini_batch_size=4",
       "trainer.critic_warmup=1", "trainer.total_training_steps=3", "trainer.max_critic_ckpt_to_keep=2",
       "trainer.test_freq=2", "trainer.val_on_last_step=False")


def metrics_by_step(run_dir):
    return {row["step"]: {k: v for k, v in row.items() if not k.startswith(NOT_REPRODUCIBLE)}
            for row in read_metrics(run_dir)}


@pytest.fixture(scope="module")
def gae_run(workspace, ray_cluster):
    run_dir = workspace / "gae"
    run_ppo(compose_config(overrides(workspace, run_dir, *GAE)))
    return run_dir


def test_gae_trains_the_critic_first_then_both(gae_run):
    rows = metrics_by_step(gae_run)
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
    assert metrics_by_step(resumed)[3] == metrics_by_step(gae_run)[3]


def test_a_critic_on_its_own_pool_trains_like_a_colocated_one(workspace, ray_cluster):
    one_rank = ("trainer.n_gpus_per_node=1", "trainer.total_training_steps=2", "trainer.save_freq=-1",
                "trainer.val_before_train=False", "trainer.test_freq=-1", "trainer.val_on_last_step=False")
    runs = {}
    for colocate in (True, False):
        runs[colocate] = workspace / f"pool_{colocate}"
        run_ppo(compose_config(overrides(workspace, runs[colocate], *GAE, *one_rank, f"critic.colocate={colocate}")))
    assert metrics_by_step(runs[False]) == metrics_by_step(runs[True])


@pytest.fixture(scope="module")
def remax_run(workspace, ray_cluster):
    run_dir = workspace / "remax"
    run_ppo(compose_config(overrides(workspace, run_dir, "algorithm.adv_estimator=remax",
                                     "trainer.total_training_steps=2", "trainer.val_before_train=False")))
    return run_dir


def test_remax_scores_a_greedy_baseline_and_resumes_exactly(remax_run, workspace):
    rows = metrics_by_step(remax_run)
    assert sorted(rows) == [1, 2]
    assert all("timing_s/gen_max" in row for row in read_metrics(remax_run))
    assert rows[2]["actor/grad_norm"] > 0
    resumed = workspace / "remax_resumed"
    run_ppo(compose_config(overrides(workspace, resumed, "algorithm.adv_estimator=remax", "trainer.total_training_steps=2",
                                     "trainer.resume_mode=resume_path",
                                     f"trainer.resume_from_path={remax_run / 'global_step_1'}")))
    assert metrics_by_step(resumed)[2] == rows[2]

