"""Resource pools: reserve one Ray placement-group bundle per device, node by node.

A pool of ``nnodes x per_node`` devices is one ``STRICT_PACK`` placement group per node (so the
bundles of a node really share a machine), each bundle holding one device (a GPU, or on CPU a few
cores). Bundles are ordered by the node they landed on, which makes the ranks of a worker group built
on the pool node-contiguous: ranks ``0..per_node-1`` share a node, and so on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import ray
from ray.util.placement_group import PlacementGroup, placement_group, remove_placement_group

logger = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Bundle:
    """One reserved device slot: where a single worker process will run."""

    placement_group: PlacementGroup
    index: int
    node_id: str
    node_ip: str
    local_rank: int


class ResourcePool:
    """``nnodes`` nodes with ``per_node`` devices each, reserved through Ray placement groups.

    `cpus_per_worker` CPUs go with every bundle (on a CPU pool they are the worker's compute; the
    worker group sets the torch thread count from it). Creating the pool waits up to `timeout_s`
    for Ray to grant the reservation and otherwise explains what the cluster lacks.
    """

    def __init__(
        self,
        nnodes: int,
        per_node: int,
        device: str = "cpu",
        cpus_per_worker: int = 1,
        timeout_s: float = 60.0,
    ):
        if device not in DEVICES:
            raise ValueError(f"ResourcePool: device must be one of {DEVICES}, got {device!r}")
        if nnodes < 1 or per_node < 1 or cpus_per_worker < 1:
            raise ValueError(
                f"ResourcePool: trainer.nnodes={nnodes}, trainer.n_gpus_per_node={per_node} and "
                f"cpus_per_worker={cpus_per_worker} must all be >= 1"
            )
        if not ray.is_initialized():
            raise RuntimeError("ResourcePool: call ray.init() before creating a resource pool")
        self.nnodes = nnodes
        self.per_node = per_node
        self.device = device
        self.cpus_per_worker = cpus_per_worker
        self.bundle_resources = {"CPU": float(cpus_per_worker)}
        if device == "cuda":
            self.bundle_resources["GPU"] = 1.0
        self._check_cluster_can_fit()
        self._placement_groups = [
            placement_group([dict(self.bundle_resources)] * per_node, strategy="STRICT_PACK")
            for _ in range(nnodes)
        ]
        self._wait_until_ready(timeout_s)
        self.bundles = self._ordered_bundles()
        logger.info(
            "resource pool ready: %d node(s) x %d %s bundle(s) %s",
            nnodes, per_node, device, self.bundle_resources,
        )

    @property
    def world_size(self) -> int:
        return self.nnodes * self.per_node

    def _demand(self) -> str:
        return (
            f"trainer.nnodes={self.nnodes} x trainer.n_gpus_per_node={self.per_node} "
            f"{self.device} workers, each bundle {self.bundle_resources}"
        )

    def _check_cluster_can_fit(self) -> None:
        """Fail fast when no arrangement of the cluster's nodes can hold the pool."""
        per_node_need = {name: amount * self.per_node for name, amount in self.bundle_resources.items()}
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        fitting = [
            node for node in nodes
            if all(node["Resources"].get(name, 0.0) >= amount for name, amount in per_node_need.items())
        ]
        if len(fitting) < self.nnodes:
            raise RuntimeError(
                f"the Ray cluster cannot hold {self._demand()}: it needs {self.nnodes} node(s) with "
                f"{per_node_need} each, but only {len(fitting)} node(s) qualify. Ray reports: "
                f"{self._describe_nodes(nodes)}. Lower trainer.nnodes / trainer.n_gpus_per_node or add nodes."
            )

    def _wait_until_ready(self, timeout_s: float) -> None:
        ready, _ = ray.wait([pg.ready() for pg in self._placement_groups],
                           num_returns=len(self._placement_groups), timeout=timeout_s)
        if len(ready) < len(self._placement_groups):
            self.shutdown()
            raise RuntimeError(
                f"Ray did not grant {self._demand()} within {timeout_s:g} s (other actors may hold the "
                f"resources). Ray reports available: {ray.available_resources()}; nodes: "
                f"{self._describe_nodes([n for n in ray.nodes() if n.get('Alive')])}."
            )

    @staticmethod
    def _describe_nodes(nodes: list[dict]) -> str:
        keep = ("CPU", "GPU")
        return "; ".join(
            f"{node['NodeManagerAddress']} {({k: v for k, v in node['Resources'].items() if k in keep})}"
            for node in nodes
        ) or "no alive nodes"

    def _ordered_bundles(self) -> list[Bundle]:
        """All bundles, sorted so that bundles of one node get consecutive ranks."""
        node_ips = {node["NodeID"]: node["NodeManagerAddress"] for node in ray.nodes()}
        placed = []
        for pg in self._placement_groups:
            node_ids = ray.util.placement_group_table(pg)["bundles_to_node_id"]
            placed.extend((node_ips[node_ids[i]], node_ids[i], pg, i) for i in range(self.per_node))
        placed.sort(key=lambda item: (item[0], item[1]))
        bundles, seen_on_node = [], {}
        for ip, node_id, pg, index in placed:
            local_rank = seen_on_node.get(node_id, 0)
            seen_on_node[node_id] = local_rank + 1
            bundles.append(Bundle(pg, index, node_id, ip, local_rank))
        return bundles

    def shutdown(self) -> None:
        """Release the reservation (the worker groups on it should be shut down first)."""
        for pg in self._placement_groups:
            remove_placement_group(pg)
        self._placement_groups = []
