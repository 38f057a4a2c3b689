"""The rollout on its own pool (1 RolloutWorker + 1 trainer worker, real Ray, gloo, hf rollout) on tiny 7x7
mazes: weight sync is exact, staleness 0 is the colocated synchronous run bit for bit, staleness 1 trains
with correction and reports versions, and a resume with samples in flight repeats the uninterrupted run.
The pool's faults: a rollout worker killed mid-run ends the run within 60 s naming its pool, a driver killed
with samples in flight resumes to the uninterrupted run, and a failed weight sync stops the run naming it."""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
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
from maxrl.controller import ResourcePool, WorkerDiedError, WorkerError, WorkerGroup
from maxrl.trainer.async_rollout import RolloutPipeline
from maxrl.trainer.checkpoint import TRACKER_FILE
from maxrl.trainer.main_ppo import run_ppo, worker_config
from maxrl.trainer.tracking import read_metrics
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


# ------------------------------------------------------------------ faults of the rollout pool
STALE = (*SEPARATE, "trainer.async.max_staleness=1", "algorithm.rollout_correction.rollout_is=token")


def worker_host_pids() -> dict[str, tuple[int, float]]:
    """Live worker-group processes of the session's Ray: actor id -> (pid, start time)."""
    from ray._private import state as ray_state

    return {actor_id: (info["Pid"], info["StartTime"]) for actor_id, info in ray_state.actors().items()
            if info["ActorClassName"] == "WorkerHost" and info["State"] == "ALIVE"}


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for_step(run_dir, step: int, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while not ((run_dir / "metrics.jsonl").exists() and any(row["step"] >= step for row in read_metrics(run_dir))):
        assert time.monotonic() < deadline, f"{run_dir} did not reach step {step}"
        time.sleep(0.5)


def test_a_killed_rollout_worker_ends_the_run_within_60_s_naming_its_pool(workspace, ray_cluster):
    """SIGKILL of the rollout pool's worker after step 1: the run stops with an error that says which pool
    and rank died, and no process of the run outlives it."""
    run_dir = workspace / "rollout_killed"
    before = set(worker_host_pids())
    killed = {}

    def kill_rollout_worker():
        wait_for_step(run_dir, 1)
        started = {actor: entry for actor, entry in worker_host_pids().items() if actor not in before}
        killed["hosts"] = started
        pid, _ = max(started.values(), key=lambda entry: entry[1])  # the rollout pool starts after the trainer's
        killed["at"] = time.monotonic()
        os.kill(pid, signal.SIGKILL)

    watcher = threading.Thread(target=kill_rollout_worker)
    watcher.start()
    with pytest.raises(WorkerDiedError) as caught:
        run_ppo(compose_config(overrides(workspace, run_dir, *STALE, "trainer.total_training_steps=200",
                                         "trainer.save_freq=-1")))
    seconds = time.monotonic() - killed["at"]
    watcher.join()
    assert str(caught.value).startswith("RolloutWorker rank 0 on node "), str(caught.value)
    assert seconds < 60, seconds
    assert len(killed["hosts"]) == 2
    deadline = time.monotonic() + 30
    while any(running(pid) for pid, _ in killed["hosts"].values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [pid for pid, _ in killed["hosts"].values() if running(pid)]


def test_a_driver_killed_with_samples_in_flight_resumes_to_the_uninterrupted_run(stale_run, workspace):
    """The driver (its own process and local Ray) is SIGKILLed once its step-2 checkpoint, which holds the
    samples drawn ahead for step 3, is written; resuming in its run folder repeats steps 3 and 4 of the
    uninterrupted run exactly: metrics and final weights."""
    run_dir = workspace / "driver_killed"
    with tempfile.TemporaryDirectory(prefix="maxrl-ray-", ignore_cleanup_errors=True) as ray_dir:
        env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
        log = Path(ray_dir) / "driver.log"
        with log.open("w") as output:
            driver = subprocess.Popen(
                [sys.executable, "-m", "maxrl.trainer.main_ppo",
                 *overrides(workspace, run_dir, *STALE, f"ray_init.ray_dir={ray_dir}", "ray_init.num_cpus=2")],
                env=env, stdout=output, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 900
        while not (run_dir / TRACKER_FILE).exists() or (run_dir / TRACKER_FILE).read_text().strip() != "2":
            assert driver.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, "the driver did not save step 2"
            time.sleep(0.2)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        stop_processes_using(ray_dir)  # the killed driver's Ray (its agents outlive it by up to ~90 s)
    assert not (run_dir / "global_step_4").exists()
    run_ppo(compose_config(overrides(workspace, run_dir, *STALE)))  # trainer.resume_mode=auto
    resumed, original = metrics_by_step(run_dir), metrics_by_step(stale_run)
    for step in (3, 4):
        assert reproducible(resumed[step], ASYNC_NOISE) == reproducible(original[step], ASYNC_NOISE), step
    weights, reference = final_weights(run_dir), final_weights(stale_run)
    assert all(weights[name].equal(reference[name]) for name in reference)


def stop_processes_using(folder: str) -> None:
    """SIGKILL the processes whose command line names `folder` (a killed driver's own Ray cluster)."""
    for process in psutil.process_iter(["cmdline"]):
        if any(folder in part for part in process.info["cmdline"] or ()):
            process.kill()


class BadWeights:
    """Stands in for the trainer group: its full weights name a parameter the rollout model lacks."""

    def rollout_weights(self):
        return [{"no.such.weight": torch.zeros(3)}, None]


def test_a_failed_weight_sync_stops_the_run_naming_the_pool_and_the_parameter(workspace, ray_cluster):
    config = worker_config(compose_config(overrides(workspace, workspace / "unused", *SEPARATE)), total_steps=4)
    pool = ResourcePool(1, 1, "cpu")
    try:
        with WorkerGroup(RolloutWorker, pool, config) as rollout:
            pipeline = RolloutPipeline(rollout, BadWeights(), max_staleness=0)
            pipeline.sync_weights(1)
            with pytest.raises(WorkerError) as caught:
                pipeline.close()
    finally:
        pool.shutdown()
    message = str(caught.value)
    assert message.startswith("RolloutWorker rank 0 raised KeyError: \"sync_weights: the rollout model has no "
                              "parameter 'no.such.weight'\" in load_weights()"), message
