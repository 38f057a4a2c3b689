"""Whole RL steps through the real entry point (`maxrl.trainer.main_ppo.run_ppo`), phase by phase.

Each run starts its own worker group on the driver's Ray instance and trains ``warmup + measured``
steps; the trainer's ``timing_s/<phase>`` metrics of the measured steps are read back from the run's
metrics file. The first steps are left out because they pay one-off costs (first weight sync, lazy
initialisation, allocator growth). Start-up (worker processes, model loading, reward pool) is reported
separately as the run's wall time minus its steps.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from benchmarks.process_tree import CpuAtLineAppends, ProcessPeak, ProcessTreeMemory, wait_for_workers_to_exit
from benchmarks.stats import Summary, summarize
from benchmarks.workspace import RunShape, Workspace

__all__ = ["TrainingRun", "run_training", "scaling_rows", "step_cpu_seconds"]

logger = logging.getLogger(__name__)

TIMING_PREFIX = "timing_s/"


@dataclass(frozen=True)
class TrainingRun:
    """The measured steps of one training run, its start-up time and its processes' peak memory."""

    shape: RunShape
    warmup_steps: int
    wall_s: float
    all_step_s: list[float]
    measured: list[dict[str, float]]  # the metrics rows of the measured steps
    memory: list[ProcessPeak]
    cpu_s: list[float]  # CPU seconds (all processes) of each measured step whose boundaries were seen

    @property
    def startup_s(self) -> float:
        return self.wall_s - sum(self.all_step_s)

    def phase(self, name: str) -> Summary:
        """``timing_s/<name>`` over the measured steps."""
        return summarize([row[TIMING_PREFIX + name] for row in self.measured])

    def phases(self) -> dict[str, Summary]:
        """Every timed phase, in the order the trainer logged them (``step`` is the whole step)."""
        names = [key[len(TIMING_PREFIX):] for key in self.measured[0] if key.startswith(TIMING_PREFIX)]
        return {name: self.phase(name) for name in names}

    def cpu(self) -> Summary | None:
        """CPU seconds per measured step over the steps that have them, or None where none has."""
        return summarize(self.cpu_s) if self.cpu_s else None

    def metric(self, key: str) -> float:
        """Median of a per-step metric (e.g. ``perf/total_num_tokens``) over the measured steps."""
        return summarize([row[key] for row in self.measured]).median

    def to_dict(self) -> dict:
        return {
            "shape": self.shape.__dict__,
            "warmup_steps": self.warmup_steps,
            "measured_steps": len(self.measured),
            "wall_s": self.wall_s,
            "startup_s": self.startup_s,
            "phases": {name: summary.to_dict() for name, summary in self.phases().items()},
            "tokens_per_step": self.metric("perf/total_num_tokens"),
            "cpu_s": None if self.cpu() is None else self.cpu().to_dict(),
            "memory": [peak.to_dict() for peak in self.memory],
        }


def run_training(workspace: Workspace, shape: RunShape, warmup_steps: int, measured_steps: int) -> TrainingRun:
    """Train ``warmup_steps + measured_steps`` steps of `shape` and read back the measured ones."""
    from maxrl.trainer.main_ppo import run_ppo
    from maxrl.trainer.tracking import METRICS_FILE, read_metrics

    if measured_steps < 1 or warmup_steps < 0:
        raise ValueError(f"run_training: need measured_steps >= 1 and warmup_steps >= 0, got "
                         f"{measured_steps=}, {warmup_steps=}")
    shape = replace(shape, steps=warmup_steps + measured_steps)
    if not wait_for_workers_to_exit():
        logger.warning("worker processes of an earlier run are still alive; they may show in this run's memory table")
    run_dir = workspace.root / f"run_n{shape.n}_w{shape.workers}_{time.monotonic_ns()}"
    logger.info("training run: n=%d, %d worker(s), %d prompts, %d steps", shape.n, shape.workers, shape.prompts,
                shape.steps)
    with ProcessTreeMemory() as memory, CpuAtLineAppends(run_dir / METRICS_FILE) as cpu_clock:
        began = time.perf_counter()
        run_ppo(workspace.config(shape, run_dir))
        wall_s = time.perf_counter() - began
    rows = read_metrics(run_dir)
    if [row["step"] for row in rows] != list(range(1, shape.steps + 1)) or "timing_s/step" not in rows[-1]:
        raise RuntimeError(f"run {run_dir} logged steps {[row['step'] for row in rows]}, expected 1..{shape.steps}")
    return TrainingRun(
        shape, warmup_steps, wall_s, [row["timing_s/step"] for row in rows], rows[warmup_steps:], memory.peaks(),
        step_cpu_seconds(cpu_clock.readings, warmup_steps, shape.steps),
    )


def step_cpu_seconds(readings: list[float], warmup_steps: int, steps: int) -> list[float]:
    """CPU seconds of each measured step (``warmup_steps + 1 .. steps``) whose boundaries were both seen.

    ``readings[i]`` is the tree's CPU seconds when metrics row ``i + 1`` had appeared; step ``s`` runs from
    row ``s - 1`` to row ``s``, so it needs ``readings[s - 2]`` and ``readings[s - 1]`` (step 1 has no start
    row). The watcher often misses the last row, because the workers exit right after it is written and
    take their CPU seconds with them; the steps before it still count. Values <= 0 (a process ended
    within the step, or two rows seen in one poll) are dropped. Empty when no measured step is complete.
    """
    spent = [
        readings[step - 1] - readings[step - 2]
        for step in range(max(warmup_steps + 1, 2), steps + 1)
        if step - 1 < len(readings)
    ]
    return [value for value in spent if value > 0]


def _growth(values: list[float | None], units: list[float]) -> tuple[list, list]:
    """Growth per unit against the first value and against the previous one (None where a value is missing)."""
    if any(value is None for value in values):
        return [None] * len(values), [None] * len(values)
    overall = [(value / values[0]) / (unit / units[0]) for value, unit in zip(values, units)]
    local = [1.0] + [(values[i] / values[i - 1]) / (units[i] / units[i - 1]) for i in range(1, len(values))]
    return overall, local


def scaling_rows(runs: list[TrainingRun], key: str) -> list[dict]:
    """Step time (wall and CPU) of runs that differ in ``shape.<key>`` (``n`` or ``workers``).

    ``growth`` = t / t_first and ``growth_per_unit`` = growth / (value / value_first): at most 1 means
    the step time grows no faster than linearly in `key`. ``step_growth_per_unit`` is the same against the
    previous run (the local slope: fixed costs cannot hide a superlinear stretch there). The ``cpu_*``
    entries do the same with the CPU seconds of a step, which other load hardly changes.
    """
    units = [float(getattr(run.shape, key)) for run in runs]
    wall = [run.phase("step").median for run in runs]
    cpu = [run.cpu().median if run.cpu() is not None else None for run in runs]
    wall_overall, wall_local = _growth(wall, units)
    cpu_overall, cpu_local = _growth(cpu, units)
    return [
        {
            key: getattr(run.shape, key),
            "samples": run.shape.prompts * run.shape.n,
            "step_s": run.phase("step").to_dict(),
            "gen_s": run.phase("gen").median,
            "update_actor_s": run.phase("update_actor").median,
            "growth": wall[i] / wall[0],
            "growth_per_unit": wall_overall[i],
            "step_growth_per_unit": wall_local[i],
            "cpu_s": cpu[i],
            "cpu_growth_per_unit": cpu_overall[i],
            "cpu_step_growth_per_unit": cpu_local[i],
            "startup_s": run.startup_s,
        }
        for i, run in enumerate(runs)
    ]
