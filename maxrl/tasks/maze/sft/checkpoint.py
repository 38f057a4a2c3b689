"""Checkpoints: a Hugging Face folder (model, tokenizer, generation config) plus the trainer state.

``<output_dir>/checkpoint-<step>/`` loads with ``AutoModelForCausalLM.from_pretrained`` and
``AutoTokenizer.from_pretrained``; ``trainer_state.pt`` inside it holds what resuming needs (optimiser,
scheduler, step). A checkpoint is written into a hidden temporary folder and renamed into place, so a crash
never leaves a half-written ``checkpoint-<step>`` behind.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel

from maxrl.tasks.maze.tokenizer import build_tokenizer, save_tokenizer
from maxrl.utils.atomic import replace_dir

TRAINER_STATE = "trainer_state.pt"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_dir(output_dir: str | Path, step: int) -> Path:
    return Path(output_dir) / f"checkpoint-{step}"


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints in ``output_dir``, oldest step first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in output_dir.iterdir() if (m := _NAME.match(p.name)) and p.is_dir()]
    return [path for _, path in sorted(found)]


def save_checkpoint(
    output_dir: str | Path, step: int, model: PreTrainedModel, trainer_state: dict[str, Any], keep_last: int = 0
) -> Path:
    """Write ``checkpoint-<step>`` atomically; then delete all but the ``keep_last`` newest (0 keeps all)."""
    final = checkpoint_dir(output_dir, step)
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    save_tokenizer(build_tokenizer(), tmp)
    torch.save(trainer_state, tmp / TRAINER_STATE)
    replace_dir(tmp, final)
    if keep_last > 0:
        for old in list_checkpoints(output_dir)[:-keep_last]:
            shutil.rmtree(old)
    return final


def load_trainer_state(path: str | Path) -> dict[str, Any]:
    """The trainer state saved with a checkpoint (optimiser and scheduler state dicts, step, ...)."""
    state_path = Path(path) / TRAINER_STATE
    if not state_path.is_file():
        raise FileNotFoundError(f"{path} is not a resumable checkpoint: {TRAINER_STATE} is missing")
    return torch.load(state_path, map_location="cpu", weights_only=True)
