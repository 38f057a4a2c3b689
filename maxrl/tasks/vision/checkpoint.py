"""Atomic training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds model, optimiser, scheduler, data-loader position and step (the labels sampled for the
policy gradient come from a generator seeded by (seed, rank, step), so no RNG state needs saving). It is
written to a temporary file and renamed over ``latest.pt``, so an interrupted save never leaves a truncated
checkpoint behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

LATEST = "latest.pt"


def save_checkpoint(directory: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``directory/latest.pt`` atomically and return the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / LATEST
    temporary = directory / f".{LATEST}.tmp-{os.getpid()}"
    torch.save(state, temporary)
    os.replace(temporary, final)
    return final


def load_checkpoint(directory: str | Path) -> dict[str, Any] | None:
    """The state saved in ``directory/latest.pt``, or None when there is none."""
    path = Path(directory) / LATEST
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)
