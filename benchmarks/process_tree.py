"""The driver's process tree: CPU time used, and peak resident memory of each process.

Every process of a run descends from the driver: it starts Ray's raylet, which starts the worker
actors, and the reward manager's process pool. Summing CPU time over the tree gives a cost measure
that, unlike wall time, hardly changes when other programs compete for the cores.

For memory, a background thread walks the tree every `interval_s` and keeps, per process, the kernel's
high-water mark of its resident set (``VmHWM``), which is exact however short the peak was. The
driver is long-lived, so its lifetime high-water mark would include earlier benchmarks; for it the
thread keeps the largest resident set it saw during the run instead.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = [
    "ProcessPeak",
    "ProcessTreeMemory",
    "high_water_mark_bytes",
    "process_role",
    "tree_cpu_seconds",
    "wait_for_workers_to_exit",
    "CpuAtLineAppends",
]

MIB = 2**20
RAY_MARKS = ("ray::", "/ray/")
"""Substrings of the command line of Ray's processes: actor/worker titles, or a path inside the ray package."""


def tree_cpu_seconds() -> float:
    """User + system CPU seconds of this process and its living descendants so far."""
    driver = psutil.Process(os.getpid())
    total = 0.0
    for process in [driver, *driver.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:  # ended between listing and reading
            continue
        total += times.user + times.system
    return total


def wait_for_workers_to_exit(timeout_s: float = 60.0) -> bool:
    """Wait until no worker-group process of an earlier run is left (Ray kills actors asynchronously),
    so that the next run's measurements do not include it. Returns whether they all exited in time."""
    driver = psutil.Process(os.getpid())

    def workers() -> list[psutil.Process]:
        found = []
        for process in driver.children(recursive=True):
            try:
                if process_role(process, driver.pid) == "worker" and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
            except psutil.Error:
                continue
        return found

    _, alive = psutil.wait_procs(workers(), timeout=timeout_s)
    return not alive


@dataclass(frozen=True)
class ProcessPeak:
    role: str
    pid: int
    peak_bytes: int

    def to_dict(self) -> dict:
        return {"role": self.role, "pid": self.pid, "peak_mib": round(self.peak_bytes / MIB, 1)}


def high_water_mark_bytes(pid: int) -> int | None:
    """``VmHWM`` of process `pid` (Linux), or None where the kernel does not report it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def process_role(process: psutil.Process, driver_pid: int) -> str:
    """``driver``, ``worker`` (a Ray actor of a worker group), ``reward`` (a process the driver spawned
    with multiprocessing: the reward manager's pool), ``ray`` (Ray's own processes and idle Ray workers)
    or ``other``."""
    if process.pid == driver_pid:
        return "driver"
    command = " ".join(process.cmdline())
    if "WorkerHost" in command:
        return "worker"
    if process.ppid() == driver_pid and "spawn_main" in command:
        return "reward"
    return "ray" if any(mark in command for mark in RAY_MARKS) else "other"


class _Poller:
    """Context manager: call ``self._poll()`` now and every `interval_s` seconds in a background thread
    while the block runs."""

    def __init__(self, interval_s: float, name: str):
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=name, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while True:
            self._poll()
            if self._stop.wait(self.interval_s):
                return

    def _poll(self) -> None:
        raise NotImplementedError


class ProcessTreeMemory(_Poller):
    """Context manager: sample the memory of this process and its descendants while the block runs.

    With `root_pid`, the tree of that process instead (a run started as a subprocess). Such a root is
    fresh, so its own high-water mark is used, as for every other process.
    """

    def __init__(self, interval_s: float = 0.25, root_pid: int | None = None):
        super().__init__(interval_s, "process-tree-memory")
        self._driver = psutil.Process(root_pid or os.getpid())
        self._fresh_root = self._driver.pid != os.getpid()
        self._peaks: dict[int, ProcessPeak] = {}

    def _poll(self) -> None:
        try:
            tree = [self._driver, *self._driver.children(recursive=True)]
        except psutil.Error:  # a subprocess root has ended
            return
        for process in tree:
            try:
                role = process_role(process, self._driver.pid)
                fresh = role != "driver" or self._fresh_root
                peak = high_water_mark_bytes(process.pid) if fresh else None
                peak = peak if peak is not None else process.memory_info().rss
            except psutil.Error:  # the process ended between listing and reading
                continue
            known = self._peaks.get(process.pid)
            if known is None or peak > known.peak_bytes:
                self._peaks[process.pid] = ProcessPeak(role, process.pid, peak)

    def peaks(self) -> list[ProcessPeak]:
        """One entry per process seen, the driver first, then by role and pid."""
        order = {"driver": 0, "worker": 1, "reward": 2, "ray": 3, "other": 4}
        return sorted(self._peaks.values(), key=lambda peak: (order[peak.role], peak.pid))


class CpuAtLineAppends(_Poller):
    """Context manager: the tree's CPU seconds each time a line is appended to `path`.

    The trainer appends one metrics row per step to its metrics file, so the CPU used between two
    appends is the CPU one step cost in all processes together: a measure of a step that other load
    on the machine hardly changes (see the module docstring). The file is polled every `interval_s`;
    there is no last poll on exit, when the run's processes, and their CPU seconds, may be gone.
    """

    def __init__(self, path: Path, interval_s: float = 0.05):
        super().__init__(interval_s, "cpu-at-line-appends")
        self.path = Path(path)
        self.readings: list[float] = []  # readings[i]: CPU seconds when line i + 1 had appeared
        self.seen_at: list[float] = []  # seen_at[i]: time.time() when line i + 1 was first seen
        self._size = -1

    def _poll(self) -> None:
        try:
            size = self.path.stat().st_size
        except OSError:  # not created yet
            return
        if size == self._size:
            return
        self._size = size
        lines = self.path.read_bytes().count(b"\n")
        if lines > len(self.readings):
            self.seen_at += [time.time()] * (lines - len(self.readings))
            self.readings += [tree_cpu_seconds()] * (lines - len(self.readings))
