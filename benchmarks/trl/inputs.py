"""The comparison's files, written once per benchmark in a scratch folder: the model folder both
frameworks load, and maxrl's verl-format parquet of the workload's prompts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.trl import workload

__all__ = ["ComparisonInputs", "build_inputs", "prompt_batch", "prompt_rows"]


@dataclass(frozen=True)
class ComparisonInputs:
    root: Path
    model_dir: Path
    train_file: Path
    reward_file: Path = Path(workload.__file__).resolve()  # maxrl's scorer: `workload.compute_score`


def prompt_rows() -> list[dict]:
    """The workload's prompts as verl rows; with ``data.apply_chat_template=False`` a prompt's token ids
    are exactly its words."""
    from maxrl.data.prep import verl_row

    return [
        verl_row(workload.DATA_SOURCE, [{"role": "user", "content": text}], ground_truth="",
                 extra_info={"index": index}, ability="benchmark")
        for index, text in enumerate(workload.prompt_texts())
    ]


def build_inputs(root: Path) -> ComparisonInputs:
    from maxrl.data.prep import write_parquet

    root = Path(root)
    model_dir = workload.build_model_dir(root / "model")
    train_file = write_parquet(prompt_rows(), root / "data" / "train.parquet")
    return ComparisonInputs(root, model_dir, train_file)


def prompt_batch(tokenizer):
    """One step's prompts (the first `workload.PROMPTS_PER_STEP`) as a worker receives them: token ids, an
    all-ones attention mask (every prompt is exactly `workload.PROMPT_TOKENS` long) and positions."""
    import torch

    from maxrl.data.batch import Batch

    texts = workload.prompt_texts()[: workload.PROMPTS_PER_STEP]
    ids = torch.tensor(tokenizer(texts, add_special_tokens=False)["input_ids"])
    return Batch({"input_ids": ids, "attention_mask": torch.ones_like(ids),
                  "position_ids": torch.arange(ids.shape[1]).expand_as(ids).clone()})
