"""Maze data files: the paper's JSON and verl-format parquet, written atomically and streamed.

JSON (what the paper's ``maze/sft.py`` reads): ``train.json`` and ``test.json`` are lists of
``{"sequence", "optimal_path_length"}`` records; ``training_metadata.json`` describes how they were made.

Parquet (what the RL trainer reads), one row per maze::

    data_source  "maze_<size>"
    prompt       [{"role": "user", "content": <sequence through PATH_START>}]
    ability      "maze"
    reward_model {"style": "rule", "ground_truth": <full sequence>}
    extra_info   {"split", "index", "question": <prompt text>, "answer": <full sequence>}
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from maxrl.tasks.maze.dataset import MazeRecord
from maxrl.tasks.maze.encoding import ACTION_WORDS, NEWLINE, split_sequence
from maxrl.utils.atomic import publish_file, write_text_atomic

SPLITS = ("train", "test")
FORMATS = ("json", "parquet")

RL_SCHEMA = pa.schema(
    [
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        (
            "extra_info",
            pa.struct(
                [("split", pa.string()), ("index", pa.int64()), ("question", pa.string()), ("answer", pa.string())]
            ),
        ),
    ]
)

_ROW_GROUP = 8192


def data_source_for(sequence: str) -> str:
    """``maze_<size>``, the size read off the sequence (one NEWLINE word per row)."""
    return f"maze_{sequence.split().count(NEWLINE)}"


def rl_row(record: MazeRecord, split: str, index: int) -> dict[str, Any]:
    """One verl-format row for a maze."""
    prompt = record.prompt
    return {
        "data_source": data_source_for(record.sequence),
        "prompt": [{"role": "user", "content": prompt}],
        "ability": "maze",
        "reward_model": {"style": "rule", "ground_truth": record.sequence},
        "extra_info": {"split": split, "index": index, "question": prompt, "answer": record.sequence},
    }


class _AtomicFile(ABC):
    """Write to ``<path>.tmp``; move it onto ``path`` only when the ``with`` block succeeds."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.tmp_path = self.path.with_name(self.path.name + ".tmp")

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        if exc_type is None:
            publish_file(self.tmp_path, self.path)
        else:
            self.tmp_path.unlink(missing_ok=True)

    @abstractmethod
    def open(self) -> None:
        """Open ``self.tmp_path`` for writing."""

    @abstractmethod
    def close(self) -> None:
        """Finish and close ``self.tmp_path``."""


class JsonListWriter(_AtomicFile):
    """Streams records into a JSON list, one record per line."""

    def open(self) -> None:
        self._file = open(self.tmp_path, "w", encoding="utf-8")
        self._file.write("[")
        self.count = 0

    def write(self, record: MazeRecord) -> None:
        item = {"sequence": record.sequence, "optimal_path_length": record.optimal_path_length}
        self._file.write(("\n" if self.count == 0 else ",\n") + json.dumps(item))
        self.count += 1

    def close(self) -> None:
        self._file.write("\n]\n")
        self._file.close()


class ParquetRowWriter(_AtomicFile):
    """Buffers verl-format rows of one split and writes them in row groups."""

    def __init__(self, path: Path, split: str):
        super().__init__(path)
        self.split = split

    def open(self) -> None:
        self._writer = pq.ParquetWriter(self.tmp_path, RL_SCHEMA)
        self._rows: list[dict[str, Any]] = []
        self.count = 0

    def write(self, record: MazeRecord) -> None:
        self._rows.append(rl_row(record, self.split, self.count))
        self.count += 1
        if len(self._rows) >= _ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=RL_SCHEMA))
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def write_splits(
    labelled: Iterable[tuple[str, MazeRecord]], output_dir: str | Path, formats: Iterable[str] = FORMATS
) -> dict[str, int]:
    """Write ``(split, record)`` pairs to ``<split>.json`` and/or ``<split>.parquet``; return counts."""
    formats = tuple(formats)
    unknown = set(formats) - set(FORMATS)
    if unknown or not formats:
        raise ValueError(f"unknown output formats {sorted(unknown)} (choose from {FORMATS})")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    writers: dict[str, list[JsonListWriter | ParquetRowWriter]] = {split: [] for split in SPLITS}
    for split in SPLITS:
        if "json" in formats:
            writers[split].append(JsonListWriter(output_dir / f"{split}.json"))
        if "parquet" in formats:
            writers[split].append(ParquetRowWriter(output_dir / f"{split}.parquet", split))
    with ExitStack() as stack:
        for writer in (w for split in SPLITS for w in writers[split]):
            stack.enter_context(writer)
        for split, record in labelled:
            for writer in writers[split]:
                writer.write(record)
    return {split: writers[split][0].count for split in SPLITS}


def read_prompts(paths: Iterable[str | Path]) -> set[str]:
    """The maze prompts (``extra_info.question``) of verl parquet files written by this module."""
    prompts: set[str] = set()
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"maze parquet file not found: {path}")
        prompts.update(info["question"] for info in pq.read_table(path, columns=["extra_info"]).column(0).to_pylist())
    return prompts


def read_json_records(path: str | Path) -> Iterator[MazeRecord]:
    """Records of a paper-format JSON file (a list of ``{"sequence", "optimal_path_length"}``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"maze JSON file not found: {path}")
    items = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a JSON list of maze records, got {type(items).__name__}")
    for row, item in enumerate(items):
        if not isinstance(item, dict) or "sequence" not in item:
            raise ValueError(f"{path}: record {row} has no 'sequence' field")
        length = item.get("optimal_path_length")
        if length is None:  # not needed for parquet; count the answer's moves rather than invent a value
            length = sum(word in ACTION_WORDS for word in split_sequence(item["sequence"])[1].split())
        yield MazeRecord(item["sequence"], int(length))


def json_to_parquet(json_dir: str | Path, output_dir: str | Path | None = None) -> dict[str, int]:
    """Convert the paper's ``train.json``/``test.json`` (e.g. the HF data set ``guanning-ai/maze_17x17_1m``)
    into verl parquet files, which the paper's release has no tool for."""
    json_dir = Path(json_dir)
    labelled = ((split, record) for split in SPLITS for record in read_json_records(json_dir / f"{split}.json"))
    return write_splits(labelled, output_dir if output_dir is not None else json_dir, formats=("parquet",))


def write_metadata(path: str | Path, metadata: dict[str, Any]) -> None:
    """Write ``training_metadata.json`` atomically."""
    write_text_atomic(path, json.dumps(metadata, indent=2) + "\n")
