"""Sharded checkpoints of the FSDP2 actor, and export of its full weights as a Hugging Face folder.

A checkpoint folder holds the model and optimizer shards written by ``torch.distributed.checkpoint``
(every rank writes its own shards; all ranks must see the same filesystem) and one small
``extra_state_rank<r>.json`` per rank (learning-rate schedule, loss scaler, RNG; JSON, so loading it runs no
code). Both kinds of folder are written under a temporary name and renamed into place by rank 0 once
complete, so a crash never leaves a half-written folder under the final name. Loading goes through
`maxrl.workers.safe_dcp`: no pickle in the folder can run code, and a truncated shard is reported by name.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)
from transformers import AutoModelForCausalLM, PreTrainedModel

from maxrl.utils.atomic import replace_dir
from maxrl.utils.safe_state import CheckpointError, load_json_state, save_json_state
from maxrl.workers.lora import LoraSettings, write_lora_export
from maxrl.workers.safe_dcp import SafeFileSystemReader, SafeLoadPlanner, check_shard_files, read_metadata

__all__ = ["export_hf_folder", "load_sharded", "save_sharded"]


def _extra_state_file(path: Path) -> Path:
    return path / f"extra_state_rank{dist.get_rank()}.json"


def _write_atomically(path: str | os.PathLike, write: Callable[[Path], None], all_ranks_write: bool) -> None:
    """Run ``write(tmp)`` (on every rank, or on rank 0 only), then move ``tmp`` to `path` from rank 0."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp")
    rank = dist.get_rank()
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    dist.barrier()
    if all_ranks_write or rank == 0:
        write(tmp)
    dist.barrier()
    if rank == 0:
        replace_dir(tmp, path)
    dist.barrier()


def _trainable_only(model: torch.nn.Module, model_state: dict) -> dict:
    """With LoRA a checkpoint holds the adapters only: the frozen base is the model folder every run starts
    from. (``StateDictOptions.ignore_frozen_params`` would keep the tied alias of a frozen embedding.)"""
    trainable = {name for name, p in model.named_parameters(remove_duplicate=False) if p.requires_grad}
    return {name: value for name, value in model_state.items() if name in trainable}


def _state_template(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, trainable_only: bool = False
) -> dict:
    """The sharded state dicts to save into / load into (model, plus optimizer when given)."""
    model_state, optimizer_state = get_state_dict(model, optimizer if optimizer is not None else [])
    if trainable_only:
        model_state = _trainable_only(model, model_state)
    return {"model": model_state} if optimizer is None else {"model": model_state, "optimizer": optimizer_state}


def save_sharded(
    path: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    extra_state: dict,
    trainable_only: bool = False,
) -> None:
    """Save model shards (only the trainable ones with `trainable_only`), optimizer shards and this rank's
    `extra_state`.

    An optimizer that has not stepped yet is not saved: its state does not exist, and materialising it
    (which ``get_state_dict`` does by taking a zero-learning-rate step) would advance AdamW's step count
    and shrink the first real update.
    """
    optimizer = optimizer if optimizer is not None and optimizer.state else None

    def write(tmp: Path) -> None:
        dcp.save(_state_template(model, optimizer, trainable_only), checkpoint_id=tmp)
        save_json_state(_extra_state_file(tmp), extra_state)

    _write_atomically(path, write, all_ranks_write=True)


def load_sharded(
    path: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    trainable_only: bool = False,
) -> dict:
    """Load what `save_sharded` wrote into `model` (and `optimizer`); returns this rank's extra state.

    A checkpoint taken before the optimizer's first step resets `optimizer` to a fresh state. Every
    failure is a `CheckpointError` naming the file.
    """
    path = Path(path)
    metadata = read_metadata(path)
    check_shard_files(path, metadata)
    extra_state = load_json_state(_extra_state_file(path))
    saved_keys = metadata.state_dict_metadata
    if optimizer is not None and not any(key.startswith("optimizer.") for key in saved_keys):
        optimizer.state.clear()
        optimizer = None
    state = _state_template(model, optimizer, trainable_only)
    try:
        dcp.load(state, storage_reader=SafeFileSystemReader(path), planner=SafeLoadPlanner())
    except Exception as error:  # DCP wraps each rank's failure in its own exception type
        raise CheckpointError(f"{path}: the model/optimizer shards cannot be loaded: {error}") from error
    set_state_dict(
        model,
        optimizer if optimizer is not None else [],
        model_state_dict=state["model"],
        optim_state_dict=state.get("optimizer", {}),
        options=StateDictOptions(strict=not trainable_only),  # the frozen base stays as loaded
    )
    return extra_state


def export_hf_folder(
    path: str | os.PathLike, model: PreTrainedModel, tokenizer, dtype: torch.dtype, lora: LoraSettings | None = None
) -> None:
    """Gather the full weights onto rank 0 and write ``model + config + tokenizer`` there in `dtype`
    (with `lora`: the merged model, and the adapter in a subfolder, `maxrl.workers.lora.write_lora_export`).

    Collective: every rank must call it. The folder loads with ``AutoModelForCausalLM.from_pretrained``.
    """
    full_state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def write(tmp: Path) -> None:
        if lora is not None:
            write_lora_export(tmp, full_state, model, lora, tokenizer, dtype)
            return
        with torch.device("meta"):
            plain = AutoModelForCausalLM.from_config(model.config)
        plain.load_state_dict(full_state, assign=True)
        plain.tie_weights()
        plain.generation_config = model.generation_config
        plain.to(dtype).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    _write_atomically(path, write, all_ranks_write=False)
