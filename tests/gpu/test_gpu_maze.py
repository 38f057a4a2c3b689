"""A 20-step maze run on one GPU through the trainer with its worker in this process (the local worker
group, no Ray), bf16 actor and rollout, with each rollout backend (hf; vllm where installed): pass@k before
and after, the step time, and the rollout's log-probs close to the actor's."""

import logging
import math
import statistics

import pytest
from gpu_helpers import VLLM_INSTALLED, needs_gpu
from maze_runs import FIRST_WORD_DOWN_SCORER, base_overrides, make_workspace, metrics_by_step, override_list

from maxrl.config import compose_config
from maxrl.trainer.main_ppo import run_ppo

pytestmark = needs_gpu

STEPS = 20


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("gpu_maze"), FIRST_WORD_DOWN_SCORER, train_rows=36,
                          model_kwargs={"num_heads": 2, "num_kv_heads": 1})


@pytest.mark.parametrize("backend", [
    "hf", pytest.param("vllm", marks=pytest.mark.skipif(not VLLM_INSTALLED, reason="needs vLLM (.[gpu])")),
])
def test_a_maze_run_on_one_gpu_learns_through_the_local_worker_group(workspace, backend, caplog, record_property):
    run_dir = workspace / f"run_{backend}"
    with caplog.at_level(logging.INFO, logger="maxrl.trainer.main_ppo"):
        run_ppo(compose_config(override_list(
            *base_overrides(workspace, run_dir, response_length=24),
            "data.train_batch_size=16", "actor_rollout_ref.actor.ppo_mini_batch_size=16",
            "actor_rollout_ref.actor.dtype=bf16", "actor_rollout_ref.rollout.dtype=bf16",
            "actor_rollout_ref.actor.optim.lr=1e-3",
            "actor_rollout_ref.actor.recompute_old_log_prob=always",  # the training/rollout_* metrics need the pass
            f"actor_rollout_ref.rollout.name={backend}", "actor_rollout_ref.rollout.n=8",
            "actor_rollout_ref.rollout.gpu_memory_utilization=0.3",
            "actor_rollout_ref.rollout.val_kwargs.n=8",
            "trainer.device=cuda", f"trainer.total_training_steps={STEPS}",
        )))
    assert "workers: local (trainer.worker_backend=auto)" in caplog.text
    rows = metrics_by_step(run_dir)
    assert sorted(rows) == list(range(STEPS + 1))
    step_times = [rows[step]["timing_s/step"] for step in range(2, STEPS + 1)]  # step 1 warms up
    for name, step in (("before", 0), ("after", STEPS)):
        for k in (1, 8):
            record_property(f"val_pass@{k}_{name}", rows[step][f"val/maze_7/pass@{k}"])
    record_property("train_score_first_last", f"{rows[1]['critic/score/mean']:.3f} -> {rows[STEPS]['critic/score/mean']:.3f}")
    record_property("median_step_s", round(statistics.median(step_times), 3))
    record_property("max_rollout_log_prob_diff",
                    max(rows[step]["training/rollout_log_probs_diff_max"] for step in range(1, STEPS + 1)))
    for step in range(1, STEPS + 1):
        assert math.isfinite(rows[step]["actor/pg_loss"]) and rows[step]["response_length/mean"] > 0
        assert rows[step]["training/rollout_log_probs_diff_max"] < 1.0  # bf16 engines, same weights
    assert 0.0 <= rows[STEPS]["val/maze_7/pass@1"] <= rows[STEPS]["val/maze_7/pass@8"] <= 1.0
