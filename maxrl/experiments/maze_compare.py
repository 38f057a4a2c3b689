"""Summarise the maze comparison study: pass@k of MaxRL, GRPO and RLOO over seeds, and MaxRL's efficiency.

    python -m maxrl.experiments.maze_compare STUDY_DIR --out evidence/maze_compare

STUDY_DIR holds one run folder per training run, named ``n<rollouts>/<method>_seed<seed>`` (runs without the
``.done`` marker of `maxrl.experiments.run_configs` are left out), and optionally
``warm_start/`` (a validation-only run of the starting model); ``maze/compare_cpu.sh`` writes that layout.
Each run's last validation (``validation/step_<N>.json``, per-maze success counts) gives the unbiased pass@k
curve; its earlier validations give the learning curves. Writes ``pass_at_k.png`` (one panel per rollout
count, one curve per method: mean over seeds, band = min..max), ``learning_curves.png`` (pass@1 and pass@64
against the training step), ``table.md``, ``results.json`` (every per-seed curve, the means and spreads, the
paper's test-time-scaling efficiency of MaxRL over GRPO from the seed-mean curves and seed by seed, and
MaxRL's paired differences to GRPO and RLOO) and ``summary.json`` (the same results in a flat form: final
pass@k per method, N and seed, the warm start's, and the learning curves).

Paired differences answer "beyond the seed spread?": within a seed every method shares the warm start, the
data order and the sampling seed, so MaxRL's pass@k minus another method's, seed by seed, removes what the
seeds share. Reported: the mean difference, its range over seeds, on how many seeds MaxRL is ahead, and the
exact two-sided sign-flip test's p-value (every one of the 2^seeds sign assignments; with 5 seeds the
smallest possible p is 1/16).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from maxrl.algorithms import test_time_scaling_efficiency  # noqa: E402
from maxrl.experiments.run_configs import DONE_MARKER  # noqa: E402
from maxrl.trainer.val_metrics import pass_at_k_curve, read_counts  # noqa: E402
from maxrl.utils.atomic import atomic_path, write_text_atomic  # noqa: E402

logger = logging.getLogger(__name__)

RUN_NAME = re.compile(r"^(?P<method>[a-z0-9_]+)_seed(?P<seed>\d+)$")
ROLLOUTS_DIR = re.compile(r"^n(?P<n>\d+)$")
WARM_START = "warm_start"
METHOD_ORDER = ("maxrl", "grpo", "rloo")
TABLE_KS = (1, 4, 16, 64, 256)
DIFFERENCE_KS = (1, 16, 256)
CURVE_KS = (1, 64)


def final_curve(run_dir: Path, validations: list | None = None) -> dict:
    """The unbiased pass@k curve of a run's last validation (its only data source); ``validations`` are the
    run's ``read_counts`` when the caller has them already."""
    validations = read_counts(run_dir) if validations is None else validations
    if not validations:
        raise FileNotFoundError(f"{run_dir}: no validation/step_<N>.json (did the run finish?)")
    step, counts = validations[-1]
    if len(counts) != 1:
        raise ValueError(f"{run_dir}: expected one data source in the validation, found {sorted(counts)}")
    (source, source_counts), = counts.items()
    ks, values = pass_at_k_curve(source_counts)
    return {"step": step, "data_source": source, "mazes": len(source_counts["num_samples"]), "ks": ks,
            "pass_at_k": values}


def learning_curve(validations: Sequence, ks: Sequence[int] = CURVE_KS) -> dict:
    """pass@k at every validation of a run (its ``read_counts``), in step order (``None`` where a validation
    drew fewer than k)."""
    steps, values = [], {k: [] for k in ks}
    for step, counts in validations:
        (source_counts,) = counts.values()
        reached = dict(zip(*pass_at_k_curve(source_counts, ks)))
        steps.append(step)
        for k in ks:
            values[k].append(reached.get(k))
    return {"steps": steps, "pass_at_k": values}


def curve_statistics(curves: Sequence[dict], ks: Sequence[int] = CURVE_KS) -> dict:
    """Mean, min and max over seeds at the validation steps every seed shares."""
    steps = sorted(set.intersection(*(set(curve["steps"]) for curve in curves)))
    stats: dict = {"steps": steps}
    for k in ks:
        rows = [[curve["pass_at_k"][k][curve["steps"].index(step)] for step in steps] for curve in curves]
        matrix = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
        stats[k] = {name: [None if np.isnan(v) else float(v) for v in reduce(matrix, axis=0)]
                    for name, reduce in (("mean", np.mean), ("min", np.min), ("max", np.max))}
    return stats


