"""Memory over long runs: does any process of a run keep growing? ``python -m benchmarks.soak``.

Two runs at the quickstart's size (`benchmarks.workspace`: 16 maze prompts x 8 samples per step, the
0.5M-parameter maze Qwen2, the hf rollout, the prime reward manager with one process), every response at its
32-token cap from the first step (``ignore_eos``, so the batch shape is the same at every step), through the
real entry point (`maxrl.trainer.main_ppo.run_ppo`), with a checkpoint every 250 steps:

* ``colocated``: ``--steps`` (1,000) steps on 2 workers, each actor and rollout (the default loop);
* ``async``: ``--async-steps`` (500) steps on 1 trainer and 1 rollout worker, ``trainer.async.max_staleness=1``
  with token-level rollout correction.

At step 1 and every ``--every`` (50) steps a sampler records, for every process of the run (the driver, each
worker, the reward processes, Ray's own), its resident memory (RSS), open file descriptors and threads, and
the bytes in Ray's object store. Target: after step 100 no process grows by more than 2 % of its RSS or
20 MiB, whichever is larger, per 500 steps, growth being the least-squares slope of its RSS over the samples
from step 100 on.

Samples go to ``<out>/<run>.jsonl`` as they are taken; a run whose last step is there is not redone, and a
killed run resumes from its last checkpoint (its processes are new, so the report shows the restart). The
report, ``docs/benchmark_results/soak.md``, holds the table, the machine and the plot ``soak.png``.

    python -m benchmarks.soak [--steps 1000] [--async-steps 500] [--every 50] [--out outputs/soak]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil

from benchmarks.process_tree import MIB, _Poller, process_role
from benchmarks.workspace import RunShape, Workspace, build_workspace

logger = logging.getLogger("benchmarks.soak")

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmark_results" / "soak.md"
SHAPE = RunShape(n=8, workers=2, prompts=16, response_length=32, ignore_eos=True)
SEPARATE_S1 = ("actor_rollout_ref.rollout.placement=separate", "trainer.async.max_staleness=1",
               "algorithm.rollout_correction.rollout_is=token")
BASELINE_STEP = 100
GROWTH_WINDOW = 500  # steps over which growth is judged
ALLOWED_FRACTION, ALLOWED_MIB = 0.02, 20.0


def object_store_bytes() -> int | None:
    """Bytes held in Ray's object store, as its raylet reports them (None when it cannot be asked)."""
    import ray
    from ray._private.internal_api import get_memory_info_reply, get_state_from_address

    try:
        reply = get_memory_info_reply(get_state_from_address(ray.get_runtime_context().gcs_address))
        return int(reply.store_stats.object_store_bytes_used)
    except Exception:  # a raylet busy or gone at this moment: the sample keeps the processes
        return None


def snapshot(step: int) -> dict:
    """Every process of the run (this driver and its descendants) at `step`."""
    driver = psutil.Process(os.getpid())
    processes = []
    for process in [driver, *driver.children(recursive=True)]:
        try:
            with process.oneshot():
                processes.append({"pid": process.pid, "role": process_role(process, driver.pid),
                                  "rss_mib": process.memory_info().rss / MIB, "fds": process.num_fds(),
                                  "threads": process.num_threads()})
        except psutil.Error:  # ended between listing and reading
            continue
    return {"step": step, "processes": processes, "object_store_mib": (object_store_bytes() or 0) / MIB}


class StepSampler(_Poller):
    """Takes a `snapshot` when the run's metrics file reaches step 1 and every `every`-th step, appending
    each to `samples_file`."""

    def __init__(self, metrics_file: Path, samples_file: Path, every: int):
        super().__init__(0.2, "soak-sampler")
        self.metrics_file, self.samples_file, self.every = metrics_file, samples_file, every
        self._sampled = {sample["step"] for sample in read_samples(samples_file)}

    def _poll(self) -> None:
        due = [step for step in logged_steps(self.metrics_file)
               if step not in self._sampled and (step == 1 or step % self.every == 0)]
        if due:  # normally one; a late poll samples the newest due step now
            self._sampled.update(due)
            with self.samples_file.open("a") as out:
                out.write(json.dumps(snapshot(due[-1])) + "\n")


def logged_steps(metrics_file: Path) -> list[int]:
    """The steps of the run's metrics file so far (a line still being written is skipped)."""
    try:
        lines = metrics_file.read_bytes().splitlines()
    except OSError:
        return []
    steps = []
    for line in lines:
        try:
            steps.append(int(json.loads(line)["step"]))
        except (ValueError, KeyError):
            continue
    return steps


