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

from benchmarks.process_tree import ProcessPeak, ProcessTreeMemory, wait_for_workers_to_exit
from benchmarks.stats import Summary, summarize
from benchmarks.workspace import RunShape, Workspace

__all__ = ["TrainingRun", "run_training", "scaling_rows"]

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
            "memory": [peak.to_dict() for peak in self.memory],
        }


def run_training(workspace: Workspace, shape: RunShape, warmup_steps: int, measured_steps: int) -> TrainingRun:
    """Train ``warmup_steps + measured_steps`` steps of `shape` and read back the measured ones."""
    from maxrl.trainer.main_ppo import run_ppo
    from maxrl.trainer.tracking import read_metrics

    if measured_steps < 1 or warmup_steps < 0:
        raise ValueError(f"run_training: need measured_steps >= 1 and warmup_steps >= 0, got "
                         f"{measured_steps=}, {warmup_steps=}")
    shape = replace(shape, steps=warmup_steps + measured_steps)
    if not wait_for_workers_to_exit():
        logger.warning("worker processes of an earlier run are still alive; they may show in this run's memory table")
    run_dir = workspace.root / f"run_n{shape.n}_w{shape.workers}_{time.monotonic_ns()}"
    logger.info("training run: n=%d, %d worker(s), %d prompts, %d steps", shape.n, shape.workers, shape.prompts,
                shape.steps)
    with ProcessTreeMemory() as memory:
        began = time.perf_counter()
        run_ppo(workspace.config(shape, run_dir))
        wall_s = time.perf_counter() - began
    rows = sorted((row for row in read_metrics(run_dir) if "timing_s/step" in row), key=lambda row: row["step"])
    if len(rows) != shape.steps:
        raise RuntimeError(f"run {run_dir} logged {len(rows)} training steps, expected {shape.steps}")
    return TrainingRun(
        shape, warmup_steps, wall_s, [row["timing_s/step"] for row in rows], rows[warmup_steps:], memory.peaks()
    )


def scaling_rows(runs: list[TrainingRun], key: str) -> list[dict]:
    """Step time of runs that differ in ``shape.<key>`` (``n`` or ``workers``), relative to the first.

    ``growth`` = t / t_first and ``growth_per_unit`` = growth / (value / value_first): at most 1 means
    the step time grows no faster than linearly in `key`. ``step_growth_per_unit`` is the same against the
    previous run (the local slope: fixed costs cannot hide a superlinear stretch there).
    """
    first = runs[0]
    base_value, base_step = getattr(first.shape, key), first.phase("step").median
    rows = []
    previous_value, previous_step = base_value, base_step
    for run in runs:
        value, step = getattr(run.shape, key), run.phase("step")
        growth = step.median / base_step
        step_growth = (step.median / previous_step) / (value / previous_value)
        previous_value, previous_step = value, step.median
        rows.append({
            key: value,
            "samples": run.shape.prompts * run.shape.n,
            "step_s": step.to_dict(),
            "gen_s": run.phase("gen").median,
            "update_actor_s": run.phase("update_actor").median,
            "growth": growth,
            "growth_per_unit": growth / (value / base_value),
            "step_growth_per_unit": step_growth,
            "startup_s": run.startup_s,
        })
    return rows