def discover_runs(study_dir: Path) -> dict[int, dict[str, dict[int, Path]]]:
    """``{rollouts: {method: {seed: run folder}}}`` from the study's folder names."""
    runs: dict[int, dict[str, dict[int, Path]]] = defaultdict(lambda: defaultdict(dict))
    for n_dir in sorted(study_dir.iterdir()):
        n_match = ROLLOUTS_DIR.match(n_dir.name)
        if not (n_dir.is_dir() and n_match):
            continue
        for run_dir in sorted(n_dir.iterdir()):
            run_match = RUN_NAME.match(run_dir.name)
            if not (run_dir.is_dir() and run_match):
                continue
            if not (run_dir / DONE_MARKER).exists():
                logger.warning("%s: unfinished (no %s), left out of the summary", run_dir, DONE_MARKER)
                continue
            runs[int(n_match["n"])][run_match["method"]][int(run_match["seed"])] = run_dir
    if not runs:
        raise FileNotFoundError(f"{study_dir}: no finished run folders named n<rollouts>/<method>_seed<seed>")
    return runs


def seed_statistics(curves: Sequence[dict]) -> dict:
    """Mean, min and max over seeds of pass@k at the k every seed evaluated."""
    ks = sorted(set.intersection(*(set(curve["ks"]) for curve in curves)))
    matrix = np.array([[dict(zip(c["ks"], c["pass_at_k"]))[k] for k in ks] for c in curves])
    return {"ks": ks, "mean": matrix.mean(0).tolist(), "min": matrix.min(0).tolist(), "max": matrix.max(0).tolist(),
            "seeds": len(curves)}


def efficiency_record(ks_a, pass_a, ks_b, pass_b) -> dict:
    result = test_time_scaling_efficiency(ks_a, pass_a, ks_b, pass_b)
    return {"ratio": result.ratio, "k_star": result.k_star, "k_max": result.k_max, "target": result.target,
            "reached": result.reached, "explanation": result.reason}


def sign_flip_p_value(differences: Sequence[float]) -> float:
    """Exact two-sided p-value of a zero mean difference: the share of sign assignments whose mean is at least
    as far from 0 as the observed one (a permutation test; exact, so only for up to 16 seeds)."""
    values = np.asarray(differences, dtype=float)
    if not 0 < len(values) <= 16:
        raise ValueError(f"sign_flip_p_value: needs 1..16 differences, got {len(values)}")
    signs = 1 - 2 * ((np.arange(2 ** len(values))[:, None] >> np.arange(len(values))) & 1)
    means = np.abs((signs * values).mean(1))
    return float((means >= abs(values.mean()) - 1e-12).mean())


def paired_difference(curves_a: Mapping[int, dict], curves_b: Mapping[int, dict], k: int) -> dict | None:
    """Method a minus method b at one k, over the seeds both ran: mean, range, wins of a, p-value."""
    seeds = sorted(seed for seed in curves_a if seed in curves_b
                   and k in curves_a[seed]["ks"] and k in curves_b[seed]["ks"])
    if not seeds:
        return None

    def at_k(curve: dict) -> float:
        return curve["pass_at_k"][curve["ks"].index(k)]

    differences = [at_k(curves_a[seed]) - at_k(curves_b[seed]) for seed in seeds]
    return {"k": k, "seeds": seeds, "differences": differences, "mean": float(np.mean(differences)),
            "min": min(differences), "max": max(differences), "wins": sum(d > 0 for d in differences),
            "p_value": sign_flip_p_value(differences)}


