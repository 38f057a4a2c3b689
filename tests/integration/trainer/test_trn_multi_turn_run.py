"""Multi-turn episodes through the whole stack: Ray, 2 FSDP2 workers, the hf rollout inside the agent loop,
the maze feedback interaction in the call pool, the default scorer of ``maze_attempts`` rows, validation,
checkpoints and resume; and the asynchronous rollout pool running episodes.

The tiny model is random, so its attempts fail and get feedback; that is all the multi-turn path needs.
"""

import math
import shutil

import pyarrow.parquet as pq
import pytest
import yaml
from maze_runs import (
    EVEN_WORD_COUNT_SCORER,
    base_overrides,
    make_workspace,
    metrics_by_step,
    override_list,
    reproducible,
)

from maxrl.agents.records import read_episodes
from maxrl.config import compose_config
from maxrl.tasks.maze.attempts import to_attempts_table
from maxrl.trainer.main_ppo import run_ppo

MULTI_TURN = "actor_rollout_ref.rollout.multi_turn"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = make_workspace(tmp_path_factory.mktemp("multi_turn"), EVEN_WORD_COUNT_SCORER, train_rows=8)
    for split in ("train", "test"):
        pq.write_table(to_attempts_table(pq.read_table(root / "data" / f"{split}.parquet")),
                       root / "data" / f"attempts_{split}.parquet")
    interactions = {"interaction": [{"name": "maze_feedback", "class_name": "maxrl.tasks.maze.attempts.MazeFeedback",
                                     "config": {}}]}
    (root / "interactions.yaml").write_text(yaml.safe_dump(interactions))
    return root


def overrides(workspace, run_dir, *extra):
    return override_list(
        *base_overrides(workspace, run_dir, response_length=48),
        f"data.train_files={workspace / 'data' / 'attempts_train.parquet'}",
        f"data.val_files={workspace / 'data' / 'attempts_test.parquet'}",
        "custom_reward_function.path=null",  # the default scorer of maze_attempts rows: the last attempt's
        f"{MULTI_TURN}.enable=true", f"{MULTI_TURN}.interaction_config_path={workspace / 'interactions.yaml'}",
        f"{MULTI_TURN}.max_assistant_turns=3", f"{MULTI_TURN}.call_workers=1",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.actor.optim.lr=1e-2",
        "actor_rollout_ref.rollout.n=4", "actor_rollout_ref.rollout.val_kwargs.n=2",
        "trainer.n_gpus_per_node=2", "trainer.total_training_steps=3", "trainer.save_freq=2", "trainer.test_freq=-1",
        *extra,
    )


@pytest.fixture(scope="module")
def run_a(workspace, ray_cluster):
    run_dir = workspace / "run_a"
    run_ppo(compose_config(overrides(workspace, run_dir)))
    return run_dir


def test_episodes_train_with_their_metrics_and_records(run_a):
    rows = metrics_by_step(run_a)
    assert sorted(rows) == [0, 1, 2, 3]
    for step in (1, 2, 3):
        for key in ("multi_turn/assistant_turns/mean", "multi_turn/user_turns/mean", "num_turns/max",
                    "multi_turn/truncated_ratio", "multi_turn/generated_tokens/mean", "multi_turn/inserted_tokens/mean",
                    "multi_turn/tool_errors/exception", "multi_turn/call_seconds/mean", "actor/pg_loss"):
            assert math.isfinite(rows[step][key]), key
    assert max(rows[step]["multi_turn/assistant_turns/max"] for step in (1, 2, 3)) >= 2
    assert max(rows[step]["multi_turn/inserted_tokens/mean"] for step in (1, 2, 3)) > 0
    assert 0.0 <= rows[3]["val/maze_attempts_7/pass@1"] <= rows[3]["val/maze_attempts_7/pass@2"] <= 1.0
    episodes = read_episodes(run_a, 2)
    assert len(episodes) == 16 and all(episode["assistant_turns"] >= 1 for episode in episodes)
    inserted = [segment["text"] for e in episodes for segment in e["segments"] if not segment["trained"]]
    assert inserted and all(text.strip().endswith("PATH_START") for text in inserted)


def test_resuming_mid_run_repeats_the_uninterrupted_episodes(run_a, workspace):
    run_b = workspace / "run_b"
    shutil.copytree(run_a / "global_step_2", run_b / "global_step_2")
    (run_b / "latest_checkpointed_iteration.txt").write_text("2\n")
    run_ppo(compose_config(overrides(workspace, run_b, "trainer.val_before_train=false")))
    drop = ("multi_turn/call_seconds", "val-multi_turn/call_seconds")  # wall-clock time of the calls
    assert reproducible(metrics_by_step(run_b)[3], drop) == reproducible(metrics_by_step(run_a)[3], drop)


def test_the_async_rollout_pool_runs_episodes(workspace, ray_cluster):
    run_dir = workspace / "run_async"
    run_ppo(compose_config(overrides(
        workspace, run_dir, "actor_rollout_ref.rollout.placement=separate", "trainer.async.max_staleness=1",
        "trainer.n_gpus_per_node=1", "trainer.total_training_steps=2", "trainer.save_freq=-1",
        "trainer.val_before_train=false", "trainer.val_on_last_step=false",
    )))
    rows = metrics_by_step(run_dir)
    assert rows[2]["async/staleness_max"] == 1 and math.isfinite(rows[2]["multi_turn/assistant_turns/mean"])
