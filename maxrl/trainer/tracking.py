"""Experiment tracking: one `Tracker` sends each step's metrics to every configured backend.

Backends (config `trainer.logger`): ``console`` (a progress bar with ETA and one readable line per step),
``file`` (every metric of every step as one JSON line in ``<run folder>/metrics.jsonl``), ``wandb``
(offline mode works: ``WANDB_MODE=offline``) and ``tensorboard``. On resume the file and TensorBoard
backends drop what was logged after the checkpoint (the file backend keeps the old file beside it), and
W&B continues the same run id.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from maxrl.config.choices import KNOWN_BACKENDS
from maxrl.utils.atomic import write_text_atomic

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"

# The handful of metrics worth a glance in the console line, with the short label shown there.
CONSOLE_HEADLINE = {
    "critic/score/mean": "score",
    "batch/groups_all_fail_frac": "all_fail",
    "batch/groups_all_pass_frac": "all_pass",
    "batch/groups_mixed_frac": "mixed",
    "batch/gen_rounds": "rounds",
    "batch/samples_per_kept_group": "samples/group",
    "actor/pg_loss": "pg_loss",
    "actor/grad_norm": "grad_norm",
    "actor/entropy": "entropy",
    "response_length/mean": "resp_len",
    "multi_turn/assistant_turns/mean": "turns",
    "multi_turn/tool_call_rate": "tool_rate",
    "multi_turn/truncated_ratio": "truncated",
    "perf/throughput": "tok/s/dev",
    "timing_s/step": "step_s",
}


def to_float(value: Any) -> float:
    """A metric value as a plain float (tensors, numpy scalars and bools included)."""
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean().item())
    if isinstance(value, np.ndarray):
        return float(value.astype(np.float64).mean())
    return float(value)


def _parse_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics file. A last line cut short by a crash is skipped with a warning; any other
    unreadable line is an error naming the file and line."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines):
                logger.warning("%s: skipping its last line, cut short by a crash: %.80r", path, line)
                continue
            raise ValueError(f"{path}, line {number}, is not a JSON row ({error}): {line[:80]!r}") from error
    return rows


def _set_aside(path: Path) -> Path:
    """Rename `path` to the first free ``<stem>.old-<k><suffix>`` beside it, so nothing logged is ever lost."""
    k = 1
    while (aside := path.with_name(f"{path.stem}.old-{k}{path.suffix}")).exists():
        k += 1
    os.replace(path, aside)
    return aside


class Backend(Protocol):
    def log(self, metrics: Mapping[str, float], step: int) -> None: ...

    def close(self) -> None: ...


class FileBackend:
    """Appends ``{"step": N, <metric>: value, ...}`` per step to a JSONL file; NaN/inf become null.

    Nothing logged is ever deleted: when a fresh start or a resume would drop rows already in the file
    (a rerun in the same folder, steps logged after the checkpoint, a line cut short by a crash), the old
    file is first renamed to ``metrics.old-<k>.jsonl``, with a warning naming it.
    """

    def __init__(self, path: Path, resume_step: int = 0):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            rows = _parse_rows(path)
            kept = [row for row in rows if resume_step and row["step"] <= resume_step]
            content = "".join(json.dumps(row) + "\n" for row in kept)
            if content != path.read_text(encoding="utf-8", errors="replace"):
                aside = _set_aside(path)
                write_text_atomic(path, content)
                logger.warning(
                    "%s: kept the earlier run's file as %s; %s", path, aside,
                    f"continuing from its {len(kept)} rows up to step {resume_step}" if resume_step else "fresh start",
                )
        self._file = path.open("a")

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        row = {"step": step, **{k: (v if math.isfinite(v) else None) for k, v in metrics.items()}}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class ConsoleBackend:
    """A tqdm progress bar over the training steps and, above it, one line of headline metrics per step:
    the `headline` metrics present (``{metric: label}``), then every other ``val/*`` metric."""

    def __init__(self, total_steps: int, start_step: int, headline: Mapping[str, str] = CONSOLE_HEADLINE):
        from tqdm import tqdm

        self._bar = tqdm(total=total_steps, initial=start_step, desc="training", unit="step", dynamic_ncols=True)
        self._step = start_step
        self.headline = dict(headline)

    @staticmethod
    def format_line(metrics: Mapping[str, float], step: int, headline: Mapping[str, str] = CONSOLE_HEADLINE) -> str:
        parts = [f"step {step}"]
        parts += [f"{label} {metrics[key]:.4g}" for key, label in headline.items() if key in metrics]
        parts += [
            f"{key} {value:.4g}" for key, value in sorted(metrics.items()) if key.startswith("val/") and key not in headline
        ]
        return " | ".join(parts)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self._bar.write(self.format_line(metrics, step, self.headline))
        if step > self._step:
            self._bar.update(step - self._step)
            self._step = step

    def close(self) -> None:
        self._bar.close()


class TensorboardBackend:
    """Scalars under ``<run folder>/tensorboard``; a resumed run purges events logged after the checkpoint."""

    def __init__(self, log_dir: Path, resume_step: int = 0):
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(str(log_dir), purge_step=resume_step + 1 if resume_step else None)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            self._writer.add_scalar(key, value, global_step=step)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class WandbBackend:
    """A W&B run in ``<run folder>/wandb``; `run_id` is checkpointed so a resume continues the same run."""

    def __init__(self, project: str, experiment: str, run_dir: Path, config: Mapping[str, Any], run_id: str | None):
        import wandb

        self._run = wandb.init(
            project=project,
            name=experiment,
            dir=str(run_dir),
            config=dict(config),
            id=run_id,
            resume="allow" if run_id else None,
        )
        self.run_id = self._run.id

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self._run.log(dict(metrics), step=step)

    def close(self) -> None:
        self._run.finish()


class Tracker:
    """Fans `log(metrics, step)` out to the backends named in `trainer.logger`; `headline` picks the metrics
    of the console line (a task other than LLM training, e.g. vision, names its own)."""

    def __init__(
        self,
        backends: Sequence[str],
        run_dir: str | Path,
        project: str,
        experiment: str,
        config: Mapping[str, Any],
        total_steps: int,
        start_step: int = 0,
        wandb_run_id: str | None = None,
        headline: Mapping[str, str] = CONSOLE_HEADLINE,
    ):
        run_dir = Path(run_dir)
        unknown = sorted(set(backends) - set(KNOWN_BACKENDS))
        if unknown:
            raise ValueError(f"trainer.logger: unknown backends {unknown}; choose from {list(KNOWN_BACKENDS)}")
        self._backends: dict[str, Backend] = {}
        for name in dict.fromkeys(backends):  # keep order, drop repeats
            if name == "console":
                self._backends[name] = ConsoleBackend(total_steps, start_step, headline)
            elif name == "file":
                self._backends[name] = FileBackend(run_dir / METRICS_FILE, start_step)
            elif name == "tensorboard":
                self._backends[name] = TensorboardBackend(run_dir / "tensorboard", start_step)
            elif name == "wandb":
                self._backends[name] = WandbBackend(project, experiment, run_dir, config, wandb_run_id)

    @property
    def wandb_run_id(self) -> str | None:
        backend = self._backends.get("wandb")
        return backend.run_id if backend is not None else None

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        values = {key: to_float(value) for key, value in metrics.items()}
        for backend in self._backends.values():
            backend.log(values, step)

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends = {}


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of a run's ``metrics.jsonl`` (one dict per logged step)."""
    return _parse_rows(Path(run_dir) / METRICS_FILE)
