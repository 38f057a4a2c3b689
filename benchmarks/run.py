"""``python -m benchmarks.run --suite quick|cpu [--out DIR] [--only SECTION ...] [KEY=VALUE ...]``

Builds the inputs in a scratch folder, starts one local Ray instance, runs the chosen sections and
writes ``results.json`` and ``results.md`` to ``--out`` (default ``outputs/benchmarks/<suite>``); the
Markdown is also printed. Trailing ``KEY=VALUE`` Hydra overrides apply to every run (for trying a
setting: the baselines read the same config). Sections: ``components`` (rollout, log-prob and update
against their baselines: the suite's paired rounds in each of its trials, every trial with a fresh
worker process), ``vllm`` (only where vLLM is importable; one trial on one engine), ``end_to_end`` (one
RL step by phase, with peak memory per process), ``scaling`` (rollout.n and worker sweeps), ``trl``
(TRL's GRPOTrainer against maxrl at the same work, interleaved; only where ``.venv-trl`` exists) and
``variable_length`` (padded against padding-free, token-budget passes). A suite runs its own sections
unless ``--only`` names some.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.machine import describe_machine, load_average
from benchmarks.report import render_markdown, write_report
from benchmarks.suites import SUITES, Suite
from benchmarks.workspace import Workspace, build_workspace
from maxrl.utils.environment import set_offline_environment

__all__ = ["main", "run_suite"]

logger = logging.getLogger("benchmarks")

SECTIONS = ("trl", "end_to_end", "scaling", "components", "vllm", "variable_length")
"""In running order: the TRL comparison's subprocesses first, before this process starts Ray (whose idle
daemons would share the cores with them); then the training runs, while the driver holds nothing else
(its memory is reported)."""

RAY_SECTIONS = frozenset({"components", "end_to_end", "scaling", "variable_length"})
"""Sections that use this process's Ray instance (started before the first of them)."""

RAY_SYSTEM_CONFIG = {"worker_niceness": 0}
"""Ray starts its worker processes at nice 15 by default. The baselines run in the driver at nice 0, so
on a machine with other load the workers would lose CPU to everything else and every ratio would
measure the scheduler, not the framework; at equal niceness both sides compete on equal terms."""


def _start_ray(attempts: int = 3) -> bool:
    """A private local Ray instance (4 logical CPUs: 2 workers, the driver's helpers, the reward pool);
    returns whether it was started here (False: this process was already connected to one, which is used).

    On a heavily loaded machine Ray's fixed 30 s raylet start-up wait can run out; then it is retried.
    """
    import ray

    if ray.is_initialized():
        logger.info("using the Ray instance this process is connected to (its worker niceness is its own)")
        return False
    for attempt in range(1, attempts + 1):
        try:
            ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False,
                     object_store_memory=512 * 2**20, _system_config=RAY_SYSTEM_CONFIG)
            return True
        except Exception as error:  # Ray raises a bare Exception when its node times out during start-up
            if attempt == attempts or "timed out during startup" not in str(error):
                raise
            ray.shutdown()
            logger.warning("Ray start-up timed out (attempt %d of %d; machine busy?); retrying", attempt, attempts)


