"""Small worker classes for the controller integration tests (shipped to Ray actors by value)."""

import os
import time

import ray
import torch
import torch.distributed as dist

from maxrl.controller.methods import data_parallel, on_all_ranks, rank_zero
from maxrl.data.batch import Batch


class EchoWorker:
    """Reports where it runs, does simple per-row work, and can fail on demand."""

    def __init__(self, offset: float):
        self.offset = offset

    @on_all_ranks
    def where(self) -> dict:
        return {
            "rank": int(os.environ["RANK"]),
            "world_size": int(os.environ["WORLD_SIZE"]),
            "local_rank": int(os.environ["LOCAL_RANK"]),
            "dist_rank": dist.get_rank(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "threads": torch.get_num_threads(),
            "env_flag": os.environ.get("MAXRL_CTRL_TEST_FLAG"),
            "pid": os.getpid(),
        }

    @on_all_ranks
    def all_reduce_rank(self, scale: float) -> float:
        value = torch.tensor([scale * (dist.get_rank() + 1)])
        dist.all_reduce(value)
        return float(value)

    @rank_zero
    def rank_on_rank_zero(self) -> int:
        return dist.get_rank()

    @data_parallel
    def add_offset(self, batch: Batch, times: int = 1) -> Batch:
        """`times` output rows per input row (like n samples per prompt), tagged with this rank."""
        out = batch.repeat(times)
        return Batch(
            {"y": out["x"] + self.offset, "sample_valid": out["sample_valid"]},
            {"uid": out["uid"], "rank": [dist.get_rank()] * len(out)},
        )

    @data_parallel
    def count_valid(self, batch: Batch) -> dict:
        return {"rows": len(batch), "valid": float(batch["sample_valid"].sum())}

    @on_all_ranks
    def fail_on_rank(self, rank: int, message: str) -> int:
        if dist.get_rank() == rank:
            raise ValueError(message)
        return dist.get_rank()

    @on_all_ranks
    def exit_on_rank(self, rank: int) -> int:
        if dist.get_rank() == rank:
            os._exit(1)
        dist.barrier()  # the surviving rank waits for its dead peer, as in a real collective
        return dist.get_rank()

    @on_all_ranks
    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class TensorParallelPairs(EchoWorker):
    """Ranks 2k and 2k+1 form one data-parallel rank, as tensor-parallel peers would."""

    def dp_rank_and_size(self) -> tuple[int, int]:
        return dist.get_rank() // 2, dist.get_world_size() // 2