def summarise(study_dir: Path) -> dict:
    """Every curve of the study, the per-method seed statistics and MaxRL's efficiency over GRPO."""
    runs = discover_runs(study_dir)
    summary: dict = {"study_dir": str(study_dir), "rollouts": {}}
    if (study_dir / WARM_START).is_dir():
        summary["warm_start"] = final_curve(study_dir / WARM_START)
    for n, methods in sorted(runs.items()):
        per_method = {}
        for method in sorted(methods, key=lambda m: (METHOD_ORDER + (m,)).index(m)):
            validations = {seed: read_counts(path) for seed, path in sorted(methods[method].items())}
            curves = {seed: final_curve(methods[method][seed], runs) for seed, runs in validations.items()}
            learning = {seed: learning_curve(runs) for seed, runs in validations.items()}
            per_method[method] = {"per_seed": curves, "stats": seed_statistics(list(curves.values())),
                                  "learning_curves": learning,
                                  "learning_stats": curve_statistics(list(learning.values()))}
        entry = {"methods": per_method}
        if "maxrl" in per_method and "grpo" in per_method:
            a, b = per_method["maxrl"]["stats"], per_method["grpo"]["stats"]
            entry["efficiency_maxrl_over_grpo"] = {
                "seed_mean": efficiency_record(a["ks"], a["mean"], b["ks"], b["mean"]),
                "per_seed": {
                    seed: efficiency_record(curve["ks"], curve["pass_at_k"], per_method["grpo"]["per_seed"][seed]["ks"],
                                            per_method["grpo"]["per_seed"][seed]["pass_at_k"])
                    for seed, curve in per_method["maxrl"]["per_seed"].items() if seed in per_method["grpo"]["per_seed"]
                },
            }
        entry["paired_differences"] = {
            f"maxrl-{other}": [record for k in DIFFERENCE_KS if (record := paired_difference(
                per_method["maxrl"]["per_seed"], per_method[other]["per_seed"], k)) is not None]
            for other in ("grpo", "rloo") if "maxrl" in per_method and other in per_method
        }
        summary["rollouts"][n] = entry
    return summary


def _cell(stats: Mapping, k: int) -> str:
    if k not in stats["ks"]:
        return "–"
    i = stats["ks"].index(k)
    return f"{stats['mean'][i]:.3f} ({stats['min'][i]:.3f}–{stats['max'][i]:.3f})"


def _ratio(record: Mapping) -> str:
    if not record["reached"]:
        return "not reached"
    bound = "≥ " if record["k_star"] == 1 else ""
    return f"{bound}{record['ratio']:.2f}×"


def markdown_table(summary: Mapping) -> str:
    """pass@k as ``mean (min–max over seeds)``, and MaxRL's efficiency over GRPO per rollout count."""
    ks = [k for k in TABLE_KS]
    lines = ["| rollouts N | method | seeds | " + " | ".join(f"pass@{k}" for k in ks) + " |",
             "|---|---|---|" + "---|" * len(ks)]
    if "warm_start" in summary:
        warm = summary["warm_start"]
        stats = {"ks": warm["ks"], "mean": warm["pass_at_k"], "min": warm["pass_at_k"], "max": warm["pass_at_k"]}
        lines.append("| – | warm start | – | " + " | ".join(_cell(stats, k).split(" (")[0] for k in ks) + " |")
    for n, entry in summary["rollouts"].items():
        for method, result in entry["methods"].items():
            stats = result["stats"]
            lines.append(f"| {n} | {method} | {stats['seeds']} | " + " | ".join(_cell(stats, k) for k in ks) + " |")
    lines += ["", "Test-time-scaling efficiency of MaxRL over GRPO (GRPO's pass@k_max reached by MaxRL at k*; "
              "ratio = k_max / k*):", "", "| rollouts N | seed-mean curves | per seed |", "|---|---|---|"]
    for n, entry in summary["rollouts"].items():
        if "efficiency_maxrl_over_grpo" not in entry:
            continue
        eff = entry["efficiency_maxrl_over_grpo"]
        per_seed = ", ".join(f"seed {seed}: {_ratio(record)}" for seed, record in eff["per_seed"].items())
        lines.append(f"| {n} | {_ratio(eff['seed_mean'])} (GRPO pass@{eff['seed_mean']['k_max']:g} = "
                     f"{eff['seed_mean']['target']:.3f}) | {per_seed} |")
    lines += ["", "Paired differences, seed by seed (MaxRL minus the other method at the same seed): mean "
              "(min–max over seeds), seeds with MaxRL ahead, exact sign-flip p-value:", "",
              "| rollouts N | comparison | k | difference | MaxRL ahead | p |", "|---|---|---|---|---|---|"]
    for n, entry in summary["rollouts"].items():
        for name, records in entry.get("paired_differences", {}).items():
            for record in records:
                lines.append(f"| {n} | {name.replace('-', ' − ')} | {record['k']} | {record['mean']:+.3f} "
                             f"({record['min']:+.3f} to {record['max']:+.3f}) | {record['wins']}/"
                             f"{len(record['seeds'])} | {record['p_value']:.3f} |")
    return "\n".join(lines) + "\n"