class _Run:
    """Collects one suite's results section by section."""

    def __init__(self, suite: Suite, workspace: Workspace, command: str):
        self.suite = suite
        self.workspace = workspace
        self.results: dict = {
            "suite": suite.name,
            "command": command,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": describe_machine(),
            "trials": suite.trials,
            "repeats": suite.repeats,
            "warmup": suite.warmup,
            "load": {},
        }
        self._training_runs: dict = {}
        self._comparison_inputs: dict = {}

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Record the load average at the start and the end of section `name`."""
        logger.info("section %s (load %s)", name, load_average())
        start = load_average()
        yield
        self.results["load"][name] = {"start": start, "end": load_average()}

    def _training(self, shape):
        """The training run of `shape`, run once and shared by the sections that need it."""
        from benchmarks.end_to_end import run_training

        if shape not in self._training_runs:
            self._training_runs[shape] = run_training(
                self.workspace, shape, self.suite.warmup_steps, self.suite.measured_steps
            )
        return self._training_runs[shape]

    def components(self) -> None:
        from benchmarks.components import benchmark_components

        with self.section("components"):
            suite = self.suite
            comparisons = benchmark_components(
                self.workspace, suite.component_shape, suite.trials, suite.repeats, suite.warmup
            )
        self._add_comparisons(comparisons)

    def vllm(self) -> None:
        from benchmarks.vllm_backend import benchmark_vllm

        with self.section("vllm"):
            comparisons = benchmark_vllm(
                self.workspace, self.suite.component_shape, self.suite.repeats, self.suite.warmup
            )
        self._add_comparisons(comparisons)

    def _trl_inputs(self, name: str):
        """Workload `name`'s model and data (`benchmarks.trl.workloads`), written once and shared by the
        sections that use it."""
        from benchmarks.trl.inputs import build_inputs
        from benchmarks.trl.workloads import WORKLOADS

        if name not in self._comparison_inputs:
            self._comparison_inputs[name] = build_inputs(self.workspace.root / "trl" / name, WORKLOADS[name])
        return self._comparison_inputs[name]

    def trl(self) -> None:
        from benchmarks.trl.interleaved import run_comparison
        from benchmarks.trl.trl_side import trl_python

        settings = self.suite.trl
        with self.section("trl"):
            self.results["trl"] = run_comparison(
                self._trl_inputs(settings.workload), trl_python(), settings.worker_layouts, settings.rounds,
                settings.warmup_steps, settings.measured_steps, self.workspace.extra_overrides,
            )

    def variable_length(self) -> None:
        from benchmarks.variable_length import benchmark_variable_length, settings_dict, with_gain

        settings = self.suite.trl
        with self.section("variable_length"):
            comparisons = benchmark_variable_length(self._trl_inputs("toy"), settings.variable_repeats,
                                                    settings.variable_warmup)
        self.results["variable_length"] = {**settings_dict(),
                                           "comparisons": [with_gain(c) for c in comparisons.values()]}

    def _add_comparisons(self, comparisons: dict) -> None:
        self.results["components_shape"] = self.suite.component_shape.__dict__
        self.results.setdefault("components", []).extend(c.to_dict() for c in comparisons.values())

    def end_to_end(self) -> None:
        with self.section("end_to_end"):
            self.results["end_to_end"] = self._training(self.suite.training_shape).to_dict()

    def scaling(self) -> None:
        from benchmarks.end_to_end import scaling_rows

        shape = self.suite.scaling_shape
        self.results["scaling_shape"] = shape.__dict__
        with self.section("scaling_n"):
            by_n = [self._training(replace(shape, n=n)) for n in self.suite.n_values]
        self.results["scaling_n"] = scaling_rows(by_n, "n")
        with self.section("scaling_workers"):
            by_workers = [self._training(replace(shape, workers=w)) for w in self.suite.worker_values]
        self.results["scaling_workers"] = scaling_rows(by_workers, "workers")


def run_suite(
    suite: Suite, sections: tuple[str, ...], root: Path, command: str, overrides: tuple[str, ...] = ()
) -> dict:
    """Run `sections` of `suite` with scratch files under `root`, `overrides` applied to every run's config;
    return the results."""
    from benchmarks.targets import evaluate_targets
    from benchmarks.trl.trl_side import trl_python
    from benchmarks.vllm_backend import vllm_available

    began = time.perf_counter()
    run = _Run(suite, build_workspace(root, overrides), command)
    run.results["overrides"] = list(overrides)
    if "vllm" in sections and not vllm_available():
        logger.info("vLLM is not importable here: skipping the vllm section (run from .venv-vllm for it)")
        sections = tuple(s for s in sections if s != "vllm")
    if "trl" in sections and trl_python() is None:
        logger.info("no TRL venv: skipping the trl section (bash benchmarks/trl/setup_venv.sh makes one)")
        sections = tuple(s for s in sections if s != "trl")
    if {"trl", "variable_length"} & set(sections) and suite.trl is None:
        logger.warning("suite %s has no TRL settings: skipping the trl and variable_length sections "
                       "(--suite trl runs them)", suite.name)
        sections = tuple(s for s in sections if s not in ("trl", "variable_length"))
    started_ray = ray_ready = False
    try:
        for name in SECTIONS:
            if name in sections:
                if name in RAY_SECTIONS and not ray_ready:
                    started_ray, ray_ready = _start_ray(), True
                getattr(run, name)()
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    run.results["targets"] = evaluate_targets(run.results)
    run.results["duration_s"] = time.perf_counter() - began
    return run.results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[1])
    parser.add_argument("--suite", choices=sorted(SUITES), default="cpu", help="how much to run (default: cpu)")
    parser.add_argument("--out", type=Path, help="folder for results.json and results.md "
                                                 "(default: outputs/benchmarks/<suite>)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS,
                        help="run only these sections (default: the suite's own)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="Hydra overrides applied to every run, after the benchmark's own settings "
                             "(e.g. actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=16)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    set_offline_environment()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out_dir = args.out or Path("outputs") / "benchmarks" / args.suite
    command = " ".join(["python -m benchmarks.run", *argv])
    with tempfile.TemporaryDirectory(prefix="maxrl_bench_") as root:
        suite = SUITES[args.suite]
        results = run_suite(suite, tuple(args.only or suite.sections), Path(root), command, tuple(args.overrides))
    json_path, markdown_path = write_report(results, out_dir)
    print(render_markdown(results))  # the command's output: the tables
    logger.info("wrote %s and %s", json_path, markdown_path)
    return results


if __name__ == "__main__":
    main()
