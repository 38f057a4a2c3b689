"""Train every objective on the offline sets with equal steps, then write a comparison table and plots.

    python -m maxrl.tasks.vision.compare --output-dir outputs/vision_cpu [options] [key=value ...]

For each dataset every objective runs at ``--num-rollouts`` labels per image (cross-entropy needs none); on
the ``--sweep-datasets`` the ``--sweep-objectives`` also run at each of ``--sweep-rollouts``, to show how the
number of rollouts matters. Trailing ``key=value`` overrides (see ``config.py``) apply to every run, after
the per-dataset defaults below. Outputs in ``--output-dir``: one folder per run (``<dataset>/<objective>_n<N>``),
``comparison.md``, ``comparison.json`` and, per dataset, ``pass_at_k_<dataset>.png`` and
``pass1_over_training_<dataset>.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from maxrl.tasks.vision.config import build_config
from maxrl.tasks.vision.objectives import CROSS_ENTROPY, PAPER_OBJECTIVES
from maxrl.tasks.vision.plots import plot_metric_over_training, plot_pass_at_k
from maxrl.tasks.vision.train import train
from maxrl.trainer.tracking import read_metrics
from maxrl.utils.atomic import write_text_atomic

logger = logging.getLogger(__name__)

# Settings that make each offline run take seconds on one CPU thread while still learning the task.
DATASET_DEFAULTS: dict[str, list[str]] = {
    "digits": ["trainer.batch_size=64", "model.hidden=128", "optim.lr=0.05"],
    "gaussian_mixture": ["trainer.batch_size=128", "model.hidden=256", "optim.lr=0.1"],
}
TABLE_KS = (1, 4, 16, 64, 256, 1024)


@dataclass
class RunResult:
    dataset: str
    objective: str
    num_rollouts: int | None  # None for cross-entropy
    steps: int
    wall_s: float
    final: dict[str, float]
    initial: dict[str, float]
    pass1_history: list[tuple[int, float]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.objective if self.num_rollouts is None else f"{self.objective} N={self.num_rollouts}"


def planned_runs(args) -> list[tuple[str, str, int | None]]:
    """(dataset, objective, rollouts) triples: every objective at the main N, then the N sweep."""
    runs: list[tuple[str, str, int | None]] = []
    for dataset in args.datasets:
        for objective in args.objectives:
            runs.append((dataset, objective, None if objective == CROSS_ENTROPY else args.num_rollouts))
        if dataset in args.sweep_datasets:
            for objective in args.sweep_objectives:
                runs += [(dataset, objective, n) for n in args.sweep_rollouts if n != args.num_rollouts]
    return list(dict.fromkeys(runs))


def run_one(dataset: str, objective: str, num_rollouts: int | None, args, overrides: list[str]) -> RunResult:
    run_dir = Path(args.output_dir) / dataset / (objective if num_rollouts is None else f"{objective}_n{num_rollouts}")
    shutil.rmtree(run_dir, ignore_errors=True)  # a comparison always starts from scratch
    config = build_config([
        f"data.name={dataset}", *DATASET_DEFAULTS.get(dataset, []), f"objective.name={objective}",
        f"objective.num_rollouts={num_rollouts or 1}", f"trainer.max_steps={args.steps}",
        f"trainer.eval_every={args.eval_every}", "trainer.save_every=0", "trainer.logger=[file]",
        f"trainer.output_dir={run_dir}", f"trainer.experiment_name={dataset}-{run_dir.name}",
        "optim.warmup_epochs=0", *overrides,
    ])
    start = time.perf_counter()
    final = train(config)
    wall = time.perf_counter() - start
    records = read_metrics(run_dir)
    history = [(r["step"], r["val/pass@1"]) for r in records if "val/pass@1" in r]
    initial = next(r for r in records if r["step"] == 0)
    result = RunResult(dataset, objective, num_rollouts, args.steps, wall, final,
                       {k: v for k, v in initial.items() if k.startswith("val/")}, history)
    logger.info("%-10s %-28s pass@1 %.4f  pass@%d %.4f  (%.0f s)", dataset, result.label,
                final["val/pass@1"], max(TABLE_KS), final.get(f"val/pass@{max(TABLE_KS)}", float("nan")), wall)
    return result


def markdown_table(results: list[RunResult]) -> str:
    """One table per dataset: the untrained model, then each run, at equal steps."""
    lines = []
    for dataset in dict.fromkeys(r.dataset for r in results):
        rows = [r for r in results if r.dataset == dataset]
        ks = [k for k in TABLE_KS if f"val/pass@{k}" in rows[0].final]
        lines += [f"### {dataset} ({rows[0].steps} steps)", "",
                  "| objective | N | " + " | ".join(f"pass@{k}" for k in ks) + " | acc | CE | wall s |",
                  "|---|---|" + "---|" * (len(ks) + 3)]
        initial = rows[0].initial
        lines.append("| untrained | – | " + " | ".join(f"{initial[f'val/pass@{k}']:.4f}" for k in ks)
                     + f" | {initial['val/acc']:.4f} | {initial['val/loss']:.3f} | – |")
        for r in rows:
            values = " | ".join(f"{r.final[f'val/pass@{k}']:.4f}" for k in ks)
            lines.append(f"| {r.objective} | {r.num_rollouts or '–'} | {values} | {r.final['val/acc']:.4f} "
                         f"| {r.final['val/loss']:.3f} | {r.wall_s:.0f} |")
        lines.append("")
    return "\n".join(lines)


def line_styles(results: list[RunResult]) -> dict[str, dict[str, object]]:
    """One colour per objective, one line style per number of rollouts; the untrained model in grey."""
    objectives = list(dict.fromkeys(r.objective for r in results))
    rollouts = sorted({r.num_rollouts for r in results if r.num_rollouts is not None})
    dashes = ["-", "--", ":", "-."]
    styles: dict[str, dict[str, object]] = {"untrained": {"color": "0.5", "linestyle": ":"}}
    for r in results:
        style_index = rollouts.index(r.num_rollouts) if r.num_rollouts is not None else 0
        styles[r.label] = {"color": f"C{objectives.index(r.objective) % 10}",
                           "linestyle": dashes[style_index % len(dashes)]}
    return styles


def write_report(results: list[RunResult], output_dir: Path, command: str) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output_dir / "comparison.json",
                      json.dumps({"command": command, "runs": [asdict(r) for r in results]}, indent=1) + "\n")
    write_text_atomic(output_dir / "comparison.md", f"Command: `{command}`\n\n{markdown_table(results)}")
    for dataset in dict.fromkeys(r.dataset for r in results):
        rows = [r for r in results if r.dataset == dataset]
        steps = rows[0].steps
        pass_curves = {r.label: {int(key.split("@")[1]): value for key, value in r.final.items()
                                 if key.startswith("val/pass@")} for r in rows}
        pass_curves = {"untrained": {int(key.split("@")[1]): value for key, value in rows[0].initial.items()
                                     if key.startswith("val/pass@")}, **pass_curves}
        styles = line_styles(rows)
        plot_pass_at_k(pass_curves, output_dir / f"pass_at_k_{dataset}.png",
                       f"{dataset}: pass@k after {steps} steps", styles)
        plot_metric_over_training({r.label: r.pass1_history for r in rows},
                                  output_dir / f"pass1_over_training_{dataset}.png", f"{dataset}: validation pass@1",
                                  styles=styles)


def load_report(output_dir: Path) -> tuple[list[RunResult], str]:
    """The runs and command recorded in ``output_dir/comparison.json``."""
    path = output_dir / "comparison.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run the comparison first (without --replot)")
    recorded = json.loads(path.read_text())
    runs = [RunResult(**{**run, "pass1_history": [tuple(point) for point in run["pass1_history"]]})
            for run in recorded["runs"]]
    return runs, recorded["command"]


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="outputs/vision_cpu")
    parser.add_argument("--datasets", nargs="+", default=["digits", "gaussian_mixture"])
    parser.add_argument("--objectives", nargs="+", default=list(PAPER_OBJECTIVES))
    parser.add_argument("--num-rollouts", type=int, default=128)
    parser.add_argument("--sweep-datasets", nargs="*", default=["gaussian_mixture"])
    parser.add_argument("--sweep-objectives", nargs="*", default=["maxrl", "reinforce_with_baseline"])
    parser.add_argument("--sweep-rollouts", type=int, nargs="*", default=[16, 128, 1024])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--replot", action="store_true",
                        help="only rebuild the table and plots from OUTPUT_DIR/comparison.json")
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args, overrides = parse_args(argv)
    output_dir = Path(args.output_dir)
    if args.replot:
        results, command = load_report(output_dir)
    else:
        command = "python -m maxrl.tasks.vision.compare " + " ".join(sys.argv[1:] if argv is None else argv)
        results = [run_one(dataset, objective, n, args, overrides) for dataset, objective, n in planned_runs(args)]
    write_report(results, output_dir, command)
    sys.stdout.write(markdown_table(results) + "\n")  # the command's output: the results table


if __name__ == "__main__":
    main()
