"""Worker groups on the session's local Ray: dispatch modes, collectives, and every failure path.

Actor start-up dominates the cost, so one healthy group serves the dispatch tests; each failure
test needs a group of its own because a failure shuts the group down (by design).
"""

import re
import time

import ctrl_workers
import psutil
import pytest
import torch
from ray import cloudpickle

from maxrl.controller import (
    ResourcePool,
    WorkerDiedError,
    WorkerError,
    WorkerGroup,
    WorkerGroupError,
    WorkerTimeoutError,
)
from maxrl.data.batch import Batch

cloudpickle.register_pickle_by_value(ctrl_workers)  # the Ray workers cannot import the tests folder

START_TIMEOUT_S = 240  # generous: actor start-up on 2 shared cores varies a lot with load
CALL_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def pool(ray_cluster):
    pool = ResourcePool(nnodes=1, per_node=2, device="cpu")
    yield pool
    pool.shutdown()


@pytest.fixture(scope="module")
def echo_group(pool):
    with WorkerGroup(
        ctrl_workers.EchoWorker,
        pool,
        10.0,
        timeout_s=CALL_TIMEOUT_S,
        start_timeout_s=START_TIMEOUT_S,
        env={"MAXRL_CTRL_TEST_FLAG": "on"},
    ) as group:
        yield group


@pytest.fixture(scope="module")
def spare_pool(ray_cluster):
    """A second reservation for the groups that the failure tests kill."""
    pool = ResourcePool(nnodes=1, per_node=2, device="cpu")
    yield pool
    pool.shutdown()


def spare_group(pool: ResourcePool, timeout_s: float, **kwargs) -> WorkerGroup:
    return WorkerGroup(ctrl_workers.EchoWorker, pool, 0.0, timeout_s=timeout_s, start_timeout_s=START_TIMEOUT_S, **kwargs)


def batch_of(rows: int) -> Batch:
    return Batch({"x": torch.arange(rows, dtype=torch.float32)}, {"uid": [f"p{i}" for i in range(rows)]})


def test_broadcast_returns_one_result_per_rank_in_a_real_world(echo_group):
    where = echo_group.where()
    assert [w["rank"] for w in where] == [0, 1] == [w["dist_rank"] for w in where]
    assert [w["world_size"] for w in where] == [2, 2]
    assert [w["local_rank"] for w in where] == [0, 1]
    assert [w["threads"] for w in where] == [1, 1]
    assert [w["env_flag"] for w in where] == ["on", "on"]


def test_all_reduce_spans_the_group(echo_group):
    assert echo_group.all_reduce_rank(2.0) == [6.0, 6.0]  # 2 * (1 + 2) on both ranks


def test_uneven_dispatch_round_trip_keeps_order_and_strips_padding(echo_group):
    out = echo_group.add_offset(batch_of(5))
    assert out["y"].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert list(out["uid"]) == ["p0", "p1", "p2", "p3", "p4"]
    assert list(out["rank"]) == [0, 0, 0, 1, 1]  # 3 + 3 padded rows, the pad row stripped
    assert "sample_valid" not in out


def test_dispatch_with_several_outputs_per_row(echo_group):
    out = echo_group.add_offset(batch_of(3), times=2)
    assert out["y"].tolist() == [10.0, 10.0, 11.0, 11.0, 12.0, 12.0]
    assert list(out["uid"]) == ["p0", "p0", "p1", "p1", "p2", "p2"]


def test_dispatch_of_metrics_sees_the_pad_marks(echo_group):
    assert echo_group.count_valid(batch_of(3)) == [
        {"rows": 2, "valid": 2.0},
        {"rows": 2, "valid": 1.0},
    ]


def test_rank_zero_and_unknown_methods(echo_group):
    assert echo_group.rank_on_rank_zero() == 0
    with pytest.raises(AttributeError, match="EchoWorker declares no method 'nope' for the driver"):
        echo_group.nope()
    assert echo_group.all_reduce_rank(1.0) == [3.0, 3.0]  # still usable afterwards


