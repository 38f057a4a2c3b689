"""Dispatch by data-parallel rank without Ray: layouts, sharding with padding, gathering."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from maxrl.controller.dispatch import DataParallelLayout, gather_shards, shard_batch
from maxrl.data.batch import SAMPLE_VALID, Batch


def samples_per_prompt(batch: Batch, n: int) -> Batch:
    """What a rollout worker does: n outputs per input row, each row's outputs consecutive."""
    out = batch.repeat(n)
    return Batch({"y": out["x"] * 10 + torch.arange(len(out)) % n}, {"uid": out["uid"]})


@settings(max_examples=80, deadline=None)
@given(
    rows=st.integers(min_value=1, max_value=17),
    dp_size=st.integers(min_value=1, max_value=6),
    n=st.integers(min_value=1, max_value=3),
)
def test_sharded_run_equals_single_process_run(rows, dp_size, n):
    batch = Batch({"x": torch.arange(rows)}, {"uid": [f"p{i}" for i in range(rows)]})
    shards, num_pad = shard_batch(batch, dp_size)
    assert len(shards) == dp_size and len({len(s) for s in shards}) == 1
    assert sum(float(s[SAMPLE_VALID].sum()) for s in shards) == rows
    gathered = gather_shards([samples_per_prompt(s, n) for s in shards], len(shards[0]), num_pad, "gen")
    expected = samples_per_prompt(batch, n)
    assert torch.equal(gathered["y"], expected["y"])
    assert list(gathered["uid"]) == list(expected["uid"])


def test_padding_goes_to_the_last_shard_and_is_marked():
    shards, num_pad = shard_batch(Batch({"x": torch.arange(5)}), 2)
    assert num_pad == 1
    assert [s["x"].tolist() for s in shards] == [[0, 1, 2], [3, 4, 0]]
    assert [s[SAMPLE_VALID].tolist() for s in shards] == [[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]


def test_non_batch_outputs_come_back_per_data_parallel_rank():
    assert gather_shards([{"loss": 1.0}, {"loss": 2.0}], 3, 1, "update") == [{"loss": 1.0}, {"loss": 2.0}]


def test_gather_rejects_inconsistent_outputs():
    batch = Batch({"x": torch.arange(3)})
    with pytest.raises(TypeError, match="some ranks returned a Batch and others did not"):
        gather_shards([batch, {"loss": 1.0}], 3, 0, "m")
    with pytest.raises(ValueError, match=r"each rank got 2 rows and returned \[3, 3\]"):
        gather_shards([batch, batch], 2, 0, "m")
    with pytest.raises(ValueError, match="the batch is empty"):
        shard_batch(Batch({"x": torch.zeros(0)}), 2)


def test_tensor_parallel_peers_share_a_data_parallel_rank():
    layout = DataParallelLayout.from_reports([(0, 2), (0, 2), (1, 2), (1, 2)])
    assert layout.dp_size == 2 and layout.dp_ranks == (0, 0, 1, 1)
    assert layout.collect_ranks == [0, 2]
    assert DataParallelLayout.pure_data_parallel(3).collect_ranks == [0, 1, 2]


def test_layout_rejects_inconsistent_reports():
    with pytest.raises(ValueError, match="different data-parallel sizes"):
        DataParallelLayout.from_reports([(0, 2), (1, 3)])
    with pytest.raises(ValueError, match=r"ranks \[0, 0\] for data-parallel size 2"):
        DataParallelLayout.from_reports([(0, 2), (0, 2)])
