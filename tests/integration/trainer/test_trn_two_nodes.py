"""A training run across two Ray nodes on this machine: its two workers on different nodes, an exact resume,
and the loss of the second node (its raylet killed with SIGKILL) ending the run within 60 s with an error
that names the node and what to raise if the loss was a time-out, leaving no process behind.

The cluster (`ray.cluster_utils.Cluster`) needs a Ray of its own, so `trn_two_nodes.py` runs in a subprocess
under a private Ray temp dir: nothing of the user's Ray state (``/tmp/ray/ray_current_cluster``) is touched.
The short version of the same path, a worker group across two nodes, is `test_ctrl_multinode.py`.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from maze_runs import metrics_by_step, reproducible
from transformers import AutoModelForCausalLM


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def processes_using(folder: str) -> list[int]:
    """Processes whose command line names `folder` (every Ray process of a cluster names its temp dir)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        if any(folder in part for part in process.info["cmdline"] or ()):
            found.append(process.info["pid"])
    return found


def final_weights(step_dir: Path) -> dict:
    return AutoModelForCausalLM.from_pretrained(step_dir / "actor" / "huggingface").state_dict()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_training_across_two_nodes_resumes_exactly_and_ends_cleanly_when_a_node_is_lost(tmp_path):
    workspace = tmp_path / "workspace"
    with tempfile.TemporaryDirectory(prefix="maxrl-ray-", ignore_cleanup_errors=True) as ray_tmp:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("trn_two_nodes.py")), str(workspace)],
            capture_output=True, text=True, timeout=1700, env={**os.environ, "RAY_TMPDIR": ray_tmp},
        )
        assert done.returncode == 0, done.stderr[-4000:]
        deadline = time.monotonic() + 90  # Ray's agents on the lost node notice their raylet's end within ~60 s
        while processes_using(ray_tmp) and time.monotonic() < deadline:
            time.sleep(1)
        left = [" ".join(psutil.Process(pid).cmdline())[:120] for pid in processes_using(ray_tmp) if running(pid)]
        assert left == [], f"processes of the two-node cluster outlived it: {left}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    (tmp_path / "report.json").write_text(json.dumps(report, indent=1))  # for a look after a failure
    head, second = report["nodes"]["head"], report["nodes"]["second"]

    # The two workers of a run sit on different nodes.
    assert sorted(host["node_id"] for host in report["full_hosts"].values()) == sorted([head, second])

    # The resumed run repeats step 2 of the uninterrupted one: metrics and weights.
    full, resumed = metrics_by_step(workspace / "full"), metrics_by_step(workspace / "resumed")
    assert reproducible(resumed[2]) == reproducible(full[2])
    weights, reference = final_weights(workspace / "resumed" / "global_step_2"), final_weights(
        workspace / "full" / "global_step_2")
    assert all(weights[name].equal(reference[name]) for name in reference)

    # Losing the second node ends the run within 60 s, naming the node and the keys of Ray's health checks.
    error = report["error"]
    assert error is not None and error.startswith("WorkerDiedError: ActorRolloutRefWorker rank "), report
    assert f"with its node {report_ip(error)} (id {second[:12]}), which left the Ray cluster" in error, error
    assert "raise RAY_health_check_failure_threshold (or RAY_health_check_timeout_ms)" in error, error
    assert report["seconds_to_error"] < 60, report["seconds_to_error"]

    # Nothing is left behind: no worker of any run, none of the lost node's processes.
    pids = [host["pid"] for host in report["all_hosts"].values()] + report["second_node_pids"]
    assert len(report["all_hosts"]) == 4 and not [pid for pid in pids if running(pid)]
    # Its session and address file lay in the private temp dir, not in the user's /tmp/ray.
    assert all(path.startswith(ray_tmp) for path in report["ray_state"]), report["ray_state"]


def report_ip(error: str) -> str:
    """The IP the error gives for the node (both simulated nodes share this machine's)."""
    return error.split("with its node ", 1)[1].split(" ", 1)[0]
