"""Loading ``torch.distributed.checkpoint`` folders without running code from them.

Stock DCP unpickles ``.metadata`` with plain ``pickle`` and the non-tensor entries (optimizer
hyper-parameters) with ``torch.load(weights_only=False)``: a crafted checkpoint would run arbitrary code on
every rank. Here ``.metadata`` may only name DCP's own metadata records (plus ``torch.Size``, dtypes,
layouts and paths), the entries load with ``weights_only=True``, and every shard file is checked against
the sizes the metadata promises before anything is read, so a truncated file is reported by name.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch.distributed.checkpoint import FileSystemReader
from torch.distributed.checkpoint._traverse import set_element
from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner
from torch.distributed.checkpoint.metadata import Metadata, StorageMeta
from torch.distributed.checkpoint.planner import ReadItem

from maxrl.utils.safe_state import CheckpointError, load_weights_only

__all__ = ["SafeFileSystemReader", "SafeLoadPlanner", "check_shard_files", "read_metadata"]

METADATA_FILE = ".metadata"

_ALLOWED = {
    "torch.distributed.checkpoint.metadata": {
        "Metadata", "TensorStorageMetadata", "TensorProperties", "ChunkStorageMetadata", "BytesStorageMetadata",
        "MetadataIndex", "StorageMeta", "_MEM_FORMAT_ENCODING",
    },
    "torch.distributed.checkpoint.filesystem": {"_StorageInfo"},
    "torch.serialization": {"_get_layout"},
    "torch": {"Size"},
    "pathlib": {"Path", "PosixPath", "PurePosixPath", "WindowsPath", "PureWindowsPath"},
    "collections": {"OrderedDict"},
}


class _Refused(pickle.UnpicklingError):
    """A global outside the allowlist: the file was crafted or is not DCP metadata."""


class _MetadataUnpickler(pickle.Unpickler):
    """Resolves only the classes a DCP ``.metadata`` file is made of; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise _Refused(f"it names {module}.{name}, which a checkpoint's metadata never holds")


def read_metadata(path: str | os.PathLike) -> Metadata:
    """The ``.metadata`` of the DCP folder `path`, unpickled with the allowlist above."""
    file = Path(path) / METADATA_FILE
    if not file.is_file():
        raise CheckpointError(f"{file} is missing: {path} is not a complete actor checkpoint")
    try:
        with open(file, "rb") as stream:
            metadata = _MetadataUnpickler(stream).load()
    except _Refused as error:
        raise CheckpointError(f"{file} was refused: {error}; loading it could run code") from error
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, OSError) as error:
        raise CheckpointError(f"{file} is truncated or corrupt ({type(error).__name__}: {error})") from error
    if not isinstance(metadata, Metadata):
        raise CheckpointError(f"{file} holds a {type(metadata).__name__}, not checkpoint metadata")
    return metadata


def check_shard_files(path: str | os.PathLike, metadata: Metadata) -> None:
    """Every shard file exists and is at least as long as the metadata's records in it."""
    needed: dict[str, int] = {}
    for info in (metadata.storage_data or {}).values():
        needed[info.relative_path] = max(needed.get(info.relative_path, 0), info.offset + info.length)
    for relative, size in sorted(needed.items()):
        file = Path(path) / relative
        if not file.is_file():
            raise CheckpointError(f"{file} is missing: {METADATA_FILE} lists it")
        actual = file.stat().st_size
        if actual < size:
            raise CheckpointError(f"{file} is truncated: {actual} bytes, but {METADATA_FILE} expects at least {size}")


class SafeFileSystemReader(FileSystemReader):
    """A `FileSystemReader` whose metadata is read with the allowlist."""

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        metadata = read_metadata(self.path)
        if getattr(metadata, "storage_meta", None) is None:
            metadata.storage_meta = StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        return metadata


class SafeLoadPlanner(DefaultLoadPlanner):
    """A `DefaultLoadPlanner` that loads non-tensor entries with ``weights_only=True``."""

    def load_bytes(self, read_item: ReadItem, value: io.BytesIO) -> None:
        fqn = read_item.dest_index.fqn
        loaded = load_weights_only(value, name=f"checkpoint entry {fqn!r}")
        if self.flatten_state_dict:
            set_element(self.original_state_dict, self.mappings[fqn], loaded)
        else:
            self.state_dict[fqn] = loaded
