"""Reading verl-format parquet files and checking every row before training starts.

A row has ``data_source`` (str), ``prompt`` (a list of ``{"role", "content"}`` chat messages), ``ability``,
``reward_model`` (a struct with ``ground_truth``) and ``extra_info`` (a struct, optional). Problems are
reported with the file, the row and the column, so a broken file is fixed in minutes, not after a crash
hours into a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

GROUND_TRUTH_COLUMN = "reward_model"
OPTIONAL_COLUMNS = ("extra_info",)  # read when present; `ability` is not needed
CHECK_CHUNK_ROWS = 8192


class DataError(ValueError):
    """A data file that cannot be used as it is; the message names the file, row and column."""


def locate(path: str | Path, row: int | None, column: str | None) -> str:
    where = [str(path)]
    if row is not None:
        where.append(f"row {row}")
    if column is not None:
        where.append(f"column {column!r}")
    return ", ".join(where)


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a data file ("does not exist", "is a directory: ..."), or None."""
    path = Path(path).expanduser()
    if path.is_dir():
        found = sorted(entry.name for entry in path.glob("*.parquet"))[:5]
        return f"is a directory, give a parquet file (parquet files in it: {found})"
    if not path.is_file():
        return "does not exist"
    return None


def column_rows(path: str | Path, column: str) -> dict[object, tuple[int, int]]:
    """Each distinct value of one column with its first row number and its row count, reading that column
    only (cheap even for large files). Raises ``DataError`` when the file or the column cannot be read."""
    try:
        values = pq.read_table(Path(path).expanduser(), columns=[column]).column(column).to_pylist()
    except (pa.ArrowException, OSError, KeyError) as error:
        raise DataError(f"{locate(path, None, column)}: cannot be read ({error})") from error
    rows: dict[object, tuple[int, int]] = {}
    for row, value in enumerate(values):
        value = value if isinstance(value, (str, int, float, type(None))) else repr(value)
        first, count = rows.get(value, (row, 0))
        rows[value] = (first, count + 1)
    return rows


def read_table(path: str | Path, required_columns: tuple[str, ...]) -> pa.Table:
    """The parquet file as an Arrow table, after the checks that need no row values."""
    path = Path(path).expanduser()
    problem = file_problem(path)
    if problem:
        raise FileNotFoundError(f"data file {path} {problem} (check data.train_files / data.val_files)")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path}: cannot be read as parquet ({error})") from error
    if table.num_rows == 0:
        raise DataError(f"{path}: the file has no rows")
    missing = [column for column in required_columns if column not in table.column_names]
    if missing:
        raise DataError(
            f"{locate(path, None, missing[0])}: column missing (needed: {list(required_columns)}; "
            f"present: {table.column_names})"
        )
    return table


@dataclass(frozen=True)
class Row:
    """The fields of one row that the dataset needs, as Python values."""

    data_source: str
    messages: list[dict]
    ground_truth: object
    extra_info: dict


def _check_messages(value, where: str) -> list[dict]:
    if isinstance(value, list) and value:
        if all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in value
        ):
            return value
    raise DataError(
        f"{where}: expected a non-empty list of chat messages {{'role': str, 'content': str}}, got {value!r:.200}"
    )


def check_row(path, row: int, values: dict, prompt_key: str, source_key: str) -> Row:
    """Turn one row's Python values into a ``Row``, or raise ``DataError`` naming the bad column."""
    source = values[source_key]
    if not isinstance(source, str) or not source:
        raise DataError(f"{locate(path, row, source_key)}: expected a non-empty string, got {source!r:.200}")
    messages = _check_messages(values[prompt_key], locate(path, row, prompt_key))
    reward_model = values[GROUND_TRUTH_COLUMN]
    if not isinstance(reward_model, dict) or reward_model.get("ground_truth") is None:
        raise DataError(
            f"{locate(path, row, GROUND_TRUTH_COLUMN + '.ground_truth')}: missing; expected a struct "
            f"{{'style': 'rule', 'ground_truth': ...}}, got {reward_model!r:.200}"
        )
    extra_info = values.get("extra_info")
    if extra_info is not None and not isinstance(extra_info, dict):
        raise DataError(
            f"{locate(path, row, 'extra_info')}: expected a struct or null, got {extra_info!r:.200}"
        )
    return Row(source, messages, reward_model["ground_truth"], extra_info or {})


class RowFile:
    """One parquet file, reduced to the columns the dataset reads, with checked access to its rows."""

    def __init__(self, path: str | Path, prompt_key: str, source_key: str):
        self.path = Path(path).expanduser()
        self.prompt_key = prompt_key
        self.source_key = source_key
        table = read_table(self.path, (source_key, prompt_key, GROUND_TRUTH_COLUMN))
        columns = list(dict.fromkeys([source_key, prompt_key, GROUND_TRUTH_COLUMN]))
        columns += [
            column for column in OPTIONAL_COLUMNS if column in table.column_names and column not in columns
        ]
        self.table = table.select(columns)

    def __len__(self) -> int:
        return self.table.num_rows

    def rows(self) -> Iterator[tuple[int, Row]]:
        """Every row checked, with its row number, converting a bounded number of rows at a time."""
        start = 0
        for chunk in self.table.to_batches(max_chunksize=CHECK_CHUNK_ROWS):
            for offset, values in enumerate(chunk.to_pylist()):
                yield start + offset, self._check(start + offset, values)
            start += chunk.num_rows

    def row(self, index: int) -> Row:
        return self._check(index, self.table.slice(index, 1).to_pylist()[0])

    def _check(self, index: int, values: dict) -> Row:
        return check_row(self.path, index, values, self.prompt_key, self.source_key)
