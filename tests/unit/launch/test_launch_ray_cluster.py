"""The Ray-cluster launcher builds the right commands and parses its arguments strictly."""

import pytest

from maxrl.launch.ray_cluster import (
    ClusterSpec,
    ClusterStartError,
    first_ipv4,
    head_command,
    parse_args,
    worker_command,
)


def test_local_commands_run_directly_with_resources():
    spec = ClusterSpec(hosts=["localhost"], head_ip="127.0.0.1", port=6400, num_cpus=4, num_gpus=0)
    head = head_command(spec)
    assert head[:3] == ["ray", "start", "--head"]
    assert "--node-ip-address=127.0.0.1" in head and "--port=6400" in head
    assert "--num-cpus=4" in head and "--num-gpus=0" in head and "--block" in head


def test_slurm_commands_run_each_node_through_srun():
    spec = ClusterSpec(hosts=["n1", "n2", "n3"], head_ip="10.0.0.1", num_gpus=8, use_srun=True)
    head = head_command(spec)
    assert head[:7] == ["srun", "--nodes=1", "--ntasks=1", "--overlap", "-w", "n1", "ray"]
    worker = worker_command(spec, "n3")
    assert worker[5] == "n3" and "--address=10.0.0.1:6379" in worker and "--head" not in worker


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
