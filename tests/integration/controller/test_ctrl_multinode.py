"""Placement across two simulated nodes: node-contiguous ranks and one world spanning both nodes.

`ray.cluster_utils.Cluster` needs a Ray of its own, so the check runs as a script in a subprocess
(`ctrl_two_nodes.py`) and never touches the session's local Ray.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


@pytest.mark.timeout(600)
def test_placement_across_two_simulated_nodes():
    """Ranks are node-contiguous and one world spans both nodes (own Ray cluster, in a subprocess)."""
    script = Path(__file__).with_name("ctrl_two_nodes.py")
    # A private Ray temp dir keeps this cluster invisible to any other Ray on the machine.
    with tempfile.TemporaryDirectory(prefix="maxrl-ray-", ignore_cleanup_errors=True) as ray_tmp:
        done = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=540,
            env={**os.environ, "RAY_TMPDIR": ray_tmp},
        )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    nodes = [w["node_id"] for w in report["where"]]
    assert nodes[0] == nodes[1] and nodes[2] == nodes[3] and nodes[0] != nodes[2]
    assert sorted({nodes[0], nodes[2]}) == report["node_ids"]
    assert [w["local_rank"] for w in report["where"]] == [0, 1, 0, 1]
    assert [w["dist_rank"] for w in report["where"]] == [0, 1, 2, 3]
    assert report["all_reduce"] == [10.0] * 4  # 1 + 2 + 3 + 4 across nodes
    # Ranks (0, 1) and (2, 3) are tensor-parallel pairs: 2 data-parallel shards, results kept from 0 and 2.
    assert report["dp_size"] == 2
    assert report["dispatch_y"] == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert report["dispatch_uid"] == ["a", "b", "c", "d", "e"]
    assert report["dispatch_rank"] == [0, 0, 0, 2, 2]
    assert report["valid_counts"] == [{"rows": 3, "valid": 3.0}, {"rows": 3, "valid": 2.0}]
