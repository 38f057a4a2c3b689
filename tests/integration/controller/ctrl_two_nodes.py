"""Build a worker group on a simulated 2-node Ray cluster and print what it saw as JSON.

Run as a script (the integration test starts it in a subprocess) because it needs its own Ray
cluster (`ray.cluster_utils.Cluster`), which cannot coexist with the test session's local Ray.
"""

import json
import sys
import time
from pathlib import Path

import ray
import torch
from ray import cloudpickle
from ray.cluster_utils import Cluster

sys.path.insert(0, str(Path(__file__).parent))
import ctrl_workers  # noqa: E402

from maxrl.controller import ResourcePool, WorkerGroup  # noqa: E402
from maxrl.data.batch import Batch  # noqa: E402


def main() -> None:
    cloudpickle.register_pickle_by_value(ctrl_workers)
    started = time.monotonic()
    node_args = {"num_cpus": 2, "object_store_memory": 128 * 1024**2}
    cluster = Cluster(initialize_head=True, head_node_args={**node_args, "include_dashboard": False})
    try:
        nodes = [cluster.head_node, cluster.add_node(**node_args)]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        cluster_ready = time.monotonic()
        pool = ResourcePool(nnodes=2, per_node=2, device="cpu")
        group = WorkerGroup(ctrl_workers.TensorParallelPairs, pool, 100.0, timeout_s=60, start_timeout_s=240)
        group_ready = time.monotonic()
        batch = Batch({"x": torch.arange(5.0)}, {"uid": list("abcde")})
        out = group.add_offset(batch)
        report = {
            "node_ids": sorted(node.node_id for node in nodes),
            "where": group.where(),
            "all_reduce": group.all_reduce_rank(1.0),
            "dp_size": group.dp_size,
            "dispatch_y": out["y"].tolist(),
            "dispatch_uid": list(out["uid"]),
            "dispatch_rank": [int(r) for r in out["rank"]],
            "valid_counts": group.count_valid(batch),
            "seconds": {"cluster": cluster_ready - started, "worker_group": group_ready - cluster_ready},
        }
        group.shutdown()
        pool.shutdown()
        print(json.dumps(report))
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
