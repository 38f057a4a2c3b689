"""Checkpoint layout, atomic saves, rotation, the choice of what to resume from, and load errors.

```
<trainer.default_local_dir>/
  latest_checkpointed_iteration.txt   # the newest complete step, rewritten atomically after each save
  global_step_<N>/                    # only ever appears complete: written as global_step_<N>.tmp-<pid>
    actor/                            # the worker group's sharded model, optimizer, extra_state_rank<r>.json
      huggingface/                    # full weights + tokenizer, loadable by AutoModelForCausalLM
    critic/                           # with a critic: its sharded value model, optimizer, schedule
    data.json                         # the training data loader's state
    trainer_state.json                # the checkpoint format, step, epoch, driver RNG states, KL coefficient,
                                      # tracker run id, and with a separate rollout pool the samples in flight
```
A save writes a temporary folder (the workers write their shards into it), renames it to
``global_step_<N>`` (an older folder of that step is renamed aside first and deleted afterwards) and only
then rewrites the tracker file. A crash at any point leaves the tracker on a complete folder; the leftovers
(``*.tmp-<pid>``, ``.global_step_<N>.old-<pid>``) are never resumed from and are removed by the next save.
State files are JSON (`maxrl.utils.safe_state`): loading a checkpoint from someone else runs no code.

``trainer_state.json`` names the checkpoint format (`CHECKPOINT_FORMAT`) of the whole folder. A format newer
than this maxrl's is refused before anything is loaded; older ones are read. Format 1 is the one before the
format was recorded (a checkpoint without the entry); 2 adds the entry and nothing else.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maxrl.utils.atomic import fsync, replace_dir, stale_temporaries, write_text_atomic
from maxrl.utils.safe_state import CheckpointError, load_json_state, save_json_state

logger = logging.getLogger(__name__)

TRACKER_FILE = "latest_checkpointed_iteration.txt"
STEP_DIR_PREFIX = "global_step_"
ACTOR_DIR = "actor"
CRITIC_DIR = "critic"
HF_DIR = "huggingface"
DATA_STATE_FILE = "data.json"
TRAINER_STATE_FILE = "trainer_state.json"
PICKLED_STATE_FILES = ("data.pt", "trainer_state.pt")  # the format before JSON state: never loaded
RESUME_MODES = ("auto", "disable", "resume_path")
CHECKPOINT_FORMAT = 2
FORMAT_KEY = "format_version"
_STEP_NAME = re.compile(rf"{STEP_DIR_PREFIX}(\d+)")
_TEMP_MARK = ".tmp-"


def step_of(step_dir: str | Path) -> int:
    """The step number encoded in a ``global_step_<N>`` folder name."""
    match = _STEP_NAME.fullmatch(Path(step_dir).name)
    if match is None:
        raise ValueError(f"{step_dir} is not a checkpoint folder (expected a name like {STEP_DIR_PREFIX}100)")
    return int(match.group(1))


def step_dirs(root: Path) -> list[Path]:
    """The ``global_step_<N>`` folders under `root`, oldest first (temporary and set-aside folders excluded)."""
    found = [path for path in root.glob(f"{STEP_DIR_PREFIX}*") if _STEP_NAME.fullmatch(path.name) and path.is_dir()]
    return sorted(found, key=step_of)


def missing_parts(step_dir: Path) -> str | None:
    """What keeps `step_dir` from being a complete checkpoint, or None when nothing does."""
    missing = [name for name in (TRAINER_STATE_FILE, DATA_STATE_FILE, ACTOR_DIR) if not (step_dir / name).exists()]
    if not missing:
        return None
    pickled = [name for name in PICKLED_STATE_FILES if (step_dir / name).exists()]
    if pickled:
        return (f"it holds {' and '.join(pickled)}, the pickled state of an older maxrl, which is not loaded "
                "because unpickling a file can run arbitrary code")
    return f"{' and '.join(missing)} missing"


def fallback_hint(root: Path, below: int | None = None) -> str:
    """A sentence naming the newest complete checkpoint under `root` (older than step `below`) to resume from."""
    candidates = [d for d in step_dirs(root) if missing_parts(d) is None and (below is None or step_of(d) < below)]
    if not candidates:
        return f" No complete earlier checkpoint is in {root}; start afresh with trainer.resume_mode=disable."
    previous = candidates[-1]
    return (f" Resume from {previous.name} with trainer.resume_mode=resume_path "
            f"trainer.resume_from_path={previous.resolve()}")


def check_format(path: Path, version: Any) -> None:
    """Refuse a checkpoint format this maxrl cannot read (a newer one, or no format at all)."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path} names checkpoint format {version!r}, which no maxrl writes")
    if version > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is in checkpoint format {version}, written by a newer maxrl; this one reads formats up to "
            f"{CHECKPOINT_FORMAT}: resume it with the maxrl that wrote it, or a newer one"
        )


