"""The local worker group: one worker in this process, with the Ray group's calls, errors and settings, and
nothing of it left in the process after shutdown."""

import os
import random

import pytest
import torch
import torch.distributed as dist

from maxrl.controller import LocalWorkerGroup, WorkerError, WorkerGroupError
from maxrl.controller.methods import data_parallel, on_all_ranks, rank_zero
from maxrl.controller.worker_host import default_torch_threads
from maxrl.data.batch import Batch


class EchoWorker:
    def __init__(self, offset: float):
        self.offset = offset

    @on_all_ranks
    def where(self) -> dict:
        return {
            "rank": int(os.environ["RANK"]), "world_size": int(os.environ["WORLD_SIZE"]),
            "dist_rank": dist.get_rank(), "dist_backend": dist.get_backend(), "pid": os.getpid(),
            "threads": torch.get_num_threads(), "grouped_sdpa": os.environ.get("TRANSFORMERS_SDPA_FORCE_GQA"),
        }

    @rank_zero
    def all_reduce(self, value: float) -> float:
        tensor = torch.tensor([value])
        dist.all_reduce(tensor)
        return float(tensor)

    @data_parallel
    def add_offset(self, batch: Batch, times: int = 1) -> Batch:
        out = batch.repeat(times)
        return Batch({"y": out["x"] + self.offset, "sample_valid": out["sample_valid"]}, {"uid": out["uid"]})

    @data_parallel
    def count_valid(self, batch: Batch) -> dict:
        return {"rows": len(batch), "valid": float(batch["sample_valid"].sum())}

    @on_all_ranks
    def draw(self) -> tuple[list[float], float]:
        return torch.rand(3).tolist(), random.random()

    @on_all_ranks
    def fail(self, message: str) -> None:
        raise ValueError(message)


class BrokenWorker(EchoWorker):
    def __init__(self, offset: float):
        raise KeyError("model.path")


def batch_of(rows: int) -> Batch:
    return Batch({"x": torch.arange(rows, dtype=torch.float32)}, {"uid": [f"p{i}" for i in range(rows)]})


@pytest.fixture
def group():
    with LocalWorkerGroup(EchoWorker, 10.0) as group:
        yield group


def test_the_worker_is_rank_zero_of_a_one_rank_gloo_world_in_this_process(group):
    (where,) = group.where()
    assert where == {"rank": 0, "world_size": 1, "dist_rank": 0, "dist_backend": "gloo", "pid": os.getpid(),
                     "threads": default_torch_threads(1), "grouped_sdpa": "1"}
    assert (group.world_size, group.dp_size, group.layout.dp_ranks) == (1, 1, (0,))
    assert group.all_reduce(2.5) == 2.5


def test_calls_in_each_mode_return_what_the_ray_group_returns(group):
    out = group.add_offset(batch_of(3), times=2)
    assert out["y"].tolist() == [10.0, 10.0, 11.0, 11.0, 12.0, 12.0]
    assert list(out["uid"]) == ["p0", "p0", "p1", "p1", "p2", "p2"] and "sample_valid" not in out
    assert group.count_valid(batch_of(3)) == [{"rows": 3, "valid": 3.0}]  # one shard, marked like every rank's
    pending = group.submit("all_reduce", 1.0)
    assert pending.done() and pending.result() == 1.0


def test_a_call_in_the_wrong_mode_is_refused_and_the_group_stays_usable(group):
    with pytest.raises(TypeError, match=r"EchoWorker.where\(\) is declared @on_all_ranks but was given a Batch"):
        group.where(batch_of(2))
    with pytest.raises(AttributeError, match="EchoWorker declares no method 'nope' for the driver"):
        group.nope()
    assert group.all_reduce(1.0) == 1.0


def test_a_worker_exception_is_a_worker_error_with_its_traceback_and_ends_the_group(group):
    pending = group.submit("fail", "bad input on purpose")
    with pytest.raises(WorkerError) as caught:
        pending.result()
    assert (caught.value.rank, caught.value.method) == (0, "fail")
    assert str(caught.value).startswith("EchoWorker rank 0 raised ValueError: bad input on purpose in fail()")
    assert "test_ctrl_local_group.py" in caught.value.remote_traceback and "Ray" not in str(caught.value)
    assert not dist.is_initialized()  # the world is gone: a new group may start
    with pytest.raises(WorkerGroupError, match="shut down after: EchoWorker rank 0 raised ValueError"):
        group.where()


def test_a_worker_that_fails_to_build_leaves_no_world_behind():
    with pytest.raises(WorkerError, match=r"raised KeyError: 'model.path' in BrokenWorker.__init__\(\)"):
        LocalWorkerGroup(BrokenWorker, 0.0)
    assert not dist.is_initialized()


def test_one_local_group_at_a_time(group):
    with pytest.raises(WorkerGroupError, match=r"already has a torch.distributed world .* \(trainer.worker_backend=ray\)"):
        LocalWorkerGroup(EchoWorker, 0.0)
    assert group.all_reduce(1.0) == 1.0


def test_the_worker_draws_as_in_a_fresh_process_and_leaves_the_driver_s_draws_alone():
    fresh = torch.Generator()  # a fresh process's global torch generator
    torch.manual_seed(5)
    random.seed(5)
    driver_torch, driver_python = torch.rand(2, generator=torch.Generator().manual_seed(5)), random.Random(5).random()
    with LocalWorkerGroup(EchoWorker, 0.0) as group:
        (first,), (second,) = group.draw(), group.draw()
    assert first[0] == torch.rand(3, generator=fresh).tolist()
    assert second[0] == torch.rand(3, generator=fresh).tolist()  # the worker's stream goes on between calls
    assert torch.equal(torch.rand(2), driver_torch) and random.random() == driver_python


def test_shutdown_gives_back_the_process_settings(monkeypatch):
    monkeypatch.delenv("TRANSFORMERS_SDPA_FORCE_GQA", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    threads = torch.get_num_threads()
    group = LocalWorkerGroup(EchoWorker, 0.0, torch_threads=threads + 1)
    assert group.where()[0]["threads"] == threads + 1
    group.shutdown()
    group.shutdown()  # idempotent
    assert torch.get_num_threads() == threads and not dist.is_initialized()
    assert "TRANSFORMERS_SDPA_FORCE_GQA" not in os.environ and "RANK" not in os.environ
    with pytest.raises(WorkerGroupError, match="the EchoWorker worker group is shut down$"):
        group.where()
