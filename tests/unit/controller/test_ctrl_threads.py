"""Each CPU worker gets its share of the node's cores: one worker is never slower than two."""

import os

import pytest

from maxrl.controller.worker_host import default_torch_threads


@pytest.mark.parametrize("workers, expected", [(1, 8), (2, 4), (3, 2), (8, 1), (16, 1)])
def test_the_node_cores_are_shared_evenly_and_never_below_one(monkeypatch, workers, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert default_torch_threads(workers) == expected