class CheckpointManager:
    """Writes and finds checkpoints under one run folder; keeps at most `max_to_keep` of them."""

    def __init__(self, root: str | Path, max_to_keep: int | None = None, max_critic_to_keep: int | None = None):
        self.root = Path(root)
        self.max_to_keep = max_to_keep if max_to_keep and max_to_keep > 0 else None
        self.max_critic_to_keep = max_critic_to_keep if max_critic_to_keep and max_critic_to_keep > 0 else None

    def step_dir(self, step: int) -> Path:
        return self.root / f"{STEP_DIR_PREFIX}{step}"

    def save(
        self,
        step: int,
        save_actor: Callable[[Path], None],
        data_state: dict[str, Any],
        trainer_state: dict[str, Any],
        save_critic: Callable[[Path], None] | None = None,
    ) -> Path:
        """Write step `step`; `save_actor(actor_dir)` creates ``actor/`` (shards and HF export) and
        `save_critic(critic_dir)` ``critic/`` inside the temporary folder, which becomes
        ``global_step_<step>`` only once everything is written."""
        self._restore_set_aside()
        self._remove_leftovers()
        final = self.step_dir(step)
        tmp = final.with_name(f"{final.name}{_TEMP_MARK}{os.getpid()}")
        tmp.mkdir(parents=True)
        save_actor(tmp / ACTOR_DIR)
        if save_critic is not None:
            save_critic(tmp / CRITIC_DIR)
        save_json_state(tmp / DATA_STATE_FILE, data_state)
        save_json_state(tmp / TRAINER_STATE_FILE, {FORMAT_KEY: CHECKPOINT_FORMAT, **trainer_state})
        replace_dir(tmp, final)
        write_text_atomic(self.root / TRACKER_FILE, f"{step}\n")
        self._rotate(final)
        self._prune_critics(final)
        logger.info("saved checkpoint %s", final)
        return final

    def _remove_leftovers(self) -> None:
        """Delete what interrupted saves and rotations left: temporary and set-aside folders."""
        leftovers = [*self.root.glob(f"{STEP_DIR_PREFIX}*{_TEMP_MARK}*"), *self.root.glob(f".{STEP_DIR_PREFIX}*.old-*")]
        for leftover in leftovers:
            logger.warning("removing %s, left by an interrupted checkpoint save", leftover)
            shutil.rmtree(leftover)
        for leftover in stale_temporaries(self.root / TRACKER_FILE):
            leftover.unlink(missing_ok=True)

    def _restore_set_aside(self) -> None:
        """A save killed between moving a step folder aside and renaming its replacement in leaves the tracker
        naming a missing folder whose complete old copy is set aside: put that copy back."""
        try:
            step = self._tracked_step()
        except CheckpointError:  # a garbage tracker names nothing to restore; the next save rewrites it
            return
        if step is None or self.step_dir(step).exists():
            return
        for aside in self.root.glob(f".{self.step_dir(step).name}.old-*"):
            if missing_parts(aside) is None:
                logger.warning("restoring %s, set aside by an interrupted save, as %s", aside, self.step_dir(step))
                os.replace(aside, self.step_dir(step))
                fsync(self.root)
                return

    def _rotate(self, current: Path) -> None:
        """Keep `current` and the newest ``max_to_keep - 1`` other step folders."""
        if self.max_to_keep is None:
            return
        others = [step_dir for step_dir in step_dirs(self.root) if step_dir != current]
        for old in others[: max(0, len(others) - (self.max_to_keep - 1))]:
            doomed = old.with_name(f".{old.name}.old-{os.getpid()}")
            os.replace(old, doomed)  # a half-deleted folder never keeps a checkpoint's name
            shutil.rmtree(doomed)
            logger.info("removed old checkpoint %s (trainer.max_actor_ckpt_to_keep=%d)", old, self.max_to_keep)

    def _prune_critics(self, current: Path) -> None:
        """Keep ``critic/`` in `current` and the newest ``max_critic_to_keep - 1`` other step folders."""
        if self.max_critic_to_keep is None:
            return
        others = [d for d in step_dirs(self.root) if d != current and (d / CRITIC_DIR).is_dir()]
        for old in others[: max(0, len(others) - (self.max_critic_to_keep - 1))]:
            doomed = old / f".{CRITIC_DIR}.old-{os.getpid()}"
            os.replace(old / CRITIC_DIR, doomed)
            shutil.rmtree(doomed)
            logger.info("removed %s (trainer.max_critic_ckpt_to_keep=%d)", old / CRITIC_DIR, self.max_critic_to_keep)

    def _tracked_step(self) -> int | None:
        """The step in the tracker file, None without one; a tracker that holds no step number is an error."""
        tracker = self.root / TRACKER_FILE
        try:
            text = tracker.read_text(encoding="utf-8", errors="replace").strip()
        except FileNotFoundError:
            return None
        if not text.isdigit():
            raise CheckpointError(
                f"{tracker} should hold the step of the newest checkpoint but holds {text[:40]!r}."
                + fallback_hint(self.root)
            )
        return int(text)

    def latest(self) -> Path | None:
        """The folder named by the tracker file, or None when this run folder has no checkpoint."""
        self._restore_set_aside()
        step = self._tracked_step()
        if step is None:
            return None
        step_dir = self.step_dir(step)
        if not step_dir.is_dir():
            raise CheckpointError(
                f"{self.root / TRACKER_FILE} names step {step}, but {step_dir} does not exist."
                + fallback_hint(self.root, below=step)
            )
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
            step = step_of(step_dir)
            if not step_dir.is_dir():
                raise CheckpointError(f"trainer.resume_from_path={step_dir} does not exist")
            missing = missing_parts(step_dir)
            if missing is not None:
                raise CheckpointError(
                    f"trainer.resume_from_path={step_dir} is not a complete checkpoint: {missing}."
                    + fallback_hint(step_dir.parent, below=step)
                )
            return step_dir
        raise ValueError(f"trainer.resume_mode={resume_mode!r}; choose from {list(RESUME_MODES)}")

    @staticmethod
    def load(
        step_dir: Path, load_actor: Callable[[Path], None], load_critic: Callable[[Path], None] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(data_state, trainer_state)`` of `step_dir`, once `load_actor(actor_dir)` (and
        `load_critic(critic_dir)`) have restored the models.

        Any failure is a `CheckpointError` naming the file, what is wrong with it and the checkpoint to
        fall back to.
        """
        try:
            missing = missing_parts(step_dir)
            if missing is not None:
                raise CheckpointError(f"{step_dir} is not a complete checkpoint: {missing}")
            data_state = load_json_state(step_dir / DATA_STATE_FILE)
            trainer_state = load_json_state(step_dir / TRAINER_STATE_FILE)
            check_format(step_dir / TRAINER_STATE_FILE, trainer_state.pop(FORMAT_KEY, 1))
            load_actor(step_dir / ACTOR_DIR)
            if load_critic is not None:
                if not (step_dir / CRITIC_DIR).is_dir():
                    raise CheckpointError(f"{step_dir} holds no {CRITIC_DIR}/ (a run without a critic saved it, or "
                                          "trainer.max_critic_ckpt_to_keep removed it)")
                load_critic(step_dir / CRITIC_DIR)
        except Exception as error:
            raise CheckpointError(
                f"cannot resume from {step_dir}: {error}." + fallback_hint(step_dir.parent, below=step_of(step_dir))
            ) from error
        return data_state, trainer_state
