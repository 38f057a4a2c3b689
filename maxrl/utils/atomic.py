"""Atomic writes: a reader (or a resumed run) sees the old file or the new one, never half of either.

Everything is written beside its destination under a temporary name, flushed to disk (``fsync``) and then
renamed into place; the folder holding it is synced too, so the rename itself survives a power cut. A
crash leaves at most a hidden temporary file or folder behind, which nothing reads.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "atomic_path",
    "fsync",
    "publish_file",
    "replace_dir",
    "stale_temporaries",
    "write_bytes_atomic",
    "write_text_atomic",
]

_TMP = ".tmp"  # the mark of a temporary file, before the destination's suffix


def fsync(path: str | os.PathLike) -> None:
    """Flush file `path`, or the entries (new names, renames) of folder `path`, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: str | os.PathLike) -> None:
    """Flush every file and folder under `root` to disk (before renaming a finished folder into place)."""
    for folder, _, files in os.walk(root):
        for name in files:
            fsync(os.path.join(folder, name))
        fsync(folder)


def publish_file(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Move the finished file `tmp` onto `path` durably (flush, rename, flush the folder)."""
    fsync(tmp)
    os.replace(tmp, path)
    fsync(Path(path).parent)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix, so writers that infer the format from it work);
    the file written there replaces `path` when the ``with`` block succeeds and is removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{threading.get_ident()}{_TMP}{path.suffix}")
    try:
        yield tmp
        publish_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """The temporary files that killed `atomic_path` writes of `path` left beside it."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.stem}.*{_TMP}{path.suffix}"))


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def replace_dir(tmp_dir: str | os.PathLike, path: str | os.PathLike) -> None:
    """Move the finished folder `tmp_dir` to `path`, replacing a folder already there.

    The old folder is first renamed aside (``.<name>.old-<pid>``) and deleted only after the new one is in
    place, so there is no moment at which `path` holds a partly deleted or partly written folder.
    """
    tmp_dir, path = Path(tmp_dir), Path(path)
    fsync_tree(tmp_dir)
    aside = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(path, aside)
    os.replace(tmp_dir, path)
    fsync(path.parent)
    shutil.rmtree(aside, ignore_errors=True)
