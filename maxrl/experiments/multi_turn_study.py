"""Summarise the multi-turn study: the calculator tool task and the multi-attempt maze, MaxRL and GRPO, seeds.

    python -m maxrl.experiments.multi_turn_study STUDY_DIR --out evidence/multi_turn

STUDY_DIR holds ``<task>/rl_<method>_seed<seed>/`` run folders (``multi_turn/study_cpu.sh`` writes them;
runs without the ``.done`` marker are left out). From each run's ``metrics.jsonl``: validation pass@1 and the
policy's tool-call rate (``val-multi_turn/tool_call_rate``) before training, along the way and at the end;
for the maze, also pass@1 of the final policy with a single attempt (``single_attempt/``). A run whose
config (``config.yaml``) names no tool file has no tool-call rate: its episodes could not call a tool, so
the agent loop's 0 would read as a finding. Writes
``summary.json`` (every run's curves and end points, means and min-max over seeds), ``table.md`` and
``curves.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib
from omegaconf import OmegaConf

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from maxrl.experiments.run_configs import DONE_MARKER  # noqa: E402
from maxrl.trainer.tracking import read_metrics  # noqa: E402
from maxrl.utils.atomic import atomic_path, write_text_atomic  # noqa: E402

logger = logging.getLogger(__name__)

RUN_NAME = re.compile(r"^rl_(?P<method>[a-z0-9_]+)_seed(?P<seed>\d+)$")
TOOL_RATE = "val-multi_turn/tool_call_rate"
TOOL_CONFIG = "actor_rollout_ref.rollout.multi_turn.tool_config_path"
TURNS = "val-multi_turn/assistant_turns/mean"


def _pass_at_1(row: dict) -> float | None:
    values = [value for key, value in row.items() if key.startswith("val/") and key.endswith("/pass@1")]
    return values[0] if len(values) == 1 else None


def has_tools(run_dir: Path) -> bool:
    """Whether the run's episodes could call a tool (its saved config names a tool file)."""
    config = run_dir / "config.yaml"
    return config.is_file() and bool(OmegaConf.select(OmegaConf.load(config), TOOL_CONFIG))


def run_curves(run_dir: Path) -> dict:
    """Validation steps with pass@1, tool-call rate and model turns per episode, and the single-attempt pass@1."""
    rows = [row for row in read_metrics(run_dir) if _pass_at_1(row) is not None]
    if not rows:
        raise FileNotFoundError(f"{run_dir}: no validation rows in metrics.jsonl")
    tools = has_tools(run_dir)
    curves = {
        "steps": [int(row["step"]) for row in rows],
        "pass@1": [_pass_at_1(row) for row in rows],
        "tool_call_rate": [row.get(TOOL_RATE) if tools else None for row in rows],
        "assistant_turns": [row.get(TURNS) for row in rows],
    }
    single = run_dir / "single_attempt"
    if (single / "metrics.jsonl").is_file():
        single_rows = [row for row in read_metrics(single) if _pass_at_1(row) is not None]
        curves["single_attempt_pass@1"] = _pass_at_1(single_rows[-1]) if single_rows else None
    return curves


def _spread(values: list[float]) -> dict:
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values), "seeds": len(values)}


def summarise(study_dir: Path) -> dict:
    """{task: {method: {"runs": {seed: curves}, "start"/"end"/... spreads}}} of the finished runs."""
    summary: dict = defaultdict(dict)
    for run_dir in sorted(study_dir.glob("*/rl_*_seed*")):
        match = RUN_NAME.match(run_dir.name)
        if match is None or not (run_dir / DONE_MARKER).exists():
            continue
        task, method, seed = run_dir.parent.name, match["method"], int(match["seed"])
        summary[task].setdefault(method, {"runs": {}})["runs"][seed] = run_curves(run_dir)
    for methods in summary.values():
        for entry in methods.values():
            runs = list(entry["runs"].values())
            entry["pass@1_start"] = _spread([run["pass@1"][0] for run in runs])
            entry["pass@1_end"] = _spread([run["pass@1"][-1] for run in runs])
            if all(run["tool_call_rate"][0] is not None for run in runs):
                entry["tool_call_rate_start"] = _spread([run["tool_call_rate"][0] for run in runs])
                entry["tool_call_rate_end"] = _spread([run["tool_call_rate"][-1] for run in runs])
            if all(run.get("single_attempt_pass@1") is not None for run in runs):
                entry["single_attempt_pass@1_end"] = _spread([run["single_attempt_pass@1"] for run in runs])
    return dict(summary)


def _cell(spread: dict | None) -> str:
    return "—" if spread is None else f"{spread['mean']:.3f} ({spread['min']:.3f}–{spread['max']:.3f})"


def table(summary: dict) -> str:
    lines = ["| task | method | seeds | pass@1 before | pass@1 after | tool-call rate before | tool-call rate after | "
             "single-attempt pass@1 after |", "|---|---|---|---|---|---|---|---|"]
    for task, methods in summary.items():
        for method, entry in methods.items():
            lines.append(
                f"| {task} | {method} | {len(entry['runs'])} | {_cell(entry['pass@1_start'])} | {_cell(entry['pass@1_end'])} | "
                f"{_cell(entry.get('tool_call_rate_start'))} | {_cell(entry.get('tool_call_rate_end'))} | "
                f"{_cell(entry.get('single_attempt_pass@1_end'))} |"
            )
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    """Per task: pass@1 over training (solid) and, for the tool task, the tool-call rate (dashed); one line
    per run, a color per method."""
    figure, axes = plt.subplots(1, len(summary), figsize=(6 * len(summary), 4), squeeze=False)
    colors = {"maxrl": "tab:red", "grpo": "tab:blue", "rloo": "tab:green"}
    for axis, (task, methods) in zip(axes[0], summary.items()):
        for method, entry in methods.items():
            for seed, run in entry["runs"].items():
                label = method if seed == min(entry["runs"]) else None
                axis.plot(run["steps"], run["pass@1"], color=colors.get(method), label=label and f"{method} pass@1")
                if run["tool_call_rate"][0] is not None:
                    axis.plot(run["steps"], run["tool_call_rate"], color=colors.get(method), linestyle="--",
                              label=label and f"{method} tool-call rate")
        axis.set_title(task)
        axis.set_xlabel("training step")
        axis.set_ylim(0, 1.02)
        axis.legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Summarise the multi-turn study (docs/multi_turn.md).")
    parser.add_argument("study_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("evidence/multi_turn"))
    args = parser.parse_args(argv)
    summary = summarise(args.study_dir)
    if not summary:
        raise SystemExit(f"{args.study_dir}: no finished runs (<task>/rl_<method>_seed<seed>/ with {DONE_MARKER})")
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "summary.json", json.dumps(summary, indent=1) + "\n")
    write_text_atomic(args.out / "table.md", table(summary))
    plot(summary, args.out / "curves.png")
    logger.info("%s", table(summary))
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
