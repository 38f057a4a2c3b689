"""``RLDataset``: RL prompts from verl-format parquet files, checked in full before training starts.

Construction reads every file, checks every row (``maxrl.data.parquet_rows``) and, when needed, measures
every prompt in tokens, so a bad row or an overlong prompt fails the run at start-up with the file, row and
column named. Items are tokenized again on access rather than kept: a million maze prompts would otherwise
hold gigabytes of Python lists.

Config keys read from the ``data`` section: ``prompt_key``, ``reward_fn_key``, ``max_prompt_length``,
``filter_overlong_prompts``, ``truncation``, ``apply_chat_template``, ``tool_config_path`` (the tool schemas
the chat template shows the model in a multi-turn run, so prompt lengths include them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from maxrl.data.parquet_rows import DataError, RowFile, locate
from maxrl.data.prompts import PromptEncoder, pad_token_id
from maxrl.data.tool_schemas import tool_schemas

logger = logging.getLogger(__name__)

LENGTH_CHUNK_ROWS = 2048


def file_list(files) -> list[str]:
    """``data.train_files`` / ``data.val_files``: one path or a list of paths."""
    if isinstance(files, (str, bytes)) or hasattr(files, "__fspath__"):
        return [str(files)]
    if isinstance(files, Sequence) or hasattr(files, "__iter__"):
        paths = [str(path) for path in files]
        if paths:
            return paths
    raise ValueError(f"data files must be a path or a non-empty list of paths, got {files!r}")


class RLDataset(torch.utils.data.Dataset):
    """Prompts with what scoring needs (``data_source``, ``ground_truth``, ``extra_info``).

    An item is a dict: ``input_ids`` (1-D LongTensor, unpadded), ``raw_prompt`` (the chat messages),
    ``data_source``, ``ground_truth``, ``extra_info`` and ``index`` (``extra_info["index"]`` when the
    file has it, else the row number in its file). ``data_config`` is a whole ``data`` section (its defaults
    live in the YAML; `maxrl.config.yaml_tree.default_section` builds one outside a run).
    """

    def __init__(self, files, tokenizer, data_config):
        self.files = file_list(files)
        self.prompt_key = data_config["prompt_key"]
        self.source_key = data_config["reward_fn_key"]
        self.max_prompt_length = data_config["max_prompt_length"]
        self.encoder = PromptEncoder(
            tokenizer,
            apply_chat_template=bool(data_config["apply_chat_template"]),
            max_prompt_length=self.max_prompt_length,
            truncation=data_config["truncation"],
            tools=tool_schemas(tool_config) if (tool_config := data_config.get("tool_config_path")) else None,
        )
        self.pad_token_id = pad_token_id(tokenizer)
        filter_overlong = bool(data_config["filter_overlong_prompts"])
        self._row_files = [RowFile(path, self.prompt_key, self.source_key) for path in self.files]
        kept = [self._kept_rows(row_file, filter_overlong) for row_file in self._row_files]
        self._file_of_item = np.concatenate(
            [np.full(len(rows), i, dtype=np.int32) for i, rows in enumerate(kept)]
        )
        self._row_of_item = np.concatenate(kept)
        if len(self) == 0:
            raise DataError(
                f"{self.files}: every prompt is longer than data.max_prompt_length={self.max_prompt_length}; "
                "raise it, or set data.truncation=left|right|middle instead of filtering"
            )

    def _kept_rows(self, row_file: RowFile, filter_overlong: bool) -> np.ndarray:
        """Check every row of one file; return the row numbers that stay (overlong ones filtered or fatal)."""
        must_measure = filter_overlong or self.encoder.truncation == "error"
        kept, pending = [], []
        for row_number, row in row_file.rows():
            if must_measure:
                pending.append((row_number, self.encoder.text(row.messages)))
                if len(pending) == LENGTH_CHUNK_ROWS:
                    kept += self._fitting(row_file, pending, filter_overlong)
                    pending = []
            else:
                kept.append(row_number)
        kept += self._fitting(row_file, pending, filter_overlong) if pending else []
        dropped = len(row_file) - len(kept)
        if dropped:
            logger.info(
                "%s: dropped %d of %d prompts longer than data.max_prompt_length=%d",
                row_file.path,
                dropped,
                len(row_file),
                self.max_prompt_length,
            )
        return np.asarray(kept, dtype=np.int64)

    def _fitting(self, row_file: RowFile, rows: list[tuple[int, str]], filter_overlong: bool) -> list[int]:
        counts = self.encoder.token_counts([text for _, text in rows])
        fitting = []
        for (row_number, _), count in zip(rows, counts):
            if count <= self.max_prompt_length:
                fitting.append(row_number)
            elif not filter_overlong:
                raise DataError(
                    f"{locate(row_file.path, row_number, self.prompt_key)}: the prompt has {count} tokens, more "
                    f"than data.max_prompt_length={self.max_prompt_length} (with data.truncation=error). Set "
                    "data.filter_overlong_prompts=True to drop such prompts, data.truncation=left, right or middle to "
                    "cut them, or raise data.max_prompt_length"
                )
        return fitting

    def __len__(self) -> int:
        return len(self._row_of_item)

    def __getitem__(self, item: int) -> dict:
        row_number = int(self._row_of_item[item])
        row = self._row_files[self._file_of_item[item]].row(row_number)
        index = row.extra_info.get("index")
        return {
            "input_ids": torch.tensor(self.encoder.encode(row.messages), dtype=torch.long),
            "raw_prompt": row.messages,
            "data_source": row.data_source,
            "ground_truth": row.ground_truth,
            "extra_info": row.extra_info,
            "index": index if isinstance(index, int) else row_number,
        }

    def data_sources(self) -> list[str]:
        """The distinct ``data_source`` values, e.g. to check them against the reward routing at start-up."""
        sources = (
            row_file.table.column(self.source_key).unique().to_pylist() for row_file in self._row_files
        )
        return sorted({source for file_sources in sources for source in file_sources})
