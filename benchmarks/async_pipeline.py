"""The rollout on its own pool against the colocated synchronous loop, at equal samples per step.

Layouts (docs/async.md), each one fresh ``main_ppo`` run on the benchmarks' maze workspace (the quickstart's
model and prompts; ``--prompts`` x ``--n`` samples per step, ``ignore_eos`` so every layout does the same
work), run one after the other and interleaved over ``--rounds`` so that drifting load hits them alike:

* ``colocated_2``: 2 workers, each actor + rollout (the default loop on the same two processes);
* ``colocated_1``: 1 worker (the loop on one process);
* ``separate_s0``: 1 trainer + 1 rollout worker, max_staleness 0 (the synchronous loop across pools);
* ``separate_s1``: the same with max_staleness 1 (generation of step s+1 overlaps the update of step s).

Reported per layout: median step time over the steps after ``--warmup``, samples per second, the trainer's
wait for samples (``timing_s/gen``), weight sync, and the rollout pool's busy and idle seconds per step.

    python -m benchmarks.async_pipeline --out outputs/async_bench
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from benchmarks.end_to_end import run_training
from benchmarks.run import _start_ray
from benchmarks.workspace import RunShape, Workspace, build_workspace

SEPARATE = ("actor_rollout_ref.rollout.placement=separate",)
LAYOUTS = {
    "colocated_2": (2, ()),
    "colocated_1": (1, ()),
    "separate_s0": (1, SEPARATE),
    "separate_s1": (1, (*SEPARATE, "trainer.async.max_staleness=1")),
}
COLUMNS = ("step_s", "samples_per_s", "gen_wait_s", "update_actor_s", "weight_sync_s", "rollout_busy_s",
           "rollout_idle_s")


def layout_overrides(name: str) -> tuple[int, tuple[str, ...]]:
    """Trainer workers and extra Hydra overrides of layout `name`."""
    return LAYOUTS[name]


def measure(workspace: Workspace, name: str, shape: RunShape, warmup: int, measured: int) -> dict:
    workers, extra = layout_overrides(name)
    run = run_training(replace(workspace, extra_overrides=(*workspace.extra_overrides, *extra)),
                       replace(shape, workers=workers), warmup, measured)

    def median(key: str) -> float | None:
        values = [row[key] for row in run.measured if key in row]
        return statistics.median(values) if values else None

    step_s = median("timing_s/step")
    return {
        "layout": name, "step_s": step_s, "samples_per_s": shape.prompts * shape.n / step_s,
        "gen_wait_s": median("timing_s/gen"), "update_actor_s": median("timing_s/update_actor"),
        "weight_sync_s": median("timing_s/weight_sync"), "rollout_busy_s": median("async/rollout_busy_s"),
        "rollout_idle_s": median("async/rollout_idle_s"),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/async_bench"))
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--response-length", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--measured", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--layouts", nargs="+", choices=sorted(LAYOUTS), default=list(LAYOUTS))
    args = parser.parse_args(argv)
    shape = RunShape(n=args.n, prompts=args.prompts, response_length=args.response_length, ignore_eos=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="maxrl_async_bench_") as root:
        workspace = build_workspace(Path(root))
        _start_ray()
        for round_index in range(args.rounds):
            order = args.layouts if round_index % 2 == 0 else args.layouts[::-1]
            results += [measure(workspace, name, shape, args.warmup, args.measured) | {"round": round_index}
                        for name in order]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print("| layout | round | " + " | ".join(COLUMNS) + " |")
    print("| --- " * (len(COLUMNS) + 2) + "|")
    for row in results:
        cells = ["-" if row[c] is None else f"{row[c]:.3g}" for c in COLUMNS]
        print(f"| {row['layout']} | {row['round']} | " + " | ".join(cells) + " |")
    return results


if __name__ == "__main__":
    main()
