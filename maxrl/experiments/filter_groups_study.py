"""Summarise the dynamic-sampling study: pass@k against the samples generated, with and without filtering.

    python -m maxrl.experiments.filter_groups_study STUDY_DIR --out STUDY_DIR/summary

STUDY_DIR holds one run folder per training run, ``<method>_filter_<off|on>_seed<seed>`` (runs without the
``.done`` marker of `maxrl.experiments.run_configs` are left out), and optionally ``warm_start/`` (a
validation-only run of the starting model: pass@k at 0 samples); ``maze/filter_groups_cpu.sh`` writes that
layout. A filtering run generates more samples per step than it trains on, so steps are the wrong axis: each
validation is placed at the samples generated up to its step (the sum of ``batch/samples_generated``).
The warm start's validation, when present, starts every curve at 0 samples.

Writes ``table.md``, ``results.json`` (every run's curve, and per arm the seed mean and min..max of: the last
validation, the validation at equal samples, the wall time and the zero-signal fractions) and ``samples.png``
(pass@1 and pass@k against samples generated, one line per run). "At equal samples" compares every arm at the
largest sample count every run reached (the budget of the run that generated least), each run's pass@k there
linearly interpolated between its two nearest validations.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from maxrl.experiments.run_configs import DONE_MARKER  # noqa: E402
from maxrl.trainer.tracking import read_metrics  # noqa: E402
from maxrl.utils.atomic import atomic_path, write_text_atomic  # noqa: E402

logger = logging.getLogger(__name__)

RUN_NAME = re.compile(r"(?P<method>\w+?)_filter_(?P<filter>on|off)_seed(?P<seed>\d+)$")


def pass_keys(row: dict) -> dict[int, str]:
    """k -> the ``val/<source>/pass@k`` key of a validation row (one data source)."""
    keys = {}
    for key in row:
        match = re.fullmatch(r"val/[^/]+/pass@(\d+)", key)
        if match:
            keys[int(match.group(1))] = key
    return keys


def run_curve(run_dir: Path) -> dict:
    """A run's validations against samples generated, its wall time (the steps' ``timing_s/step``, validation
    included) and its mean zero-signal fractions."""
    rows = sorted(read_metrics(run_dir), key=lambda row: row["step"])
    samples, points = 0.0, []
    for row in rows:
        samples += row.get("batch/samples_generated", 0.0)
        keys = pass_keys(row)
        if keys:
            points.append({"step": row["step"], "samples": samples, **{f"pass@{k}": row[key] for k, key in keys.items()}})
    steps = [row for row in rows if "batch/samples_generated" in row]
    fractions = {name: float(np.mean([row[f"batch/groups_{name}_frac"] for row in steps]))
                 for name in ("all_fail", "all_pass", "mixed")}
    return {
        "points": points,
        "wall_s": float(sum(row.get("timing_s/step", 0.0) for row in steps)),
        "samples": samples,
        "steps": len(steps),
        "gen_rounds_mean": float(np.mean([row["batch/gen_rounds"] for row in steps])),
        "group_fractions": fractions,
    }


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values)), "n": len(values)}


def at_samples(points: list[dict], budget: float) -> dict:
    """pass@k at `budget` samples, linearly interpolated between the validations on either side of it (the
    validation itself when one falls on it); `budget` must lie within the curve."""
    samples = [point["samples"] for point in points]
    keys = [key for key in points[-1] if key.startswith("pass@")]
    return {"samples": budget, **{key: float(np.interp(budget, samples, [p[key] for p in points])) for key in keys}}


def summarise(study: Path) -> dict:
    runs: dict[str, dict[int, dict]] = defaultdict(dict)
    for run_dir in sorted(study.iterdir()):
        match = RUN_NAME.match(run_dir.name)
        if match and (run_dir / DONE_MARKER).exists():
            runs[f"{match['method']} filter {match['filter']}"][int(match["seed"])] = run_curve(run_dir)
    if not runs:
        raise SystemExit(f"{study}: no finished run folders named <method>_filter_<on|off>_seed<S>")
    warm = study / "warm_start"
    start = None
    if (warm / DONE_MARKER).exists():
        row = read_metrics(warm)[-1]
        start = {"samples": 0.0, **{f"pass@{k}": row[key] for k, key in pass_keys(row).items()}}
    for curves in runs.values():
        for curve in curves.values():
            curve["points"] = ([start] if start else []) + curve["points"]
    budget = min(curve["points"][-1]["samples"] for curves in runs.values() for curve in curves.values())
    ks = sorted(int(key.split("@")[1]) for key in runs[next(iter(runs))][min(runs[next(iter(runs))])]["points"][-1]
                if key.startswith("pass@"))
    arms = {}
    for arm, curves in sorted(runs.items()):
        last = [curve["points"][-1] for curve in curves.values()]
        equal = [at_samples(curve["points"], budget) for curve in curves.values()]
        arms[arm] = {
            "seeds": sorted(curves),
            "last": {f"pass@{k}": spread([p[f"pass@{k}"] for p in last]) for k in ks}
            | {"samples": spread([p["samples"] for p in last])},
            "equal_samples": {f"pass@{k}": spread([p[f"pass@{k}"] for p in equal]) for k in ks},
            "wall_s": spread([curve["wall_s"] for curve in curves.values()]),
            "gen_rounds_mean": spread([curve["gen_rounds_mean"] for curve in curves.values()]),
            "group_fractions": {name: spread([curve["group_fractions"][name] for curve in curves.values()])
                                for name in ("all_fail", "all_pass", "mixed")},
        }
    return {"budget_samples": budget, "ks": ks, "start": start, "arms": arms,
            "runs": {arm: {str(seed): curve for seed, curve in curves.items()} for arm, curves in runs.items()}}


def _cell(value: dict, digits: int = 3) -> str:
    if value["n"] == 1:
        return f"{value['mean']:.{digits}f}"
    return f"{value['mean']:.{digits}f} ({value['min']:.{digits}f}..{value['max']:.{digits}f})"


def table(results: dict) -> str:
    k_low, k_high = results["ks"][0], results["ks"][-1]
    lines = [
        f"Seed mean (min..max over seeds). Equal samples: pass@k at {results['budget_samples']:.0f} generated samples, "
        "interpolated linearly between a run's two nearest validations.",
        "",
        f"| arm | seeds | pass@{k_low} last | pass@{k_high} last | samples last | pass@{k_low} equal samples | "
        f"pass@{k_high} equal samples | wall s | rounds/step | all-fail | all-pass | mixed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for arm, entry in results["arms"].items():
        fractions = entry["group_fractions"]
        lines.append(
            f"| {arm} | {len(entry['seeds'])} | {_cell(entry['last'][f'pass@{k_low}'])} | "
            f"{_cell(entry['last'][f'pass@{k_high}'])} | {_cell(entry['last']['samples'], 0)} | "
            f"{_cell(entry['equal_samples'][f'pass@{k_low}'])} | {_cell(entry['equal_samples'][f'pass@{k_high}'])} | "
            f"{_cell(entry['wall_s'], 0)} | "
            f"{_cell(entry['gen_rounds_mean'], 2)} | {_cell(fractions['all_fail'], 2)} | "
            f"{_cell(fractions['all_pass'], 2)} | {_cell(fractions['mixed'], 2)} |"
        )
    if results["start"]:
        start = results["start"]
        lines += ["", f"Warm start: pass@{k_low} {start[f'pass@{k_low}']:.3f}, pass@{k_high} {start[f'pass@{k_high}']:.3f}."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    ks = (results["ks"][0], results["ks"][-1])
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    colours = dict(zip(results["runs"], plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for axis, k in zip(axes, ks):
        for arm, curves in results["runs"].items():
            for index, curve in enumerate(curves.values()):
                points = curve["points"]
                axis.plot([p["samples"] for p in points], [p[f"pass@{k}"] for p in points], color=colours[arm],
                          marker=".", alpha=0.8, label=arm if index == 0 else None)
        axis.set_xlabel("samples generated")
        axis.set_ylabel(f"test pass@{k}")
        axis.grid(alpha=0.3)
    axes[0].legend()
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maxrl.experiments.filter_groups_study",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, help="the study folder (maze/filter_groups_cpu.sh's STUDY_ROOT)")
    parser.add_argument("--out", type=Path, required=True, help="folder for table.md, results.json, samples.png")
    args = parser.parse_args(argv)
    results = summarise(args.study)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "results.json", json.dumps(results, indent=1) + "\n")
    write_text_atomic(args.out / "table.md", table(results))
    plot(results, args.out / "samples.png")
    logger.info("%s", table(results))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    sys.exit(main())