def plot(summary: Mapping, path: Path) -> Path:
    """One panel per rollout count: each method's seed-mean pass@k (band = min..max), the warm start dashed."""
    rollouts = list(summary["rollouts"])
    fig, axes = plt.subplots(1, len(rollouts), figsize=(5.2 * len(rollouts), 4.2), squeeze=False, sharey=True)
    for ax, n in zip(axes[0], rollouts):
        if "warm_start" in summary:
            warm = summary["warm_start"]
            ax.plot(warm["ks"], warm["pass_at_k"], "k--", linewidth=1, label="warm start")
        for method, result in summary["rollouts"][n]["methods"].items():
            stats = result["stats"]
            (line,) = ax.plot(stats["ks"], stats["mean"], marker="o", markersize=3,
                              label=f"{method} ({stats['seeds']} seeds)")
            ax.fill_between(stats["ks"], stats["min"], stats["max"], color=line.get_color(), alpha=0.2)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (samples per maze)")
        ax.set_title(f"N = {n} rollouts per prompt")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    axes[0][0].set_ylabel("pass@k (unbiased, test mazes)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def plot_learning_curves(summary: Mapping, path: Path) -> Path:
    """pass@k against the training step, one row per k of CURVE_KS and one column per rollout count; the
    warm start (step 0) is drawn as each curve's first point."""
    rollouts = list(summary["rollouts"])
    fig, axes = plt.subplots(len(CURVE_KS), len(rollouts), figsize=(5.2 * len(rollouts), 3.6 * len(CURVE_KS)),
                             squeeze=False, sharex=True)
    warm = summary.get("warm_start")
    for column, n in enumerate(rollouts):
        for row, k in enumerate(CURVE_KS):
            ax = axes[row][column]
            warm_value = dict(zip(warm["ks"], warm["pass_at_k"])).get(k) if warm else None
            for method, result in summary["rollouts"][n]["methods"].items():
                stats = result["learning_stats"]
                steps, band = list(stats["steps"]), stats[k]
                mean, low, high = list(band["mean"]), list(band["min"]), list(band["max"])
                if warm_value is not None and (not steps or steps[0] > 0):
                    steps, mean, low, high = [0] + steps, [warm_value] + mean, [warm_value] + low, [warm_value] + high
                points = [(s, m, lo, hi) for s, m, lo, hi in zip(steps, mean, low, high) if m is not None]
                if not points:
                    continue
                xs, ms, los, his = zip(*points)
                (line,) = ax.plot(xs, ms, marker="o", markersize=3, label=f"{method} ({result['stats']['seeds']} seeds)")
                ax.fill_between(xs, los, his, color=line.get_color(), alpha=0.2)
            if warm_value is not None:
                ax.axhline(warm_value, color="k", linestyle="--", linewidth=1, label="warm start")
            ax.set_title(f"pass@{k}, N = {n}")
            ax.grid(True, alpha=0.3)
            if row == len(CURVE_KS) - 1:
                ax.set_xlabel("training step")
        axes[0][column].legend(fontsize="small")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def flat_summary(summary: Mapping) -> dict:
    """Final pass@k per method, N and seed (k as a string key), the warm start's, and the learning curves."""

    def by_k(curve: Mapping) -> dict:
        return {str(k): value for k, value in zip(curve["ks"], curve["pass_at_k"])}

    flat: dict = {"warm_start": by_k(summary["warm_start"]) if "warm_start" in summary else None,
                  "final_pass_at_k": {}, "final_step": {}, "learning_curves": {}}
    for n, entry in summary["rollouts"].items():
        for method, result in entry["methods"].items():
            flat["final_pass_at_k"].setdefault(method, {})[str(n)] = {
                str(seed): by_k(curve) for seed, curve in result["per_seed"].items()}
            flat["final_step"].setdefault(method, {})[str(n)] = {
                str(seed): curve["step"] for seed, curve in result["per_seed"].items()}
            flat["learning_curves"].setdefault(method, {})[str(n)] = {
                str(seed): {"steps": curve["steps"], **{f"pass@{k}": values for k, values in curve["pass_at_k"].items()}}
                for seed, curve in result["learning_curves"].items()}
    return flat


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maxrl.experiments.maze_compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("study_dir", type=Path, help="folder with n<rollouts>/<method>_seed<seed>/ run folders")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for pass_at_k.png, learning_curves.png, table.md, results.json, summary.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    summary = summarise(args.study_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(summary)
    write_text_atomic(args.out / "table.md", table)
    write_text_atomic(args.out / "results.json", json.dumps(summary, indent=1))
    write_text_atomic(args.out / "summary.json", json.dumps(flat_summary(summary), indent=1))
    plot(summary, args.out / "pass_at_k.png")
    plot_learning_curves(summary, args.out / "learning_curves.png")
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
