"""Start-up of a one-worker run with its worker in the driver's process (``trainer.worker_backend=local``)
against the same run on Ray (``=ray``): the TRL comparison's workload (`benchmarks.trl`), one step, each run
a fresh ``python -m maxrl.trainer.main_ppo`` process, in rounds whose order alternates.

Reported per run: *start-up*, spawn to the start of step 1 (imports, Ray and its workers where used, model
loading, the reward process; the TRL comparison's definition), the step, the whole process's wall time,
and the peak memory summed over the run's processes; per round the ratio ray ÷ local; the medians; and the
load average before and after, since the machine may be shared.

    python -m benchmarks.local_startup --rounds 3 --out /tmp/local_startup
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from benchmarks.machine import describe_machine, load_average
from benchmarks.trl.inputs import build_inputs
from benchmarks.trl.maxrl_side import run_maxrl

BACKENDS = ("local", "ray")


def one_run(inputs, backend: str, run_dir: Path) -> dict:
    started = time.monotonic()
    run = run_maxrl(inputs, 1, run_dir, warmup_steps=0, measured_steps=1,
                    extra=(f"trainer.worker_backend={backend}",))
    return {"backend": backend, "startup_s": round(run.startup_s, 2), "step_s": round(run.step_s[0], 2),
            "process_wall_s": round(time.monotonic() - started, 2), "peak_total_mib": round(run.peak_total_mib)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    inputs = build_inputs(args.out / "inputs")
    load_before = load_average()
    rounds = []
    for index in range(args.rounds):
        order = BACKENDS if index % 2 == 0 else BACKENDS[::-1]
        runs = {backend: one_run(inputs, backend, args.out / f"round{index}_{backend}") for backend in order}
        ratio = runs["ray"]["startup_s"] / runs["local"]["startup_s"]
        rounds.append({"order": list(order), "runs": runs, "startup_ratio_ray_to_local": round(ratio, 2)})
        print(json.dumps(rounds[-1]), flush=True)
    median = {f"{backend}_{key}": statistics.median(r["runs"][backend][key] for r in rounds)
              for backend in BACKENDS for key in ("startup_s", "step_s", "process_wall_s", "peak_total_mib")}
    median["startup_ratio_ray_to_local"] = statistics.median(r["startup_ratio_ray_to_local"] for r in rounds)
    result = {"machine": describe_machine(), "load_before": load_before, "load_after": load_average(),
              "rounds": rounds, "median": median}
    (args.out / "local_startup.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"median": median, "load_before": load_before, "load_after": result["load_after"]}, indent=2))


if __name__ == "__main__":
    main()