def test_a_call_in_the_wrong_mode_is_refused_before_reaching_the_workers(echo_group):
    with pytest.raises(TypeError, match=r"EchoWorker.where\(\) is declared @on_all_ranks but was given a Batch"):
        echo_group.where(batch_of(2))
    with pytest.raises(TypeError, match=r"add_offset\(\) is declared @data_parallel: its first argument must be"):
        echo_group.add_offset(2)
    assert echo_group.all_reduce_rank(1.0) == [3.0, 3.0]  # refused calls leave the group usable


def test_worker_exception_carries_rank_and_traceback(spare_pool):
    with spare_group(spare_pool, CALL_TIMEOUT_S) as group:
        with pytest.raises(WorkerError) as caught:
            group.fail_on_rank(1, "bad input on purpose")
        assert caught.value.rank == 1 and caught.value.method == "fail_on_rank"
        assert "ValueError: bad input on purpose" in str(caught.value)
        assert "ctrl_workers.py" in caught.value.remote_traceback  # the worker's own frames
        with pytest.raises(WorkerGroupError, match="shut down after: EchoWorker rank 1 raised ValueError"):
            group.where()


def test_worker_killed_mid_call_gives_a_clear_error_within_the_timeout_and_leaves_no_process(spare_pool):
    with spare_group(spare_pool, CALL_TIMEOUT_S) as group:
        pids = [where["pid"] for where in group.where()]
        started = time.monotonic()
        died = r"EchoWorker rank 0 on node [\d.]+ \(id [0-9a-f]{12}\) died during exit_on_rank"
        with pytest.raises(WorkerDiedError, match=died) as caught:
            group.exit_on_rank(0)  # rank 1 is left waiting in a barrier
        assert caught.value.rank == 0
        assert time.monotonic() - started < CALL_TIMEOUT_S
    # The group shut itself down: the survivor stuck in the barrier is gone too, not an orphan.
    deadline = time.monotonic() + 30
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [pid for pid in pids if running(pid)]


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_hung_call_times_out_and_the_group_is_shut_down(spare_pool, caplog):
    with spare_group(spare_pool, 3, timeout_key="trainer.worker_timeout_s") as group:
        started = time.monotonic()
        with pytest.raises(WorkerTimeoutError, match=r"sleep\(\) did not finish within trainer.worker_timeout_s=3 "
                           r"on EchoWorker ranks \[0, 1\] .* Raise trainer.worker_timeout_s"):
            group.sleep(600)
        assert 3 <= time.monotonic() - started < 30
        assert re.search(r"sleep\(\) still running on ranks \[0, 1\] after \d s; the run ends at "
                         r"trainer.worker_timeout_s=3 s", caplog.text)  # the stall is logged before it fails
        with pytest.raises(WorkerGroupError, match="shut down after"):
            group.add_offset(batch_of(2))


def test_pool_larger_than_the_cluster_names_the_config_keys(ray_cluster):
    with pytest.raises(RuntimeError, match=r"trainer.nnodes=1 x trainer.n_gpus_per_node=64 .* Ray reports: "):
        ResourcePool(nnodes=1, per_node=64, device="cpu")
    with pytest.raises(RuntimeError, match=r"needs 1 node\(s\) with \{'CPU': 2.0, 'GPU': 2.0\}"):
        ResourcePool(nnodes=1, per_node=2, device="cuda")


def test_busy_cluster_fails_with_what_ray_reports(pool, spare_pool):
    with pytest.raises(RuntimeError, match=r"Ray did not grant .* within 1 s .* Ray reports available: "):
        ResourcePool(nnodes=1, per_node=2, device="cpu", timeout_s=1)  # both fixtures hold all 4 CPUs


def test_second_group_on_a_busy_pool_times_out_at_start(pool, echo_group):
    with pytest.raises(WorkerTimeoutError, match=r"within start_timeout_s=2 .* another worker group still using"):
        WorkerGroup(ctrl_workers.EchoWorker, pool, 0.0, timeout_s=CALL_TIMEOUT_S, start_timeout_s=2)
    assert echo_group.all_reduce_rank(1.0) == [3.0, 3.0]  # the first group is unaffected
