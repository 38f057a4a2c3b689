"""The same one-worker maze run with its worker in the driver's process (trainer.worker_backend=auto, which is
local here) and in a Ray actor (=ray): identical metrics, and checkpoints that either backend resumes exactly.
The local run goes in a process of its own, which must never import Ray (nor wandb, which it does not use)."""

import json
import logging
import subprocess
import sys

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

LOCAL_RUN = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
from maxrl.config import compose_config
from maxrl.trainer.main_ppo import run_ppo
from maxrl.utils.environment import set_offline_environment
set_offline_environment({"OMP_NUM_THREADS": "1"})  # as tests/conftest.py sets it for this test process
run_ppo(compose_config(json.loads(sys.argv[1])))
print(json.dumps(sorted(name for name in ("ray", "wandb", "vllm", "tensorboard", "peft") if name in sys.modules)))
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("local_backend"), EVEN_WORD_COUNT_SCORER, train_rows=8)


def overrides(workspace, run_dir, *extra):
    return override_list(
        *base_overrides(workspace, run_dir),
        "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.actor.optim.lr=1e-2",
        "actor_rollout_ref.rollout.n=4", "actor_rollout_ref.rollout.val_kwargs.n=4",
        "trainer.total_training_steps=2", "trainer.save_freq=1", *extra,
    )


def run_logging_backend(config_overrides, caplog) -> str:
    """Run in this process; return the backend the run reported."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="maxrl.trainer.main_ppo"):
        run_ppo(compose_config(config_overrides))
    (line,) = [record.getMessage() for record in caplog.records if record.getMessage().startswith("workers: ")]
    return line


@pytest.fixture(scope="module")
def local_run(workspace):
    run_dir = workspace / "local"
    out = subprocess.run([sys.executable, "-c", LOCAL_RUN, json.dumps(overrides(workspace, run_dir))],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    return run_dir, json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


@pytest.fixture(scope="module")
def ray_run(workspace, ray_cluster):
    run_dir = workspace / "ray"
    run_ppo(compose_config(overrides(workspace, run_dir, "trainer.worker_backend=ray")))
    return run_dir


def test_a_one_worker_run_hosts_its_worker_in_the_driver_and_imports_no_ray(local_run):
    """Nor peft: a full fine-tune never builds adapters (`maxrl.workers.lora` imports it when it does)."""
    _, imported, log = local_run
    assert imported == []
    assert "workers: local (trainer.worker_backend=auto)" in log
    assert "worker group ActorRolloutRefWorker: one worker in the driver's process (no Ray), device cpu" in log


def test_local_and_ray_workers_give_identical_metrics(local_run, ray_run):
    local, ray = reproducible_by_step(local_run[0]), reproducible_by_step(ray_run)
    assert sorted(local) == [0, 1, 2]
    assert local == ray
    assert all(local[step]["actor/grad_norm"] > 0 for step in (1, 2))  # the runs trained: the match is not vacuous


@pytest.mark.parametrize("saved_by, resumed_with", [("local", "ray"), ("ray", "local")])
def test_a_checkpoint_of_either_backend_resumes_exactly_on_the_other(local_run, ray_run, workspace, caplog,
                                                                     saved_by, resumed_with):
    saved = {"local": local_run[0], "ray": ray_run}[saved_by]
    run_dir = workspace / f"{saved_by}_resumed_with_{resumed_with}"
    reported = run_logging_backend(overrides(
        workspace, run_dir, f"trainer.worker_backend={resumed_with}", "trainer.resume_mode=resume_path",
        f"trainer.resume_from_path={saved / 'global_step_1'}",
    ), caplog)
    assert reported == f"workers: {resumed_with} (trainer.worker_backend={resumed_with})"
    resumed = reproducible_by_step(run_dir)
    assert sorted(resumed) == [2]
    assert resumed[2] == reproducible_by_step(saved)[2]
