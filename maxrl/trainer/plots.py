"""PNG plots from run folders: pass@k curves, training curves, and a two-run comparison.

    maxrl-plot run  <run folder> [--out DIR]
    maxrl-plot compare <run A> <run B> [--labels A B] [--step N] [--out DIR]
    maxrl-plot summary <run folder>

(``python -m maxrl.trainer.plots ...`` is the same.) `summary` prints the pass@k table of every
validation of a run. `run` draws, per data source, unbiased pass@k
against k for every validation of the run (from ``validation/step_<N>.json``) and a grid of training
curves (from ``metrics.jsonl``). `compare` draws both runs' pass@k curves on one plot per data source and
reports the paper's test-time-scaling efficiency: how many times fewer samples run A needs to reach run
B's pass@k at B's largest k (e.g. A = MaxRL, B = GRPO). Plots go to ``<run>/plots`` by default.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from maxrl.algorithms import test_time_scaling_efficiency  # noqa: E402
from maxrl.trainer.tracking import read_metrics  # noqa: E402
from maxrl.trainer.val_metrics import pass_at_k_curve, read_counts  # noqa: E402

logger = logging.getLogger(__name__)

PLOTS_DIR = "plots"
TRAINING_PANELS = (
    "critic/score/mean",
    "train_pass_rate/fraction_zero",
    "train_pass_rate/fraction_mixed",
    "train_pass_rate/fraction_one",
    "actor/pg_loss",
    "actor/grad_norm",
    "actor/entropy",
    "response_length/mean",
    "training/rollout_probs_diff_mean",
    "timing_s/step",
)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _log2_k_axis(ax) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples per prompt)")
    ax.set_ylabel("pass@k (unbiased)")
    ax.grid(True, alpha=0.3)


def plot_pass_at_k(run_dir: Path, out_dir: Path) -> list[Path]:
    """One PNG per data source: pass@k vs k, one curve per validation step (darker = later)."""
    validations = read_counts(run_dir)
    if not validations:
        raise FileNotFoundError(f"{run_dir}: no validation/step_<N>.json files (did the run validate?)")
    sources = sorted({source for _, counts in validations for source in counts})
    written = []
    for source in sources:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        steps = [(step, counts[source]) for step, counts in validations if source in counts]
        colors = plt.cm.viridis([i / max(len(steps) - 1, 1) for i in range(len(steps))])
        for (step, counts), color in zip(steps, colors):
            ks, values = pass_at_k_curve(counts)
            ax.plot(ks, values, marker="o", markersize=3, color=color, label=f"step {step}")
        _log2_k_axis(ax)
        ax.set_title(f"{source}: pass@k per validation")
        ax.legend(fontsize="small")
        path = out_dir / f"pass_at_k_{_safe(source)}.png"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written


def plot_training_curves(run_dir: Path, out_dir: Path) -> Path:
    """A grid of training metrics against step, plus every validation pass@1 and pass@n_max."""
    rows = read_metrics(run_dir)
    keys = [key for key in TRAINING_PANELS if any(key in row for row in rows)]
    val_keys = sorted({key for row in rows for key in row if key.startswith("val/") and "/pass@" in key})
    keys += val_keys
    if not keys:
        raise ValueError(f"{run_dir}/metrics.jsonl has none of the plotted metrics")
    columns = 3
    fig, axes = plt.subplots(math.ceil(len(keys) / columns), columns, figsize=(4.2 * columns, 3 * math.ceil(len(keys) / columns)), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        points = [(row["step"], row[key]) for row in rows if row.get(key) is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o" if key in val_keys else None, markersize=3)
        ax.set_title(key, fontsize="small")
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    path = out_dir / "training_curves.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _validation_at(run_dir: Path, step: int | None) -> tuple[int, dict]:
    validations = read_counts(run_dir)
    if not validations:
        raise FileNotFoundError(f"{run_dir}: no validation/step_<N>.json files")
    if step is None:
        return validations[-1]
    for found_step, counts in validations:
        if found_step == step:
            return found_step, counts
    raise ValueError(f"{run_dir}: no validation at step {step}; steps: {[s for s, _ in validations]}")


def compare_runs(run_a: Path, run_b: Path, labels: Sequence[str], out_dir: Path, step: int | None = None) -> dict:
    """Both runs' pass@k on one plot per shared data source, and A's test-time-scaling efficiency over B."""
    step_a, counts_a = _validation_at(run_a, step)
    step_b, counts_b = _validation_at(run_b, step)
    shared = sorted(set(counts_a) & set(counts_b))
    if not shared:
        raise ValueError(f"{run_a} and {run_b} share no data source ({sorted(counts_a)} vs {sorted(counts_b)})")
    summary = {}
    for source in shared:
        ks_a, pass_a = pass_at_k_curve(counts_a[source])
        ks_b, pass_b = pass_at_k_curve(counts_b[source])
        efficiency = test_time_scaling_efficiency(ks_a, pass_a, ks_b, pass_b)
        summary[source] = {
            labels[0]: dict(zip(map(str, ks_a), pass_a)),
            labels[1]: dict(zip(map(str, ks_b), pass_b)),
            "steps": {labels[0]: step_a, labels[1]: step_b},
            "efficiency": {
                "ratio": efficiency.ratio,
                "k_star": efficiency.k_star,
                "k_max": efficiency.k_max,
                "target": efficiency.target,
                "explanation": efficiency.reason,
            },
        }
        fig, ax = plt.subplots(figsize=(6, 4.5))
        ax.plot(ks_a, pass_a, marker="o", markersize=3, label=f"{labels[0]} (step {step_a})")
        ax.plot(ks_b, pass_b, marker="s", markersize=3, label=f"{labels[1]} (step {step_b})")
        if efficiency.reached:
            ax.annotate(
                "", xy=(efficiency.k_star, efficiency.target), xytext=(efficiency.k_max, efficiency.target),
                arrowprops={"arrowstyle": "->", "color": "gray"},
            )
            ax.text(efficiency.k_star, efficiency.target, f"  {efficiency.ratio:.2g}x fewer samples", va="bottom", fontsize="small")
        _log2_k_axis(ax)
        ax.set_title(f"{source}: {labels[0]} vs {labels[1]}")
        ax.legend(fontsize="small")
        fig.savefig(out_dir / f"compare_pass_at_k_{_safe(source)}.png", dpi=120, bbox_inches="tight")
        plt.close(fig)
    (out_dir / "compare.json").write_text(json.dumps(summary, indent=1))
    return summary


def summary_table(run_dir: Path) -> str:
    """Unbiased pass@k (k = 1, 2, 4, ..., n) of every validation of a run, one line per (step, data source)."""
    lines = []
    for step, counts in read_counts(run_dir):
        for source, source_counts in sorted(counts.items()):
            ks, values = pass_at_k_curve(source_counts)
            cells = "  ".join(f"pass@{k} {value:.3f}" for k, value in zip(ks, values))
            lines.append(f"step {step:>5}  {source}  ({len(source_counts['prompt'])} prompts)  {cells}")
    if not lines:
        raise FileNotFoundError(f"{run_dir}: no validation/step_<N>.json files (did the run validate?)")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maxrl-plot", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="pass@k and training curves of one run folder")
    run.add_argument("run_dir", type=Path)
    run.add_argument("--out", type=Path, default=None, help="output folder (default <run>/plots)")
    summary = commands.add_parser("summary", help="print the pass@k table of every validation of a run")
    summary.add_argument("run_dir", type=Path)
    compare = commands.add_parser("compare", help="pass@k of two runs and A's test-time-scaling efficiency over B")
    compare.add_argument("run_a", type=Path)
    compare.add_argument("run_b", type=Path)
    compare.add_argument("--labels", nargs=2, default=None, help="names of the runs (default: folder names)")
    compare.add_argument("--step", type=int, default=None, help="validation step to compare (default: the last)")
    compare.add_argument("--out", type=Path, default=None, help="output folder (default <run A>/plots)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "summary":
        sys.stdout.write(summary_table(args.run_dir) + "\n")
        return 0
    if args.command == "run":
        out = args.out or args.run_dir / PLOTS_DIR
        out.mkdir(parents=True, exist_ok=True)
        for path in [*plot_pass_at_k(args.run_dir, out), plot_training_curves(args.run_dir, out)]:
            logger.info("wrote %s", path)
        return 0
    labels = args.labels or [args.run_a.name, args.run_b.name]
    out = args.out or args.run_a / PLOTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    summary = compare_runs(args.run_a, args.run_b, labels, out, args.step)
    for source, entry in summary.items():
        eff = entry["efficiency"]
        if eff["ratio"] is None:
            sys.stdout.write(f"{source}: {labels[0]} does not reach {labels[1]}'s pass@{eff['k_max']:g} = "
                             f"{eff['target']:.4f} ({eff['explanation']})\n")
        else:
            sys.stdout.write(
                f"{source}: {labels[0]} reaches {labels[1]}'s pass@{eff['k_max']:g} = {eff['target']:.4f} at "
                f"k = {eff['k_star']:.3g}: {eff['ratio']:.3g}x fewer samples ({eff['explanation']})\n"
            )
    logger.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