def read_samples(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def soak(workspace, name: str, steps: int, extra: tuple[str, ...], workers: int, out: Path, every: int) -> list[dict]:
    """Train run `name` to `steps` (resuming a killed one), sampling as it goes; returns its samples."""
    from maxrl.config import compose_config
    from maxrl.trainer.main_ppo import run_ppo

    samples_file, run_dir = out / f"{name}.jsonl", out / name
    if steps in logged_steps(run_dir / "metrics.jsonl"):
        logger.info("%s: already done (%s)", name, samples_file)
        return read_samples(samples_file)
    shape = replace(SHAPE, workers=workers, steps=steps)
    overrides = [*workspace.overrides(shape, run_dir), *extra, "trainer.save_freq=250", "trainer.resume_mode=auto"]
    with StepSampler(run_dir / "metrics.jsonl", samples_file, every):
        run_ppo(compose_config(overrides))
    return read_samples(samples_file)


def growth(samples: list[dict]) -> list[dict]:
    """Per process seen from step `BASELINE_STEP` on: RSS then and at the end, its growth per
    `GROWTH_WINDOW` steps (least-squares slope), the allowance, and its descriptors and threads."""
    rows = []
    later = [sample for sample in samples if sample["step"] >= BASELINE_STEP]
    pids = {p["pid"]: p["role"] for sample in later for p in sample["processes"]}
    for pid, role in pids.items():
        points = [(s["step"], p) for s in later for p in s["processes"] if p["pid"] == pid]
        if len(points) < 3:
            continue  # a short-lived process (a reward process replaced, an idle Ray worker)
        steps = np.array([step for step, _ in points], dtype=float)
        rss = np.array([p["rss_mib"] for _, p in points])
        slope = float(np.polyfit(steps, rss, 1)[0]) * GROWTH_WINDOW
        allowed = max(ALLOWED_FRACTION * rss[0], ALLOWED_MIB)
        rows.append({"role": role, "pid": pid, "first_step": int(steps[0]), "last_step": int(steps[-1]),
                     "rss_first_mib": rss[0], "rss_last_mib": rss[-1], "growth_mib_per_500": slope,
                     "allowed_mib": allowed, "ok": slope <= allowed,
                     "fds": (points[0][1]["fds"], points[-1][1]["fds"]),
                     "threads": (points[0][1]["threads"], points[-1][1]["threads"])})
    order = {"driver": 0, "worker": 1, "reward": 2, "ray": 3, "other": 4}
    return sorted(rows, key=lambda row: (order[row["role"]], row["pid"]))


def plot(runs: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4), squeeze=False)
    for axis, (name, samples) in zip(axes[0], runs.items()):
        by_pid: dict[int, tuple[str, list]] = {}
        for sample in samples:
            for p in sample["processes"]:
                if p["role"] in ("driver", "worker", "reward"):
                    by_pid.setdefault(p["pid"], (p["role"], []))[1].append((sample["step"], p["rss_mib"]))
        for pid, (role, points) in sorted(by_pid.items()):
            if len(points) > 1:
                axis.plot(*zip(*points), marker=".", label=f"{role} {pid}")
        axis.set_title(name)
        axis.set_xlabel("step")
        axis.set_ylabel("RSS (MiB)")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def write_report(runs: dict[str, list[dict]], steps: dict[str, int], command: str) -> None:
    """The report: per run (`steps` long), the object store and a row per process; then the plot."""
    from benchmarks.machine import describe_machine, load_average

    machine = describe_machine()
    lines = [
        "# Soak: memory over long runs",
        "",
        f"`{command}` (`benchmarks/soak.py`): the quickstart's size, every response at its 32-token cap, a",
        "checkpoint every 250 steps. Each process's RSS, open file descriptors and threads, and Ray's object",
        f"store, sampled at step 1 and every few steps. Target: after step {BASELINE_STEP}, growth (least-squares",
        f"slope of RSS from step {BASELINE_STEP} on) at most {ALLOWED_FRACTION:.0%} or {ALLOWED_MIB:g} MiB, whichever is larger,",
        f"per {GROWTH_WINDOW} steps. Memory, not speed: the machine's load does not change it.",
        "",
        "Machine: {cpu}, {usable_cores} cores, {memory_gib} GiB; torch {torch}, ray {ray}; maxrl {git_revision}; load "
        "average at the end {load}.".format(**machine, torch=machine["libraries"].get("torch"),
                                            ray=machine["libraries"].get("ray"), load=load_average()),
        "",
    ]
    for name, samples in runs.items():
        store = [sample["object_store_mib"] for sample in samples]
        lines += [f"## {name}: {steps[name]} steps, sampled up to step {samples[-1]['step']}", "",
                  f"Object store: {store[0]:.1f} MiB at step {samples[0]['step']}, max {max(store):.1f}, "
                  f"{store[-1]:.1f} at the end.", "",
                  "| process | pid | steps | RSS first (MiB) | RSS last (MiB) | growth per 500 steps (MiB) | allowed (MiB) "
                  "| within | fds first → last | threads first → last |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in growth(samples):
            lines.append(
                f"| {row['role']} | {row['pid']} | {row['first_step']}–{row['last_step']} | {row['rss_first_mib']:.1f} "
                f"| {row['rss_last_mib']:.1f} | {row['growth_mib_per_500']:+.1f} | {row['allowed_mib']:.1f} "
                f"| {'yes' if row['ok'] else '**no**'} | {row['fds'][0]} → {row['fds'][1]} "
                f"| {row['threads'][0]} → {row['threads'][1]} |")
        lines.append("")
    lines += ["![RSS of the driver, workers and reward processes by step](soak.png)", ""]
    REPORT.write_text("\n".join(lines))
    plot(runs, REPORT.with_name("soak.png"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="steps of the colocated run")
    parser.add_argument("--async-steps", type=int, default=500, help="steps of the max_staleness=1 run")
    parser.add_argument("--every", type=int, default=50, help="steps between samples")
    parser.add_argument("--out", type=Path, default=Path("outputs/soak"), help="workspace, runs and samples")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from benchmarks.run import _start_ray

    args.out.mkdir(parents=True, exist_ok=True)
    root = args.out / "workspace"
    workspace = (Workspace(root, root / "model", root / "data" / "train.parquet")
                 if (root / "model" / "config.json").exists() else build_workspace(root))  # a resumed soak keeps it
    _start_ray()
    steps = {"colocated": args.steps, "async (max_staleness=1)": args.async_steps}
    runs = {
        "colocated": soak(workspace, "colocated", args.steps, (), 2, args.out, args.every),
        "async (max_staleness=1)": soak(workspace, "async", args.async_steps, SEPARATE_S1, 1, args.out, args.every),
    }
    command = "python -m benchmarks.soak" + (f" {' '.join(argv)}" if argv else "")
    write_report(runs, steps, command)


if __name__ == "__main__":
    main()
