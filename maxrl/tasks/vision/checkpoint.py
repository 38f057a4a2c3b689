"""Atomic training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds model, optimiser, scheduler, data-loader position and step (the labels sampled for the
policy gradient come from a generator seeded by (seed, rank, step), so no RNG state needs saving). It is
written to a temporary file and renamed over ``latest.pt``, so an interrupted save never leaves a truncated
checkpoint behind, and loaded with ``weights_only=True``, so a checkpoint from elsewhere cannot run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from maxrl.utils.atomic import atomic_path
from maxrl.utils.safe_state import load_weights_only

LATEST = "latest.pt"


def save_checkpoint(directory: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``directory/latest.pt`` atomically and return the path."""
    final = Path(directory) / LATEST
    with atomic_path(final) as temporary:
        torch.save(state, temporary)
    return final


def load_checkpoint(directory: str | Path) -> dict[str, Any] | None:
    """The state saved in ``directory/latest.pt``, or None when there is none; a file that holds anything but
    tensors and plain data, or is truncated, raises a `CheckpointError` naming it."""
    path = Path(directory) / LATEST
    if not path.exists():
        return None
    return load_weights_only(path)
