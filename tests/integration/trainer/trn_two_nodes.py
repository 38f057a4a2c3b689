"""Train across two Ray nodes on this machine and report what happened as JSON (the last line of stdout).

Run as a script by `test_trn_two_nodes.py`: `ray.cluster_utils.Cluster` needs a Ray of its own, started
under the private ``$RAY_TMPDIR`` the test gives it. A 1-CPU head and a 1-CPU second node hold one worker
each (``trainer.nnodes=2 trainer.n_gpus_per_node=1``). Two runs on tiny 7x7 mazes, a checkpoint per step:

1. ``full``: 2 steps;
2. ``resumed``: from the step-1 checkpoint of ``full``, towards 200 steps (a constant learning rate, so the
   length does not change step 2); once it has logged step 2, the second node's raylet is killed (SIGKILL)
   and the run must end with an error soon after.

Usage: ``python trn_two_nodes.py <workspace folder>``.
"""

import json
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import psutil
import ray
from ray._common.utils import get_ray_address_file
from ray._private import state as ray_state
from ray.cluster_utils import Cluster

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for maze_runs
from maze_runs import FIRST_WORD_DOWN_SCORER, base_overrides, make_workspace, override_list  # noqa: E402

from maxrl.config import compose_config  # noqa: E402
from maxrl.trainer.main_ppo import run_ppo  # noqa: E402
from maxrl.trainer.tracking import read_metrics  # noqa: E402

HOST_CLASS = "WorkerHost"  # the class the worker group makes a Ray actor of


def overrides(workspace: Path, run_dir: Path, *extra: str) -> list[str]:
    return override_list(
        *base_overrides(workspace, run_dir, with_val=False),
        "actor_rollout_ref.actor.ppo_mini_batch_size=4", "actor_rollout_ref.rollout.n=2",
        "trainer.nnodes=2", "trainer.n_gpus_per_node=1", "trainer.val_before_train=False",
        "trainer.total_training_steps=2", "trainer.save_freq=1", "trainer.test_freq=-1",
        *extra,
    )


def worker_hosts() -> dict[str, dict]:
    """Every worker-group actor this cluster has known: actor id -> its node id and pid."""
    return {
        actor_id: {"node_id": info["Address"]["NodeID"], "pid": info["Pid"]}
        for actor_id, info in ray_state.actors().items() if info["ActorClassName"] == HOST_CLASS
    }


def kill_raylet_after_step_two(run_dir: Path, raylet: psutil.Process, killed: dict) -> None:
    """Wait until the run logged step 2, then SIGKILL the second node's raylet (noting its processes)."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if (run_dir / "metrics.jsonl").exists() and any(row["step"] == 2 for row in read_metrics(run_dir)):
            break
        time.sleep(0.5)
    killed["pids"] = [raylet.pid, *(child.pid for child in raylet.children(recursive=True))]
    killed["at"] = time.monotonic()
    raylet.send_signal(signal.SIGKILL)


def main(root: Path) -> None:
    workspace = make_workspace(root, FIRST_WORD_DOWN_SCORER, train_rows=8)
    node_args = {"num_cpus": 1, "object_store_memory": 128 * 1024**2}
    cluster = Cluster(initialize_head=True, head_node_args={**node_args, "include_dashboard": False})
    report: dict = {}
    try:
        second = cluster.add_node(**node_args)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        report["nodes"] = {"head": cluster.head_node.node_id, "second": second.node_id}
        report["ray_state"] = [cluster.head_node.get_session_dir_path(), get_ray_address_file(None)]

        run_ppo(compose_config(overrides(workspace, root / "full")))
        report["full_hosts"] = worker_hosts()

        killed: dict = {}
        raylet = psutil.Process(second.all_processes["raylet"][0].process.pid)
        watcher = threading.Thread(target=kill_raylet_after_step_two, args=(root / "resumed", raylet, killed))
        watcher.start()
        try:
            run_ppo(compose_config(overrides(workspace, root / "resumed", "trainer.total_training_steps=200",
                                             "trainer.resume_mode=resume_path",
                                             f"trainer.resume_from_path={root / 'full' / 'global_step_1'}")))
            report["error"] = None
        except Exception as error:  # the run must end with an error: report it
            report["error"] = f"{type(error).__name__}: {error}"
            report["traceback"] = traceback.format_exc()
        report["seconds_to_error"] = time.monotonic() - killed.get("at", time.monotonic())
        watcher.join()
        report["all_hosts"] = worker_hosts()
        report["second_node_pids"] = killed.get("pids", [])
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
