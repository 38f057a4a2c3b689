"""The Ray-cluster launcher builds the right commands and parses its arguments strictly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from maxrl.launch import ray_cluster
from maxrl.launch.ray_cluster import (
    ClusterSpec,
    ClusterStartError,
    first_ipv4,
    head_command,
    parse_args,
    ray_executable,
    worker_command,
)

RAY = str(Path(sys.executable).parent / "ray")


def test_local_commands_run_directly_with_resources():
    spec = ClusterSpec(hosts=["localhost"], head_ip="127.0.0.1", port=6400, num_cpus=4, num_gpus=0)
    head = head_command(spec)
    assert head[:3] == [RAY, "start", "--head"]
    assert "--node-ip-address=127.0.0.1" in head and "--port=6400" in head
    assert "--num-cpus=4" in head and "--num-gpus=0" in head and "--block" in head


def test_slurm_commands_run_each_node_through_srun():
    spec = ClusterSpec(hosts=["n1", "n2", "n3"], head_ip="10.0.0.1", num_gpus=8, use_srun=True)
    head = head_command(spec)
    assert head[:7] == ["srun", "--nodes=1", "--ntasks=1", "--overlap", "-w", "n1", RAY]
    worker = worker_command(spec, "n3")
    assert worker[5] == "n3" and "--address=10.0.0.1:6379" in worker and "--head" not in worker


def test_ray_is_found_beside_the_python_without_an_activated_environment(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # as when the venv's python is run without activating the venv
    assert ray_executable() == RAY and os.access(RAY, os.X_OK)


def test_without_ray_beside_the_python_the_one_on_path_is_used_or_the_error_says_where_it_looked(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(ray_cluster.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(Path(RAY).parent))
    assert ray_executable() == RAY
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ClusterStartError, match=f"no `ray` command beside {tmp_path / 'python'} nor on PATH"):
        ray_executable()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.1.2.3", "10.1.2.3"), ("fe80::1 192.168.0.7 10.0.0.2", "192.168.0.7")],
)
def test_first_ipv4_skips_ipv6(text, expected):
    assert first_ipv4(text) == expected


def test_first_ipv4_without_ipv4_says_how_to_fix():
    with pytest.raises(ClusterStartError, match="RAY_HEAD_IP"):
        first_ipv4("fe80::1")


def test_parse_args_splits_command():
    args, command = parse_args(["--num-cpus", "3", "--", "python", "-c", "pass"])
    assert args.num_cpus == 3 and command == ["python", "-c", "pass"]


def test_parse_args_requires_a_command():
    with pytest.raises(SystemExit):
        parse_args(["--num-cpus", "3"])
    with pytest.raises(SystemExit):
        parse_args(["--"])


def test_a_two_node_slurm_allocation_dry_run_plans_a_head_a_worker_and_the_job(tmp_path):
    """The multi-node path as far as one machine allows: a two-node Slurm environment (scontrol and srun are
    stand-ins that answer as Slurm would) and --dry-run, which prints what would run on each node."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text('#!/bin/sh\n[ "$*" = "show hostnames gpu[01-02]" ] && printf "gpu01\\ngpu02\\n"\n')
    (bin_dir / "srun").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/srun.log\necho "fe80::1 10.1.0.7"\n')
    for tool in ("scontrol", "srun"):
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_NODELIST": "gpu[01-02]"}
    env.pop("RAY_HEAD_IP", None)
    done = subprocess.run(
        [sys.executable, "-m", "maxrl.launch.ray_cluster", "--dry-run", "--num-gpus", "8", "--", "python", "-m",
         "maxrl.trainer.main_ppo", "trainer.nnodes=2", "trainer.n_gpus_per_node=8"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    head, worker, job = done.stdout.strip().splitlines()
    srun = "srun --nodes=1 --ntasks=1 --overlap -w"
    assert head.startswith(f"{srun} gpu01 {RAY} start --head --node-ip-address=10.1.0.7 --port=6379")
    assert worker.startswith(f"{srun} gpu02 {RAY} start --address=10.1.0.7:6379")
    assert "--num-gpus=8" in head and "--num-gpus=8" in worker
    assert job == "RAY_ADDRESS=10.1.0.7:6379 python -m maxrl.trainer.main_ppo trainer.nnodes=2 trainer.n_gpus_per_node=8"
    # the head's address was asked of the first node, through srun; nothing else ran
    assert (tmp_path / "srun.log").read_text() == "--nodes=1 --ntasks=1 --overlap -w gpu01 hostname --ip-address\n"
