"""The comparison's files, written once per benchmark in a scratch folder: the model folder both
frameworks load, maxrl's verl-format parquet of the workload's prompts, and TRL's workload file (the
shape and the same prompts, `benchmarks.trl.spec`)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from benchmarks.trl import workload
from benchmarks.trl.spec import Workload, write_workload_file
from benchmarks.trl.workloads import TOY

__all__ = ["ComparisonInputs", "build_inputs", "prompt_batch"]


@dataclass(frozen=True)
class ComparisonInputs:
    root: Path
    model_dir: Path
    train_file: Path
    workload_file: Path  # TRL's: `benchmarks.trl.spec.write_workload_file`
    workload: Workload = TOY

    @property
    def reward_file(self) -> Path:
        """maxrl's scorer (``custom_reward_function.path``, name ``compute_score``): the workload's module."""
        return Path(importlib.import_module(self.workload.module).__file__).resolve()


def build_inputs(root: Path, work: Workload = TOY) -> ComparisonInputs:
    from maxrl.data.prep import write_parquet

    root = Path(root)
    module = importlib.import_module(work.module)
    model_dir = module.model_dir(root)
    train_file = write_parquet(module.verl_rows(), root / "data" / "train.parquet")
    workload_file = write_workload_file(root / "workload.json", work, module.trl_prompts())
    return ComparisonInputs(root, model_dir, train_file, workload_file, work)


def prompt_batch(tokenizer):
    """One step of the toy workload's prompts (the first `workload.PROMPTS_PER_STEP`) as a worker receives
    them: token ids, an all-ones attention mask (every prompt is exactly `workload.PROMPT_TOKENS` long) and
    positions."""
    import torch

    from maxrl.data.batch import Batch

    texts = workload.prompt_texts()[: workload.PROMPTS_PER_STEP]
    ids = torch.tensor(tokenizer(texts, add_special_tokens=False)["input_ids"])
    return Batch({"input_ids": ids, "attention_mask": torch.ones_like(ids),
                  "position_ids": torch.arange(ids.shape[1]).expand_as(ids).clone()})
