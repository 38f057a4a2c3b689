"""Worker methods declare their dispatch once; a call that does not fit the declaration is refused by name."""

import inspect

import pytest
import torch

from maxrl.controller.methods import (
    Dispatch,
    check_call,
    data_parallel,
    declared_methods,
    on_all_ranks,
    rank_zero,
)
from maxrl.data.batch import Batch


class Worker:
    @data_parallel
    def update(self, batch: Batch) -> dict:
        return {}

    @on_all_ranks
    def save(self, path: str) -> None:
        pass

    @rank_zero
    def peek(self) -> int:
        return 0

    def helper(self) -> None:
        """Not declared: not callable from the driver."""


class Extended(Worker):
    @on_all_ranks
    def extra(self) -> None:
        pass


def batch_of(rows: int) -> Batch:
    return Batch({"x": torch.zeros(rows)})


def test_declared_methods_and_their_modes_are_inherited():
    assert declared_methods(Worker) == {
        "update": Dispatch.DATA_PARALLEL, "save": Dispatch.ON_ALL_RANKS, "peek": Dispatch.RANK_ZERO,
    }
    assert declared_methods(Extended)["extra"] is Dispatch.ON_ALL_RANKS
    assert "helper" not in declared_methods(Extended)


def test_the_real_worker_declares_every_driver_call():
    from maxrl.workers import ActorRolloutRefWorker

    assert declared_methods(ActorRolloutRefWorker) == {
        "generate_sequences": Dispatch.DATA_PARALLEL,
        "compute_log_prob": Dispatch.DATA_PARALLEL,
        "compute_ref_log_prob": Dispatch.DATA_PARALLEL,
        "update_actor": Dispatch.DATA_PARALLEL,
        "save_checkpoint": Dispatch.ON_ALL_RANKS,
        "load_checkpoint": Dispatch.ON_ALL_RANKS,
        "export_hf": Dispatch.ON_ALL_RANKS,
        "rollout_weights": Dispatch.ON_ALL_RANKS,
    }


def test_the_rollout_worker_declares_sampling_and_weight_loads():
    from maxrl.workers.rollout_worker import RolloutWorker

    assert declared_methods(RolloutWorker) == {
        "generate_sequences": Dispatch.DATA_PARALLEL,
        "load_weights": Dispatch.ON_ALL_RANKS,
        "weights": Dispatch.ON_ALL_RANKS,
    }


def test_fitting_calls_pass():
    check_call("Worker", "update", Dispatch.DATA_PARALLEL, (batch_of(2),), {"validate": True})
    check_call("Worker", "save", Dispatch.ON_ALL_RANKS, ("/tmp/x",), {})
    check_call("Worker", "peek", Dispatch.RANK_ZERO, (), {})


@pytest.mark.parametrize("mode", [Dispatch.ON_ALL_RANKS, Dispatch.RANK_ZERO])
def test_a_batch_sent_whole_to_ranks_is_refused_naming_method_and_mode(mode):
    with pytest.raises(TypeError, match=rf"Worker.update\(\) is declared {mode} but was given a Batch: every rank"):
        check_call("Worker", "update", mode, (batch_of(2),), {})
    with pytest.raises(TypeError, match="but was given a Batch"):
        check_call("Worker", "update", mode, (), {"batch": batch_of(2)})


def test_a_data_parallel_call_needs_the_batch_first_and_keywords_after():
    with pytest.raises(TypeError, match=r"Worker.update\(\) is declared @data_parallel: its first argument must be"):
        check_call("Worker", "update", Dispatch.DATA_PARALLEL, ("/tmp/x",), {})
    with pytest.raises(TypeError, match="everything else as keyword arguments"):
        check_call("Worker", "update", Dispatch.DATA_PARALLEL, (batch_of(2), 3), {})
    with pytest.raises(TypeError, match="everything else as keyword arguments"):
        check_call("Worker", "update", Dispatch.DATA_PARALLEL, (batch_of(2),), {"other": batch_of(2)})


def test_the_default_call_timeout_is_minutes_not_an_hour():
    pytest.importorskip("ray")  # the device check runs this folder where Ray is not installed
    from maxrl.controller import WorkerGroup

    assert inspect.signature(WorkerGroup).parameters["timeout_s"].default <= 600
