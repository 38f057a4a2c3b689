"""Checkpoint state that loads without running code: JSON for small state, ``weights_only`` for tensors.

A pickle runs whatever its author put in it when it is loaded, so a checkpoint from someone else
(``trainer.resume_from_path``) must not be one. Small state (step counters, loader position, RNG states,
schedules) is stored as JSON: tensors and numpy arrays become tagged base64 records of dtype, shape and
bytes, and tuples and non-string dict keys are tagged so that everything comes back with its type
(``random.setstate`` needs tuples). Files that must hold model-sized tensors are loaded with
``torch.load(weights_only=True)``, which refuses every object that is not plain data.

Every failure is a `CheckpointError` whose message names the file and says what is wrong with it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maxrl.utils.atomic import write_text_atomic

__all__ = ["CheckpointError", "decode", "encode", "load_json_state", "load_weights_only", "save_json_state"]

_TENSOR, _NDARRAY, _TUPLE, _DICT = "__tensor__", "__ndarray__", "__tuple__", "__dict__"
_TAGS = (_TENSOR, _NDARRAY, _TUPLE, _DICT)
_NUMPY_KINDS = "biufc"  # bool, int, unsigned, float, complex: never object arrays


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be loaded; the message names the file and what is wrong with it."""


def _raw(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode(value: Any, where: str = "state") -> Any:
    """`value` as plain JSON data; `where` names the entry in the error for a type JSON cannot hold."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        return {_TENSOR: {"dtype": str(flat.dtype).removeprefix("torch."), "shape": list(value.shape),
                          "data": _raw(flat.view(torch.uint8).numpy().tobytes())}}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMPY_KINDS:
            raise TypeError(f"{where}: a numpy array of dtype {value.dtype} cannot be stored in a JSON checkpoint")
        return {_NDARRAY: {"dtype": value.dtype.str, "shape": list(value.shape),
                           "data": _raw(np.ascontiguousarray(value).tobytes())}}
    if isinstance(value, tuple):
        return {_TUPLE: [encode(item, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, list):
        return [encode(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and not (len(value) == 1 and next(iter(value)) in _TAGS):
            return {key: encode(item, f"{where}[{key!r}]") for key, item in value.items()}
        return {_DICT: [[encode(key, where), encode(item, f"{where}[{key!r}]")] for key, item in value.items()]}
    raise TypeError(f"{where}: {type(value).__name__} values cannot be stored in a JSON checkpoint")


def _tensor(record: dict) -> torch.Tensor:
    dtype = getattr(torch, record["dtype"], None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown tensor dtype {record['dtype']!r}")
    shape = [int(size) for size in record["shape"]]
    raw = bytearray(base64.b64decode(record["data"], validate=True))
    if len(raw) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise ValueError(f"a tensor of shape {shape} and dtype {record['dtype']} with {len(raw)} bytes of data")
    if not raw:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(raw, dtype=torch.uint8).view(dtype).reshape(shape).clone()


def _ndarray(record: dict) -> np.ndarray:
    dtype = np.dtype(record["dtype"])
    if dtype.kind not in _NUMPY_KINDS:
        raise ValueError(f"a numpy array of dtype {dtype}")
    return np.frombuffer(base64.b64decode(record["data"], validate=True), dtype=dtype).reshape(record["shape"]).copy()


def decode(value: Any) -> Any:
    """The inverse of `encode`; raises ValueError on a record `encode` cannot have written."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and next(iter(value)) in _TAGS:
        ((tag, body),) = value.items()
        if tag == _TENSOR:
            return _tensor(body)
        if tag == _NDARRAY:
            return _ndarray(body)
        if tag == _TUPLE:
            return tuple(decode(item) for item in body)
        return {_hashable(decode(key)): decode(item) for key, item in body}
    return {key: decode(item) for key, item in value.items()}


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, dict)):
        raise ValueError(f"a dict key of type {type(key).__name__}")
    return key


def save_json_state(path: str | os.PathLike, state: Any) -> None:
    """Write `state` to `path` as JSON, atomically."""
    write_text_atomic(path, json.dumps(encode(state, Path(path).name)))


def load_json_state(path: str | os.PathLike) -> Any:
    """What `save_json_state` wrote to `path`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except OSError as error:
        raise CheckpointError(f"{path} cannot be read: {error}") from error
    try:
        return decode(json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"{path} is not valid JSON ({error}; {len(raw)} bytes): the file is truncated or corrupt"
        ) from error
    except (ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"{path} holds a malformed entry: {error}") from error


def _refused_object(message: str) -> str | None:
    """What ``torch.load(weights_only=True)`` refused to unpickle, from its error message ("Unsupported global:
    GLOBAL eval was not an allowed global", "unsupported GLOBAL posix.system whose module posix is blocked"), or
    "an object" when it refused without naming one; None when the message is about something else (a cut file)."""
    named = re.search(r"GLOBAL (\S+)", message, re.IGNORECASE)
    if named is not None:
        return named.group(1)
    return "an object" if "Weights only load failed" in message else None


def load_weights_only(
    source: str | os.PathLike | io.BytesIO, name: str | None = None, map_location: str | None = "cpu"
) -> Any:
    """``torch.load(source, weights_only=True)``: tensors and plain containers only, never arbitrary objects.

    `name` (default: the path) says in errors what `source` is.
    """
    name = name or str(source)
    if not isinstance(source, io.BytesIO) and not Path(source).is_file():
        raise CheckpointError(f"{name} is missing")
    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        refused = _refused_object(str(error))
        if refused is None:
            raise CheckpointError(f"{name} is truncated or corrupt ({str(error).splitlines()[-1]})") from error
        raise CheckpointError(
            f"{name} was refused: it holds {refused}, which is neither a tensor nor plain data; loading it would "
            "need unpickling, which can run arbitrary code"
        ) from error
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise CheckpointError(f"{name} is truncated or corrupt ({error})") from error
