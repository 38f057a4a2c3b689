"""The TRL side: `benchmarks.trl.runner` in ``.venv-trl``, as a subprocess, read back as a `FrameworkRun`."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks.trl.inputs import ComparisonInputs
from benchmarks.trl.runs import FrameworkRun, run_process

__all__ = ["DEFAULT_VENV", "trl_python", "run_trl", "trl_run_from_record"]

DEFAULT_VENV = Path(__file__).resolve().parents[2] / ".venv-trl"
"""Where ``benchmarks/trl/setup_venv.sh`` puts TRL (overridable with ``MAXRL_TRL_VENV``)."""


def trl_python(venv: Path | None = None) -> Path | None:
    """The TRL venv's interpreter, or None where the venv has not been made."""
    import os

    venv = Path(venv or os.environ.get("MAXRL_TRL_VENV") or DEFAULT_VENV)
    python = venv / "bin" / "python"
    return python if python.is_file() else None


def trl_run_from_record(record: dict, warmup_steps: int, spawned_unix: float, memory: list) -> FrameworkRun:
    """The runner's JSON record as a `FrameworkRun` (phases as in `benchmarks.trl.runs`)."""
    measured = record["steps"][warmup_steps:]
    if not measured:
        raise ValueError(f"the TRL run recorded {len(record['steps'])} steps, none after {warmup_steps} warm-up")
    step_s = [row["step_s"] for row in measured]
    cpu_s = [row["cpu_s"] for row in measured if "cpu_s" in row]  # records before the runner kept them: none
    gen = [row.get("gen_s", 0.0) for row in measured]
    update = [row["step_s"] - row.get("generate_and_score_s", 0.0) for row in measured]
    return FrameworkRun(
        layout="TRL",
        step_s=step_s,
        phases={"gen": gen, "update": update, "other": [s - g - u for s, g, u in zip(step_s, gen, update)]},
        startup_s=record["first_step_begin_unix"] - spawned_unix,
        memory=memory,
        details={"versions": record["versions"], "torch_threads": record["torch_threads"],
                 "import_s": record["imports_done_unix"] - record["process_start_unix"],
                 "self_peak_rss_mib": round(record["peak_rss_mib"], 1),
                 "step_cpu_s": statistics.median(cpu_s) if cpu_s else None},
    )


def run_trl(python: Path, inputs: ComparisonInputs, run_dir: Path, warmup_steps: int, measured_steps: int,
            threads: int | None = None) -> FrameworkRun:
    """One TRL run of ``warmup_steps + measured_steps`` steps on the inputs' workload in a fresh process."""
    out = run_dir / "trl.json"
    command = [str(python), "-m", "benchmarks.trl.runner", "--model-dir", str(inputs.model_dir),
               "--workload", str(inputs.workload_file), "--out", str(out),
               "--steps", str(warmup_steps + measured_steps)]
    command += [] if threads is None else ["--threads", str(threads)]
    spawned, memory = run_process(command, run_dir / "trl.log", env={"TRANSFORMERS_VERBOSITY": "error"})
    return trl_run_from_record(json.loads(out.read_text()), warmup_steps, spawned, memory)
