"""The Batch type: round-trip properties (hypothesis) and the errors bad input gets."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tensordict import TensorDict

from maxrl.data.batch import SAMPLE_VALID, Batch


def make_batch(n: int, meta=None) -> Batch:
    """Rows that are all different, so every row operation is visible in every field."""
    return Batch(
        {
            "ids": torch.arange(n * 3).reshape(n, 3),
            "score": torch.arange(n, dtype=torch.float32) / 2,
        },
        {"uid": [f"u{i}" for i in range(n)], "extra": [{"row": i, "path": [i, i + 1]} for i in range(n)]},
        meta if meta is not None else {"temperature": 0.7},
    )


def assert_same(a: Batch, b: Batch) -> None:
    assert len(a) == len(b)
    assert sorted(a.tensors.keys()) == sorted(b.tensors.keys())
    assert sorted(a.non_tensors) == sorted(b.non_tensors)
    for key, tensor in a.tensors.items():
        assert tensor.dtype == b[key].dtype
        assert torch.equal(tensor, b[key]), key
    for key, array in a.non_tensors.items():
        assert list(array) == list(b[key]), key
    assert a.meta == b.meta


def row(batch: Batch, i: int) -> tuple:
    return (batch["ids"][i].tolist(), float(batch["score"][i]), batch["uid"][i], batch["extra"][i])


lengths = st.integers(min_value=0, max_value=13)


@settings(max_examples=60, deadline=None)
@given(n=lengths, chunks=st.integers(min_value=1, max_value=6))
def test_split_into_chunks_then_concat_is_identity(n, chunks):
    batch = make_batch(n)
    parts = batch.split(chunks)
    sizes = [len(p) for p in parts]
    assert len(parts) == chunks
    assert sizes == sorted(sizes, reverse=True) and max(sizes) - min(sizes) <= 1
    assert_same(Batch.concat(parts), batch)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_split_by_sizes_then_concat_is_identity(data):
    sizes = data.draw(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=5))
    batch = make_batch(sum(sizes))
    parts = batch.split(sizes)
    assert [len(p) for p in parts] == sizes
    assert_same(Batch.concat(parts), batch)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=1, max_value=13), k=st.integers(min_value=1, max_value=6))
def test_pad_then_strip_is_identity(n, k):
    batch = make_batch(n)
    padded, num_pad = batch.pad_to_multiple(k)
    assert len(padded) % k == 0 and 0 <= num_pad < k and len(padded) == n + num_pad
    assert padded[SAMPLE_VALID].dtype == torch.float32
    assert padded[SAMPLE_VALID].tolist() == [1.0] * n + [0.0] * num_pad
    for i in range(n, n + num_pad):  # pad rows are copies of real rows
        assert row(padded, i) == row(batch, i % n)
    assert_same(padded.strip(num_pad), batch)


@settings(max_examples=40, deadline=None)
@given(n=lengths, times=st.integers(min_value=1, max_value=4))
def test_repeat_interleaves_or_tiles(n, times):
    batch = make_batch(n)
    interleaved = batch.repeat(times)
    tiled = batch.repeat(times, interleave=False)
    assert len(interleaved) == len(tiled) == n * times
    for i in range(n * times):
        assert row(interleaved, i) == row(batch, i // times)
        assert row(tiled, i) == row(batch, i % n)
    assert interleaved.meta == batch.meta


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_reorder_gathers_rows_and_inverse_permutation_restores(data):
    n = data.draw(st.integers(min_value=1, max_value=13))
    batch = make_batch(n)
    indices = data.draw(st.lists(st.integers(min_value=0, max_value=n - 1), max_size=20))
    gathered = batch.reorder(indices)
    assert [row(gathered, i) for i in range(len(indices))] == [row(batch, j) for j in indices]
    permutation = np.array(data.draw(st.permutations(range(n))))
    assert_same(batch.reorder(permutation).reorder(np.argsort(permutation)), batch)
    assert_same(batch.reorder(torch.as_tensor(permutation)), batch.reorder(permutation.tolist()))


def test_pad_keeps_existing_sample_valid_and_marks_new_rows():
    padded, num_pad = make_batch(3).pad_to_multiple(2)
    twice, more = padded.slice(0, 3).pad_to_multiple(4)
    assert (num_pad, more) == (1, 1)
    assert twice[SAMPLE_VALID].tolist() == [1.0, 1.0, 1.0, 0.0]


def test_slice_select_and_getitem():
    batch = make_batch(5)
    part = batch.slice(1, 3)
    assert [row(part, i) for i in range(2)] == [row(batch, 1), row(batch, 2)]
    chosen = batch.select(["ids", "uid"])
    assert chosen.keys() == ["ids", "uid"] and chosen.meta == batch.meta
    assert "ids" in batch and "nope" not in batch
    with pytest.raises(KeyError, match="'nope'"):
        batch["nope"]
    with pytest.raises(KeyError, match=r"no fields \['nope'\]"):
        batch.select(["ids", "nope"])


def test_union_merges_fields_and_meta_and_accepts_equal_shared_fields():
    batch = make_batch(4)
    extra = Batch({"ids": batch["ids"].clone(), "reward": torch.ones(4)}, {"tag": list("abcd")}, {"step": 3})
    merged = batch.union(extra)
    assert sorted(merged.keys()) == ["extra", "ids", "reward", "score", "tag", "uid"]
    assert merged.meta == {"temperature": 0.7, "step": 3}
    assert "reward" not in batch  # the inputs are not modified


def test_union_rejects_conflicts():
    batch = make_batch(4)
    with pytest.raises(ValueError, match="field 'ids' is in both batches with different values"):
        batch.union(Batch({"ids": torch.zeros(4, 3, dtype=torch.long)}))
    with pytest.raises(ValueError, match=r"tensors in one batch, non-tensors in the other"):
        batch.union(Batch({}, {"ids": list(range(4))}))
    with pytest.raises(ValueError, match="4 and 2 rows"):
        batch.union(make_batch(2))
    with pytest.raises(ValueError, match="meta key 'temperature' has conflicting values"):
        batch.union(make_batch(4, meta={"temperature": 1.0}))


def test_concat_merges_equal_meta_and_rejects_mismatches():
    assert Batch.concat([make_batch(2), make_batch(3)]).meta == {"temperature": 0.7}
    with pytest.raises(ValueError, match="need at least one batch"):
        Batch.concat([])
    with pytest.raises(ValueError, match="batch 1 has fields"):
        Batch.concat([make_batch(2), make_batch(2).select(["ids"])])
    wide = Batch({"ids": torch.zeros(2, 5, dtype=torch.long), "score": torch.zeros(2)}, make_batch(2).non_tensors)
    with pytest.raises(ValueError, match=r"'ids' has per-row shape \(5,\) in batch 1 but \(3,\) in batch 0"):
        Batch.concat([make_batch(2), wide])
    with pytest.raises(ValueError, match="meta key 'temperature'"):
        Batch.concat([make_batch(2), make_batch(2, meta={"temperature": 1.0})])


def test_length_mismatch_names_both_fields_and_lengths():
    with pytest.raises(ValueError, match=r"non-tensor field 'uid' has 2 rows but tensor field 'ids' has 3"):
        Batch({"ids": torch.zeros(3, 2)}, {"uid": ["a", "b"]})
    with pytest.raises(ValueError, match=r"tensor field 'b' has 4 rows but tensor field 'a' has 3"):
        Batch({"a": torch.zeros(3), "b": torch.zeros(4)})


def test_constructor_rejects_bad_fields():
    with pytest.raises(ValueError, match="'t' is a scalar"):
        Batch({"t": torch.tensor(1.0)})
    with pytest.raises(TypeError, match="'x' is a list, not a torch.Tensor"):
        Batch({"x": [1, 2]})
    with pytest.raises(TypeError, match="non-tensor field 'name' must be a list"):
        Batch({}, {"name": "abc"})
    with pytest.raises(ValueError, match=r"\['x'\] are given both as tensors and as non-tensors"):
        Batch({"x": torch.zeros(2)}, {"x": [1, 2]})


def test_non_tensors_become_one_dimensional_object_arrays():
    batch = Batch({}, {"pairs": [[1, 2], [3, 4]], "ints": np.array([5, 6])})
    assert len(batch) == 2
    assert batch["pairs"].shape == (2,) and batch["pairs"].dtype == object and batch["pairs"][1] == [3, 4]
    assert batch["ints"].dtype == object and list(batch["ints"]) == [5, 6]


def test_tensordict_input_and_from_dict():
    td = TensorDict({"a": torch.arange(4)}, batch_size=[4])
    assert Batch(td).tensors is td
    loaded = Batch.from_dict({"input_ids": torch.ones(2, 3), "data_source": ["x", "y"]}, meta={"eos": 2})
    assert list(loaded.tensors.keys()) == ["input_ids"] and list(loaded.non_tensors) == ["data_source"]
    assert loaded.meta == {"eos": 2}


def test_pickle_round_trip_keeps_tensors_as_tensors():
    batch = make_batch(6)
    restored = pickle.loads(pickle.dumps(batch))
    assert_same(restored, batch)
    assert isinstance(restored.tensors, TensorDict) and isinstance(restored["ids"], torch.Tensor)


def test_pickled_size_is_the_raw_tensor_bytes_not_python_lists():
    batch = Batch({"logits": torch.randn(256, 1024)}, {"uid": [str(i) for i in range(256)]})
    raw_bytes = batch["logits"].numel() * batch["logits"].element_size()
    assert raw_bytes < len(pickle.dumps(batch)) < raw_bytes * 1.05  # a list of floats would be ~2x larger


def test_to_device_moves_tensors_only():
    moved = make_batch(3).to("cpu")
    assert moved["ids"].device.type == "cpu" and list(moved["uid"]) == ["u0", "u1", "u2"]


def test_bad_arguments_raise_clear_errors():
    batch = make_batch(3)
    with pytest.raises(IndexError, match=r"indices must lie in \[0, 3\)"):
        batch.reorder([0, 3])
    with pytest.raises(ValueError, match=r"sizes \[1, 1\] must be non-negative and sum to 3"):
        batch.split([1, 1])
    with pytest.raises(ValueError, match="number of chunks must be >= 1"):
        batch.split(0)
    with pytest.raises(ValueError, match="k must be >= 1"):
        batch.pad_to_multiple(0)
    with pytest.raises(ValueError, match="cannot pad an empty batch"):
        make_batch(0).pad_to_multiple(2)
    with pytest.raises(ValueError, match=r"num_pad must lie in \[0, 3\]"):
        batch.strip(4)
    with pytest.raises(ValueError, match="n must be >= 1"):
        batch.repeat(0)
