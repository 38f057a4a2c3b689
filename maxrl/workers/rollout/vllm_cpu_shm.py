"""Stale shared memory of vLLM's CPU tensor-parallel engines.

On CPU, vLLM's tensor-parallel collectives run through shared-memory files named after the ranks alone
(``/dev/shm/-tp:0-[0-1]-cpushm_<rank>``), not after the run. A worker killed without shutting its engine
down (every `WorkerGroup` shutdown is a kill, as is a crash) leaves them behind, and the next engine of the
same shape on the machine then fails to create them (``errno: 17``). Files that no live process maps are
such leftovers and are safe to remove; files a live process maps belong to a running engine and are kept.
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["remove_stale_cpu_shm"]

logger = logging.getLogger(__name__)

SHM_DIR = Path("/dev/shm")
PATTERN = "*cpushm*"


def _mapped_paths(proc: Path) -> set[str]:
    """Every file path some readable process of `proc` has mapped."""
    mapped: set[str] = set()
    for maps in proc.glob("[0-9]*/maps"):
        try:
            lines = maps.read_text(errors="replace").splitlines()
        except OSError:  # the process ended, or is not ours to read
            continue
        mapped.update(line.split(maxsplit=5)[5] for line in lines if line.count(" ") >= 5 and "/" in line)
    return mapped


def remove_stale_cpu_shm(shm_dir: Path = SHM_DIR, proc: Path = Path("/proc")) -> list[Path]:
    """Remove the vLLM CPU shared-memory files in `shm_dir` that no process maps; return them."""
    candidates = sorted(shm_dir.glob(PATTERN))
    if not candidates:
        return []
    in_use = _mapped_paths(proc)
    removed = []
    for path in candidates:
        if str(path) not in in_use:
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        logger.info("removed %d stale vLLM CPU shared-memory file(s): %s", len(removed), [p.name for p in removed])
    return removed
