"""Tracking for vision runs: the trainer's `Tracker` (JSONL file, W&B, TensorBoard) with a vision console line.

The trainer's console backend headlines LLM metrics (score, response length); a classification run wants
loss, sampled reward, accuracy and pass@k instead, so the console backend is swapped for one whose line
shows those. Everything else (file format, resume truncation, W&B run continuation) is the trainer's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from maxrl.trainer.tracking import ConsoleBackend, Tracker, to_float

VISION_HEADLINE = {
    "train/loss": "loss",
    "train/acc": "acc",
    "rollout/reward_mean": "reward",
    "rollout/frac_images_with_success": "any_success",
    "train/lr": "lr",
    "timing_s/step": "step_s",
    "val/acc": "val_acc",
    "val/loss": "val_ce",
    "val/pass@1": "val_pass@1",
}


class VisionConsole(ConsoleBackend):
    """The trainer's progress bar, with a line of classification metrics (and the largest pass@k)."""

    @staticmethod
    def format_line(metrics: Mapping[str, float], step: int) -> str:
        parts = [f"step {step}"]
        parts += [f"{label} {metrics[key]:.4g}" for key, label in VISION_HEADLINE.items() if key in metrics]
        pass_ks = sorted(int(key.split("@")[1]) for key in metrics if key.startswith("val/pass@"))
        if len(pass_ks) > 1:
            parts.append(f"val_pass@{pass_ks[-1]} {metrics[f'val/pass@{pass_ks[-1]}']:.4g}")
        return " | ".join(parts)


class VisionTracker:
    """`Tracker` for every backend but the console, plus `VisionConsole` when ``console`` is requested."""

    def __init__(self, backends: Sequence[str], run_dir: str | Path, project: str, experiment: str,
                 config: Mapping[str, Any], total_steps: int, start_step: int = 0,
                 wandb_run_id: str | None = None):
        self._tracker = Tracker([name for name in backends if name != "console"], run_dir, project, experiment,
                                config, total_steps, start_step, wandb_run_id)
        self._console = VisionConsole(total_steps, start_step) if "console" in backends else None

    @property
    def wandb_run_id(self) -> str | None:
        return self._tracker.wandb_run_id

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        values = {key: to_float(value) for key, value in metrics.items()}
        self._tracker.log(values, step)
        if self._console is not None:
            self._console.log(values, step)

    def close(self) -> None:
        self._tracker.close()
        if self._console is not None:
            self._console.close()
