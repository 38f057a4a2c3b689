"""Where maxrl's start-up goes: the TRL comparison's toy workload (`benchmarks.trl`), one fresh
``python -m maxrl.trainer.main_ppo``-equivalent process per layout, its start-up split into spans.

    python -m benchmarks.startup_phases --out /tmp/startup_phases [--workers 1 2] [KEY=VALUE ...]

Each layout runs twice, one after the other. The *timed* run executes ``main_ppo.main`` in a child process
whose start-up functions are wrapped with wall clocks: the driver's imports (the trainer's and workers'
modules are imported up front, so that the wrappers can be put in place), Hydra's compose, the config
checks, tokenizer, datasets, the reward process pool, ``ray.init``, the worker group (on Ray: its actors'
processes, each importing, building its model and wrapping it in FSDP; in the driver's process: the
model build and the FSDP wrap, timed on their own), and the trainer up to its first step.
At the first step it lists the processes of the run with their resident memory (Ray's daemons by name).
The *import* run is the same process under ``python -X importtime``, whose log gives the time spent in
each package's own modules (the driver's imports only; on Ray the workers import in their own processes).

Spans are wall seconds of one run and are meant as shares: nothing here is paired or repeated, so on a
shared machine only the proportions are worth reading.
"""

from __future__ import annotations

import time

PROCESS_START = time.time()  # before any heavy import: the child's start-up counts from here

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from functools import wraps  # noqa: E402
from pathlib import Path  # noqa: E402

__all__ = ["import_times", "main", "time_startup"]

IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+\d+\s+\|\s+(\S+)")
TOP_IMPORTS = 12


def import_times(log: str) -> dict[str, float]:
    """Seconds spent in each package's own modules in a ``-X importtime`` log (the *self* column summed by
    root package: ``torch``, ``transformers``, ...), largest first. Cumulative times would charge torch's
    import to whichever module happened to import it first."""
    seconds: dict[str, float] = defaultdict(float)
    for line in log.splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            seconds[match.group(2).split(".")[0]] += int(match.group(1)) / 1e6
    return dict(sorted(seconds.items(), key=lambda item: -item[1]))


class _Spans:
    """Wall-clock spans of the start-up, in the order they began."""

    def __init__(self):
        self.spans: list[tuple[str, float, float]] = []
        self.marks: dict[str, float] = {}
        self.processes: list[dict] = []

    @contextmanager
    def span(self, name: str):
        began = time.time()
        try:
            yield
        finally:
            self.spans.append((name, began, time.time()))

    def wrap(self, owner, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)

        @wraps(original)
        def timed(*args, **kwargs):
            with self.span(name):
                return original(*args, **kwargs)

        setattr(owner, attribute, timed)

    def first_step(self) -> None:
        if "first_step" not in self.marks:
            self.marks["first_step"] = time.time()
            self.processes = _process_table()

    def to_dict(self) -> dict:
        return {"process_start": PROCESS_START, "marks": self.marks, "processes": self.processes,
                "spans": [{"name": name, "start_s": round(began - PROCESS_START, 3),
                           "seconds": round(ended - began, 3)} for name, began, ended in self.spans]}


def _process_table() -> list[dict]:
    """This process and its descendants: a short name (Ray's daemons by their script) and resident MiB."""
    import psutil

    own = psutil.Process()
    table = []
    for process in [own, *own.children(recursive=True)]:
        try:
            command = process.cmdline()
            rss = process.memory_info().rss
        except psutil.Error:
            continue
        script = next((Path(part).name for part in command[1:] if part.endswith(".py")), None)
        module = next((command[i + 1] for i, part in enumerate(command[:-1]) if part == "-m"), None)
        name = "driver" if process.pid == own.pid else script or module or Path(command[0]).name
        if any("WorkerHost" in part for part in command):
            name = "worker"
        table.append({"pid": process.pid, "name": name, "rss_mib": round(rss / 2**20, 1)})
    return table


