"""The one batch type passed between the driver and the workers.

A `Batch` holds three things whose first dimension is the sample:

* ``tensors``: a `tensordict.TensorDict` with ``batch_size == [N]`` (token ids, masks, log-probs, ...);
* ``non_tensors``: per-sample Python objects (``uid``, ``data_source``, ground truths, extra info) kept as
  1-D numpy object arrays so that indexing with a permutation is one vectorised call;
* ``meta``: a small dict of values that belong to the whole batch (temperature, eos id, ...).

Every operation returns a new `Batch`; row-selecting operations (`slice`, `split`) return views of the
tensors, like tensor slicing does. Batches pickle as tensors plus numpy arrays, so Ray ships them
without converting anything to Python lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

__all__ = ["Batch", "SAMPLE_VALID"]

SAMPLE_VALID = "sample_valid"
"""Reserved float tensor field added by `Batch.pad_to_multiple`: 1.0 on real rows, 0.0 on pad rows."""


def _to_object_array(name: str, values: Any) -> np.ndarray:
    """Turn a per-sample sequence into a 1-D numpy object array (one element per sample)."""
    if isinstance(values, np.ndarray) and values.ndim == 1:
        return values.astype(object, copy=False)
    if isinstance(values, np.ndarray) and values.ndim == 0:
        raise ValueError(f"non-tensor field {name!r} is a scalar; per-batch values belong in `meta`")
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(
            f"non-tensor field {name!r} must be a list or numpy array with one entry per sample, "
            f"got {type(values).__name__}"
        )
    values = list(values)
    array = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):  # element-wise so that lists of lists stay 1-D
        array[index] = value
    return array


def _values_equal(a: Any, b: Any) -> bool:
    """Equality that works for tensors, numpy arrays and plain Python values."""
    if a is b:
        return True
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and bool(torch.equal(a.cpu(), b.cpu()))
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and all(
            _values_equal(x, y) for x, y in zip(a.ravel(), b.ravel())
        )
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # objects whose == is not a truth value (e.g. nested arrays)
        return False


def _merge_meta(metas: Sequence[Mapping[str, Any]], operation: str) -> dict[str, Any]:
    """Merge metadata dicts; a key may appear in several only with equal values."""
    merged: dict[str, Any] = {}
    for meta in metas:
        for key, value in meta.items():
            if key in merged and not _values_equal(merged[key], value):
                raise ValueError(
                    f"{operation}: meta key {key!r} has conflicting values {merged[key]!r} and {value!r}; "
                    "per-sample values belong in tensor or non-tensor fields, per-rank values in a "
                    "broadcast result"
                )
            merged.setdefault(key, value)
    return merged


class Batch:
    """Tensors, per-sample objects and metadata sharing one sample dimension."""

    def __init__(
        self,
        tensors: Mapping[str, torch.Tensor] | TensorDict | None = None,
        non_tensors: Mapping[str, np.ndarray | Sequence[Any]] | None = None,
        meta: Mapping[str, Any] | None = None,
    ):
        tensors = {} if tensors is None else tensors
        non_tensor_arrays = {name: _to_object_array(name, v) for name, v in (non_tensors or {}).items()}
        lengths = {f"tensor field {name!r}": self._first_dim(name, t) for name, t in tensors.items()}
        lengths.update({f"non-tensor field {name!r}": len(a) for name, a in non_tensor_arrays.items()})
        if isinstance(tensors, TensorDict) and tensors.batch_dims > 0:
            lengths = {"tensors.batch_size[0]": tensors.batch_size[0], **lengths}
        first_field, length = next(iter(lengths.items()), ("", 0))
        for field, field_length in lengths.items():
            if field_length != length:
                raise ValueError(
                    f"{field} has {field_length} rows but {first_field} has {length}; "
                    "every field needs one entry per sample"
                )
        shared = set(tensors.keys()) & set(non_tensor_arrays)
        if shared:
            raise ValueError(f"fields {sorted(shared)} are given both as tensors and as non-tensors")

        if isinstance(tensors, TensorDict) and tensors.batch_dims == 1:
            self._tensors = tensors
        else:
            self._tensors = TensorDict(dict(tensors.items()), batch_size=[length])
        self._non_tensors = non_tensor_arrays
        self._meta = dict(meta or {})
        self._length = length

    @staticmethod
    def _first_dim(name: str, tensor: Any) -> int:
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(
                f"tensor field {name!r} is a {type(tensor).__name__}, not a torch.Tensor; "
                "put Python objects in `non_tensors`"
            )
        if tensor.dim() == 0:
            raise ValueError(f"tensor field {name!r} is a scalar; per-batch values belong in `meta`")
        return tensor.shape[0]

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Batch:
        """Build a batch from a flat dict (e.g. a collated data-loader batch): tensors go to `tensors`."""
        tensors = {k: v for k, v in fields.items() if isinstance(v, torch.Tensor)}
        non_tensors = {k: v for k, v in fields.items() if not isinstance(v, torch.Tensor)}
        return cls(tensors, non_tensors, meta)

    # ----------------------------------------------------------------- access
    @property
    def tensors(self) -> TensorDict:
        return self._tensors

    @property
    def non_tensors(self) -> dict[str, np.ndarray]:
        return self._non_tensors

    @property
    def meta(self) -> dict[str, Any]:
        return self._meta

    def __len__(self) -> int:
        return self._length

    def keys(self) -> list[str]:
        """Names of all per-sample fields, tensors first."""
        return [*self._tensors.keys(), *self._non_tensors]

    def __contains__(self, key: str) -> bool:
        return key in self._non_tensors or key in self._tensors.keys()

    def __getitem__(self, key: str) -> torch.Tensor | np.ndarray:
        if key in self._non_tensors:
            return self._non_tensors[key]
        if key in self._tensors.keys():
            return self._tensors[key]
        raise KeyError(f"batch has no field {key!r}; fields: {self.keys()}")

    def __repr__(self) -> str:
        tensors = ", ".join(f"{k}: {tuple(v.shape)} {v.dtype}" for k, v in self._tensors.items())
        return (
            f"Batch(len={self._length}, tensors={{{tensors}}}, non_tensors={list(self._non_tensors)}, "
            f"meta={list(self._meta)})"
        )

    def _with(self, tensors: TensorDict, non_tensors: dict[str, np.ndarray], meta=None) -> Batch:
        return Batch(tensors, non_tensors, self._meta if meta is None else meta)

    # ------------------------------------------------------------ field ops
    def select(self, keys: Iterable[str]) -> Batch:
        """A batch with only the named fields (tensor or non-tensor) and the same meta."""
        keys = list(keys)
        missing = [k for k in keys if k not in self]
        if missing:
            raise KeyError(f"select: batch has no fields {missing}; fields: {self.keys()}")
        tensor_keys = [k for k in keys if k in self._tensors.keys()]
        return self._with(
            self._tensors.select(*tensor_keys),
            {k: self._non_tensors[k] for k in keys if k in self._non_tensors},
        )

    def replace(self, fields: Mapping[str, torch.Tensor]) -> Batch:
        """The same rows with the tensor fields in `fields` replaced or added (e.g. trimmed columns)."""
        tensors = self._tensors.clone(recurse=False)
        for key, value in fields.items():
            if key in self._non_tensors:
                raise ValueError(f"replace: field {key!r} is a non-tensor field of this batch")
            tensors.set(key, value)
        return self._with(tensors, dict(self._non_tensors))

    def union(self, other: Batch) -> Batch:
        """Fields of both batches; a field present in both must hold equal values (so nothing is lost)."""
        if len(other) != len(self):
            raise ValueError(f"union: batches have {len(self)} and {len(other)} rows")
        conflicts = (set(self._non_tensors) & set(other.tensors.keys())) | (
            set(self._tensors.keys()) & set(other.non_tensors)
        )
        if conflicts:
            raise ValueError(f"union: fields {sorted(conflicts)} are tensors in one batch, non-tensors in the other")
        for key in sorted(set(self.keys()) & set(other.keys())):
            if not _values_equal(self[key], other[key]):
                raise ValueError(f"union: field {key!r} is in both batches with different values")
        tensors = self._tensors.clone(recurse=False)
        tensors.update(other.tensors)
        return self._with(
            tensors,
            {**self._non_tensors, **other.non_tensors},
            _merge_meta([self._meta, other.meta], "union"),
        )

    # -------------------------------------------------------------- row ops
    def reorder(self, indices: torch.Tensor | np.ndarray | Sequence[int]) -> Batch:
        """Rows taken at `indices` (any order, repeats allowed): ``out[i] = self[indices[i]]``."""
        index = torch.as_tensor(indices, dtype=torch.long).cpu().reshape(-1)
        if index.numel() and (index.min() < 0 or index.max() >= self._length):
            raise IndexError(
                f"reorder: indices must lie in [0, {self._length}), got min {int(index.min())}, "
                f"max {int(index.max())}"
            )
        index_np = index.numpy()
        return self._with(self._tensors[index], {k: a[index_np] for k, a in self._non_tensors.items()})

    def slice(self, start: int, stop: int) -> Batch:
        """Rows ``start:stop`` (views of the tensors)."""
        rows = slice(start, stop)
        return self._with(self._tensors[rows], {k: a[rows] for k, a in self._non_tensors.items()})

    def repeat(self, n: int, interleave: bool = True) -> Batch:
        """Each row `n` times in a row (``a a b b``) or, with ``interleave=False``, the batch tiled (``a b a b``)."""
        if n < 1:
            raise ValueError(f"repeat: n must be >= 1, got {n}")
        rows = torch.arange(self._length)
        return self.reorder(rows.repeat_interleave(n) if interleave else rows.repeat(n))

    def split(self, sizes_or_chunks: int | Sequence[int]) -> list[Batch]:
        """Split into `k` nearly equal chunks (earlier chunks one row longer) or into the given sizes."""
        if isinstance(sizes_or_chunks, int):
            chunks = sizes_or_chunks
            if chunks < 1:
                raise ValueError(f"split: number of chunks must be >= 1, got {chunks}")
            base, extra = divmod(self._length, chunks)
            sizes = [base + (i < extra) for i in range(chunks)]
        else:
            sizes = [int(s) for s in sizes_or_chunks]
            if any(s < 0 for s in sizes) or sum(sizes) != self._length:
                raise ValueError(f"split: sizes {sizes} must be non-negative and sum to {self._length}")
        bounds = np.cumsum([0, *sizes])
        return [self.slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

    @staticmethod
    def concat(batches: Sequence[Batch]) -> Batch:
        """Rows of all batches in order; fields must match, trailing tensor shapes too; meta is merged."""
        batches = list(batches)
        if not batches:
            raise ValueError("concat: need at least one batch")
        first = batches[0]
        for position, batch in enumerate(batches[1:], start=1):
            if set(batch.keys()) != set(first.keys()):
                raise ValueError(
                    f"concat: batch {position} has fields {sorted(batch.keys())}, batch 0 has {sorted(first.keys())}"
                )
            for key, tensor in first.tensors.items():
                if batch.tensors[key].shape[1:] != tensor.shape[1:]:
                    raise ValueError(
                        f"concat: tensor field {key!r} has per-row shape {tuple(batch.tensors[key].shape[1:])} "
                        f"in batch {position} but {tuple(tensor.shape[1:])} in batch 0 (pad to a common length)"
                    )
        return Batch(
            torch.cat([b.tensors for b in batches], dim=0),
            {k: np.concatenate([b.non_tensors[k] for b in batches]) for k in first.non_tensors},
            _merge_meta([b.meta for b in batches], "concat"),
        )

    def pad_to_multiple(self, k: int) -> tuple[Batch, int]:
        """Append copies of real rows until the length divides by `k`; mark rows by `sample_valid`.

        Returns ``(padded, num_pad)``. The float field `sample_valid` is 1 on real rows and 0 on pad
        rows, so a worker can keep pad rows out of losses and statistics.
        """
        if k < 1:
            raise ValueError(f"pad_to_multiple: k must be >= 1, got {k}")
        if self._length == 0:
            raise ValueError("pad_to_multiple: cannot pad an empty batch (no row to copy)")
        num_pad = -self._length % k
        padded = self.reorder(torch.arange(self._length + num_pad) % self._length)
        valid = self._tensors.get(SAMPLE_VALID, torch.ones(self._length, dtype=torch.float32))
        padded.tensors[SAMPLE_VALID] = torch.cat([valid, torch.zeros(num_pad, dtype=valid.dtype)])
        return padded, num_pad

    def strip(self, num_pad: int) -> Batch:
        """Undo `pad_to_multiple`: drop the last `num_pad` rows and the `sample_valid` field."""
        if not 0 <= num_pad <= self._length:
            raise ValueError(f"strip: num_pad must lie in [0, {self._length}], got {num_pad}")
        stripped = self.slice(0, self._length - num_pad)
        tensor_keys = [key for key in stripped.tensors.keys() if key != SAMPLE_VALID]
        return stripped._with(stripped.tensors.select(*tensor_keys), stripped.non_tensors)

    def to(self, device: str | torch.device) -> Batch:
        """The same batch with its tensors on `device` (non-tensors stay on the host)."""
        return self._with(self._tensors.to(device), self._non_tensors)
