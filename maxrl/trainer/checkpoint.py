"""Checkpoint layout, atomic bookkeeping, rotation and the choice of what to resume from.

```
<trainer.default_local_dir>/
  latest_checkpointed_iteration.txt   # the newest complete step, written last and atomically
  global_step_<N>/
    actor/                            # the worker group's sharded model, optimizer, scheduler
      huggingface/                    # full weights + tokenizer, loadable by AutoModelForCausalLM
    data.pt                           # the training data loader's state
    trainer_state.pt                  # step, epoch, driver RNG states, KL coefficient, tracker run id
```
A crash during a save leaves the tracker file pointing at the previous complete step, so `resume_mode=auto`
never picks up a half-written folder.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from maxrl.trainer.tracking import write_text_atomic

logger = logging.getLogger(__name__)

TRACKER_FILE = "latest_checkpointed_iteration.txt"
STEP_DIR_PREFIX = "global_step_"
ACTOR_DIR = "actor"
HF_DIR = "huggingface"
DATA_STATE_FILE = "data.pt"
TRAINER_STATE_FILE = "trainer_state.pt"
RESUME_MODES = ("auto", "disable", "resume_path")


def save_torch_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def step_of(step_dir: str | Path) -> int:
    """The step number encoded in a ``global_step_<N>`` folder name."""
    match = re.fullmatch(rf"{STEP_DIR_PREFIX}(\d+)", Path(step_dir).name)
    if match is None:
        raise ValueError(f"{step_dir} is not a checkpoint folder (expected a name like {STEP_DIR_PREFIX}100)")
    return int(match.group(1))


class CheckpointManager:
    """Writes and finds checkpoints under one run folder; keeps at most `max_to_keep` of them."""

    def __init__(self, root: str | Path, max_to_keep: int | None = None):
        self.root = Path(root)
        self.max_to_keep = max_to_keep if max_to_keep and max_to_keep > 0 else None

    def step_dir(self, step: int) -> Path:
        return self.root / f"{STEP_DIR_PREFIX}{step}"

    def save(
        self,
        step: int,
        save_actor: Callable[[Path], None],
        data_state: dict[str, Any],
        trainer_state: dict[str, Any],
    ) -> Path:
        """Write step `step`; `save_actor(actor_dir)` creates ``actor/`` with the model (shards and HF export)."""
        step_dir = self.step_dir(step)
        if step_dir.exists():  # a half-written folder from a crash, or a re-run of the same step
            shutil.rmtree(step_dir)
        step_dir.mkdir(parents=True)
        save_actor(step_dir / ACTOR_DIR)
        save_torch_atomic(data_state, step_dir / DATA_STATE_FILE)
        save_torch_atomic(trainer_state, step_dir / TRAINER_STATE_FILE)
        write_text_atomic(self.root / TRACKER_FILE, f"{step}\n")
        self._rotate()
        logger.info("saved checkpoint %s", step_dir)
        return step_dir

    def _rotate(self) -> None:
        if self.max_to_keep is None:
            return
        step_dirs = sorted(self.root.glob(f"{STEP_DIR_PREFIX}*"), key=step_of)
        for old in step_dirs[: -self.max_to_keep]:
            shutil.rmtree(old)
            logger.info("removed old checkpoint %s (trainer.max_actor_ckpt_to_keep=%d)", old, self.max_to_keep)

    def latest(self) -> Path | None:
        """The folder named by the tracker file, or None when this run folder has no complete checkpoint."""
        tracker = self.root / TRACKER_FILE
        if not tracker.exists():
            return None
        step_dir = self.step_dir(int(tracker.read_text().strip()))
        if not step_dir.is_dir():
            raise FileNotFoundError(f"{tracker} names step {step_dir.name}, but {step_dir} does not exist")
        return step_dir

    def resume_dir(self, resume_mode: str, resume_from_path: str | None) -> Path | None:
        """The checkpoint to resume from under `trainer.resume_mode`, or None for a fresh start."""
        if resume_mode == "disable":
            return None
        if resume_mode == "auto":
            return self.latest()
        if resume_mode == "resume_path":
            if not resume_from_path:
                raise ValueError("trainer.resume_mode=resume_path needs trainer.resume_from_path=.../global_step_<N>")
            step_dir = Path(resume_from_path)
            step_of(step_dir)
            if not (step_dir / TRAINER_STATE_FILE).exists():
                raise FileNotFoundError(
                    f"trainer.resume_from_path={step_dir} is not a complete checkpoint (no {TRAINER_STATE_FILE})"
                )
            return step_dir
        raise ValueError(f"trainer.resume_mode={resume_mode!r}; choose from {list(RESUME_MODES)}")

    @staticmethod
    def load(step_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(data_state, trainer_state)`` of a checkpoint folder."""
        data_state = torch.load(step_dir / DATA_STATE_FILE, weights_only=False)
        trainer_state = torch.load(step_dir / TRAINER_STATE_FILE, weights_only=False)
        return data_state, trainer_state
