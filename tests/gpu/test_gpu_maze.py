"""A short maze run through the trainer on one GPU with each rollout backend (hf, vllm), bf16 actor and
rollout: validation, generation, scoring, two updates, and the rollout's log-probs close to the actor's."""

import math

import pytest
from gpu_helpers import VLLM_INSTALLED, needs_gpu

from maxrl.config import compose_config
from maxrl.tasks.maze import build_tokenizer
from maxrl.tasks.maze.make_data import main as make_maze_data
from maxrl.trainer.main_ppo import run_ppo
from maxrl.trainer.tracking import read_metrics
from maxrl.utils.tiny_models import build_tiny_causal_lm

pytestmark = needs_gpu

SCORER = '''
def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    return {"score": float("DOWN" in solution_str.split())}
'''


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_maze")
    make_maze_data(["--output-dir", str(root / "data"), "--size", "7", "--num-mazes", "64",
                    "--test-size", "8", "--formats", "parquet", "--no-progress"])
    tokenizer = build_tokenizer(save_dir=root / "model")
    build_tiny_causal_lm(len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, num_heads=2, num_kv_heads=1,
                         save_dir=root / "model")
    (root / "scorer.py").write_text(SCORER)
    return root


@pytest.mark.parametrize("backend", [
    "hf", pytest.param("vllm", marks=pytest.mark.skipif(not VLLM_INSTALLED, reason="needs vLLM (.[gpu])")),
])
def test_maze_run_on_one_gpu(workspace, ray_cluster, backend):
    run_dir = workspace / f"run_{backend}"
    run_ppo(compose_config([
        f"data.train_files={workspace / 'data' / 'train.parquet'}",
        f"data.val_files={workspace / 'data' / 'test.parquet'}",
        "data.train_batch_size=16", "data.max_prompt_length=64", "data.max_response_length=24",
        "data.apply_chat_template=False",
        f"actor_rollout_ref.model.path={workspace / 'model'}",
        "actor_rollout_ref.actor.dtype=bf16", "actor_rollout_ref.rollout.dtype=bf16",
        "actor_rollout_ref.actor.ppo_mini_batch_size=16", "actor_rollout_ref.actor.optim.lr=1e-3",
        "actor_rollout_ref.actor.recompute_old_log_prob=always",  # the training/rollout_* metrics need the pass
        f"actor_rollout_ref.rollout.name={backend}", "actor_rollout_ref.rollout.n=8",
        "actor_rollout_ref.rollout.gpu_memory_utilization=0.3",
        "++actor_rollout_ref.rollout.check_weight_sync=true",
        "actor_rollout_ref.rollout.val_kwargs.n=4", "actor_rollout_ref.rollout.val_kwargs.do_sample=True",
        "actor_rollout_ref.rollout.val_kwargs.temperature=1.0",
        f"custom_reward_function.path={workspace / 'scorer.py'}",
        "+reward_model.reward_kwargs.num_processes=1",
        "trainer.n_gpus_per_node=1", "trainer.device=cuda", "trainer.logger=[file]",
        "trainer.total_training_steps=3",
        f"trainer.default_local_dir={run_dir}",
    ]))
    rows = {row["step"]: row for row in read_metrics(run_dir)}
    assert sorted(rows) == [0, 1, 2, 3]
    for step in (1, 2, 3):
        assert math.isfinite(rows[step]["actor/pg_loss"]) and rows[step]["response_length/mean"] > 0
        assert rows[step]["training/rollout_log_probs_diff_max"] < 1.0  # bf16 engines, same weights
    assert 0.0 <= rows[3]["val/maze_7/pass@1"] <= rows[3]["val/maze_7/pass@4"] <= 1.0