def time_startup(overrides: list[str], out: Path) -> None:
    """Run ``main_ppo.main`` with `overrides` in this process, start-up functions wrapped; spans to `out`."""
    spans = _Spans()
    with spans.span("imports: main_ppo, hydra"):
        from maxrl.trainer import main_ppo
    with spans.span("imports: torch, transformers, the trainer and worker modules"):
        import maxrl.config.checks as checks
        import maxrl.controller as controller
        from maxrl.trainer import ray_trainer
        from maxrl.workers import actor_rollout_ref_worker as worker

    spans.wrap(checks, "check_config", "config checks")
    for attribute, name in (("run_ppo", "run_ppo (everything after Hydra's compose)"),
                            ("resolve_device", "resolve_device"), ("load_tokenizer", "tokenizer"),
                            ("build_datasets", "datasets"), ("make_reward_manager", "reward process pool")):
        spans.wrap(main_ppo, attribute, name)
    init_ray = main_ppo.init_ray

    def init_ray_then_wrap_ray_groups(ray_init):
        with spans.span("ray.init (with importing Ray)"):
            started = init_ray(ray_init)
        spans.wrap(controller.WorkerGroup, "__init__", "worker group (Ray actors: start, model build, FSDP wrap)")
        return started

    main_ppo.init_ray = init_ray_then_wrap_ray_groups
    spans.wrap(controller.LocalWorkerGroup, "__init__", "worker group (in the driver's process)")
    spans.wrap(worker, "load_causal_lm", "model build (in the driver's process)")
    spans.wrap(worker, "shard_model", "FSDP wrap (in the driver's process)")
    spans.wrap(ray_trainer.RayPPOTrainer, "__init__", "trainer")
    original_step = ray_trainer.RayPPOTrainer.step

    def step(self):
        spans.first_step()
        return original_step(self)

    ray_trainer.RayPPOTrainer.step = step
    sys.argv = ["main_ppo", *overrides]
    try:
        main_ppo.main()
    finally:
        out.write_text(json.dumps(spans.to_dict(), indent=2) + "\n")


def _overrides(inputs, workers: int, run_dir: Path, extra: list[str]) -> list[str]:
    from benchmarks.trl.maxrl_side import maxrl_overrides

    return maxrl_overrides(inputs, workers, 1, run_dir, tuple(extra))


def _layout(inputs, workers: int, out: Path, extra: list[str]) -> dict:
    from benchmarks.trl.runs import run_process

    name = f"{workers}_worker{'s' if workers > 1 else ''}"
    spans_file = out / f"{name}_spans.json"
    spawned, memory = run_process(
        [sys.executable, "-m", "benchmarks.startup_phases", "--child", str(spans_file),
         *_overrides(inputs, workers, out / f"{name}_run", extra)], out / f"{name}_timed.log")
    result = json.loads(spans_file.read_text())
    result["spawn_to_first_step_s"] = round(result["marks"]["first_step"] - spawned, 3)
    result["interpreter_start_s"] = round(result["process_start"] - spawned, 3)
    result["peaks_by_role_mib"] = {}
    for peak in memory:
        result["peaks_by_role_mib"][peak.role] = round(
            result["peaks_by_role_mib"].get(peak.role, 0) + peak.peak_bytes / 2**20, 1)
    importtime = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "maxrl.trainer.main_ppo",
         *_overrides(inputs, workers, out / f"{name}_importtime_run", extra)],
        capture_output=True, text=True, check=True)
    result["driver_imports_s"] = dict(list(import_times(importtime.stderr).items())[:TOP_IMPORTS])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup_phases", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder for the runs and startup_phases.json")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # the timed run itself
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides for every run")
    args = parser.parse_args(argv)
    if args.child:
        time_startup(args.overrides, args.child)
        return
    if args.out is None:
        parser.error("--out is required")
    from benchmarks.machine import load_average
    from benchmarks.trl.inputs import build_inputs

    args.out.mkdir(parents=True, exist_ok=True)
    inputs = build_inputs(args.out / "inputs")
    result = {"load_before": load_average(), "layouts": {}}
    for workers in args.workers:
        try:
            layout = _layout(inputs, workers, args.out, args.overrides)
        except (RuntimeError, subprocess.CalledProcessError) as error:  # e.g. Ray's start-up timing out under load
            layout = {"error": str(error)[-2000:]}
        result["layouts"][f"{workers} worker{'s' if workers > 1 else ''}"] = layout
        result["load_after"] = load_average()
        (args.out / "startup_phases.json").write_text(json.dumps(result, indent=2) + "\n")  # each layout kept
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
