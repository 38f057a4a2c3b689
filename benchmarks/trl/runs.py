"""One training run of either framework as a fresh process: its steps, phases, start-up and memory.

Both frameworks are measured the same way from outside: the run is a subprocess of the benchmark,
`ProcessTreeMemory` samples the peak resident memory of every process in its tree (the trainer, and
for maxrl Ray's daemons, the workers and the reward process), and start-up is the time from spawning
the process to the start of its first step, imports included. Each side reports its own steps; the
phases are named alike:

* ``gen``: the sampling call (maxrl ``timing_s/gen``; TRL ``_generate_single_turn``, i.e. ``generate``);
* ``update``: forward, backward and optimizer step (maxrl ``timing_s/update_actor``; TRL the step
  minus ``_generate_and_score_completions``);
* ``other``: the rest of the step (tokenizing, decoding, rewards, advantages, dispatch, bookkeeping).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.process_tree import MIB, ProcessPeak, ProcessTreeMemory
from benchmarks.stats import summarize

__all__ = ["PHASES", "FrameworkRun", "run_process"]

logger = logging.getLogger(__name__)

PHASES = ("gen", "update", "other")
LOG_TAIL_CHARS = 4000


@dataclass(frozen=True)
class FrameworkRun:
    """The measured steps of one run (warm-up steps left out) and its whole process tree's memory."""

    layout: str  # "TRL", "maxrl 1 worker", ...
    step_s: list[float]
    phases: dict[str, list[float]]  # PHASES -> one value per measured step
    startup_s: float
    memory: list[ProcessPeak] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # framework-specific facts (versions, threads, ...)

    def median(self, phase: str = "step") -> float:
        """Median seconds per measured step of ``step`` or of one of `PHASES`."""
        return summarize(self.step_s if phase == "step" else self.phases[phase]).median

    @property
    def peak_total_mib(self) -> float:
        """Sum of every process's peak: an upper bound of the tree's peak (peaks need not coincide, and
        pages shared between processes count once per process)."""
        return sum(peak.peak_bytes for peak in self.memory) / MIB

    @property
    def peak_largest_mib(self) -> float:
        return max((peak.peak_bytes for peak in self.memory), default=0) / MIB

    def to_dict(self) -> dict:
        return {
            "layout": self.layout,
            "step_s": self.step_s,
            "phases": self.phases,
            "median_s": {name: self.median(name) for name in ("step", *PHASES)},
            "startup_s": self.startup_s,
            "peak_total_mib": round(self.peak_total_mib, 1),
            "peak_largest_mib": round(self.peak_largest_mib, 1),
            "memory": [peak.to_dict() for peak in self.memory],
            "details": self.details,
        }


def run_process(command: list[str], log_file: Path, watch=None, env: dict | None = None,
                timeout_s: float = 3600) -> tuple[float, list[ProcessPeak]]:
    """Run `command` from the repository root with its output in `log_file`, sampling its tree's memory.

    `watch` is an optional context manager active while it runs (e.g. one noting when metrics lines
    appear). Returns the spawn time (``time.time()``) and the peaks; raises with the log's tail if the
    command fails.
    """
    from contextlib import nullcontext

    log_file.parent.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[2]
    with open(log_file, "w") as log, (watch or nullcontext()):
        spawned = time.time()
        process = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
        with ProcessTreeMemory(root_pid=process.pid) as memory:
            try:
                returncode = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise
    if returncode != 0:
        tail = log_file.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        raise RuntimeError(f"{' '.join(command[:4])} ... exited with {returncode}; end of {log_file}:\n{tail}")
    return spawned, memory.peaks()
