"""The rollout on its own pool (1 RolloutWorker + 1 trainer worker, real Ray, gloo, hf rollout) on tiny 7x7
mazes: weight sync is exact, staleness 0 is the colocated synchronous run bit for bit, staleness 1 trains
with correction and reports versions, and a resume with samples in flight repeats the uninterrupted run."""

import pytest
import torch
from maze_runs import (
    FIRST_WORD_DOWN_SCORER,
    base_overrides,
    make_workspace,
    metrics_by_step,
    override_list,
    reproducible,
)
from transformers import AutoModelForCausalLM

from maxrl.config import compose_config
from maxrl.config.checks import ConfigError
from maxrl.controller import ResourcePool, WorkerGroup
from maxrl.trainer.async_rollout import RolloutPipeline
from maxrl.trainer.main_ppo import run_ppo, worker_config
from maxrl.utils.safe_state import load_json_state
from maxrl.workers import ActorRolloutRefWorker
from maxrl.workers.rollout_worker import RolloutWorker

# Beyond the shared NOT_REPRODUCIBLE: all perf/ metrics and the pipeline's waits and busy times.
ASYNC_NOISE = ("perf/", "async/trainer_wait_s", "async/rollout_")
SEPARATE = ("actor_rollout_ref.rollout.placement=separate",)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):  # 12 training prompts: three steps of 4 prompts per epoch
    return make_workspace(tmp_path_factory.mktemp("trainer_async"), FIRST_WORD_DOWN_SCORER, train_rows=12)


def overrides(workspace, run_dir, *extra):
    return override_list(
        *base_overrides(workspace, run_dir),
        "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.actor.optim.lr=1e-2",
        "actor_rollout_ref.rollout.n=4", "actor_rollout_ref.rollout.val_kwargs.n=2",
        "trainer.n_gpus_per_node=1", "trainer.val_before_train=False",
        "trainer.total_training_steps=4", "trainer.save_freq=2", "trainer.test_freq=-1",
        *extra,
    )


def final_weights(run_dir):
    return AutoModelForCausalLM.from_pretrained(run_dir / "global_step_4" / "actor" / "huggingface").state_dict()


@pytest.fixture(scope="module")
def sync_run(workspace, ray_cluster):
    run_dir = workspace / "sync"
    run_ppo(compose_config(overrides(workspace, run_dir)))
    return run_dir


@pytest.fixture(scope="module")
def stale_run(workspace, ray_cluster):
    run_dir = workspace / "stale1"
    run_ppo(compose_config(overrides(workspace, run_dir, *SEPARATE, "trainer.async.max_staleness=1",
                                     "algorithm.rollout_correction.rollout_is=token")))
    return run_dir


def test_weight_sync_leaves_the_rollout_worker_with_the_trainers_weights(workspace, ray_cluster):
    config = worker_config(compose_config(overrides(workspace, workspace / "unused", *SEPARATE)), total_steps=4)
    pools = [ResourcePool(1, 1, "cpu"), ResourcePool(1, 1, "cpu")]
    try:
        with WorkerGroup(ActorRolloutRefWorker, pools[0], config) as trainer, \
                WorkerGroup(RolloutWorker, pools[1], config) as rollout:
            expected = trainer.rollout_weights()[0]
            rollout.load_weights({name: torch.zeros_like(t) for name, t in expected.items()}, version=0)
            pipeline = RolloutPipeline(rollout, trainer, max_staleness=0)
            pipeline.sync_weights(7)
            pipeline.close()
            loaded = rollout.weights()[0]
            assert sorted(loaded) == sorted(expected)
            assert all(loaded[name].equal(expected[name]) for name in expected)
    finally:
        for pool in pools:
            pool.shutdown()


def test_staleness_zero_on_a_separate_pool_is_the_synchronous_run(sync_run, workspace, ray_cluster):
    run_dir = workspace / "stale0"
    run_ppo(compose_config(overrides(workspace, run_dir, *SEPARATE)))
    separate, colocated = metrics_by_step(run_dir), metrics_by_step(sync_run)
    assert sorted(separate) == sorted(colocated) == [1, 2, 3, 4]
    for step in (1, 2, 3, 4):
        assert separate[step]["async/staleness_max"] == 0
        assert (reproducible(separate[step], (*ASYNC_NOISE, "async/"))
                == reproducible(colocated[step], ASYNC_NOISE)), step
    assert "val/maze_7/pass@1" in separate[4]  # validated on the rollout pool after the last update
    weights, reference = final_weights(run_dir), final_weights(sync_run)
    assert all(weights[name].equal(reference[name]) for name in reference)


def test_staleness_one_trains_on_older_versions_with_correction(stale_run, sync_run):
    rows, sync = metrics_by_step(stale_run), metrics_by_step(sync_run)
    assert [rows[s]["async/staleness_max"] for s in (1, 2, 3, 4)] == [0, 1, 1, 1]
    assert [rows[s]["async/policy_version_min"] for s in (1, 2, 3, 4)] == [0, 0, 1, 2]
    for step in (1, 2, 3, 4):
        assert rows[step]["timing_s/weight_sync"] > 0 and rows[step]["async/rollout_busy_s"] > 0
        assert 0 < rows[step]["rollout_corr/weight_mean"] <= 2.0
    assert rows[1]["rollout_corr/weight_mean"] == pytest.approx(1.0, abs=1e-5)  # on-policy fp32 step
    assert rows[2]["training/rollout_probs_diff_mean"] > sync[2]["training/rollout_probs_diff_mean"]


def test_resume_with_samples_in_flight_is_exact(stale_run, workspace):
    run_dir = workspace / "stale1_resumed"
    run_ppo(compose_config(overrides(workspace, run_dir, *SEPARATE, "trainer.async.max_staleness=1",
                                     "algorithm.rollout_correction.rollout_is=token", "trainer.resume_mode=resume_path",
                                     f"trainer.resume_from_path={stale_run / 'global_step_2'}")))
    in_flight = load_json_state(stale_run / "global_step_2" / "trainer_state.json")["in_flight"]
    assert [entry["step"] for entry in in_flight] == [3]  # drawn by version 1, saved with the checkpoint
    assert in_flight[0]["samples"]["tensors"]["policy_version"].unique().tolist() == [1]
    resumed, original = metrics_by_step(run_dir), metrics_by_step(stale_run)
    assert sorted(resumed) == [3, 4]
    for step in (3, 4):
        assert reproducible(resumed[step], ASYNC_NOISE) == reproducible(original[step], ASYNC_NOISE), step
    weights, reference = final_weights(run_dir), final_weights(stale_run)
    assert all(weights[name].equal(reference[name]) for name in reference)


def test_a_checkpoint_with_samples_in_flight_refuses_a_colocated_resume(stale_run, workspace):
    config = compose_config(overrides(workspace, workspace / "colocated_resume", "trainer.resume_mode=resume_path",
                                      f"trainer.resume_from_path={stale_run / 'global_step_2'}"))
    with pytest.raises(ValueError, match=r"samples drawn ahead for steps \[3\] .* resume it with that placement"):
        run_ppo(config)


def test_a_rollout_pool_beyond_the_cluster_is_refused_before_any_worker_starts(workspace, ray_cluster):
    config = compose_config(overrides(workspace, workspace / "too_big", *SEPARATE,
                                      "actor_rollout_ref.rollout.n_gpus_per_node=8"))
    with pytest.raises(ConfigError, match="needs 9 CPUs"):
        run_ppo(config)
    assert not (workspace / "too_big" / "metrics.jsonl").exists()
