"""Shared code of the data-preparation scripts (``examples/maxrl_data_preprocess/*.py``).

Each script names its source splits and maps one source example to one verl-format row; this module loads
the examples (from the Hugging Face hub, or from a local json/jsonl/parquet file for offline machines),
applies the mapping and writes ``<local_dir>/<train|test>.parquet`` atomically.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from maxrl.utils.atomic import atomic_path

logger = logging.getLogger(__name__)

GSM8K_INSTRUCTION = "Let's think step by step and output the final answer within \\boxed{}."
# The paper's scripts write "\boxed{{}}" here (a str.format escape in a plain string); fixed to "\boxed{}".
MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


class SourceRowError(ValueError):
    """A source example the script cannot convert; the message names the file or hub set and the row."""


@dataclass(frozen=True)
class SourceSplit:
    """One split to prepare: where it comes from on the hub, the option that replaces it with a local file,
    and the parquet file it becomes (``<output>.parquet``, ``extra_info.split`` = ``output``)."""

    hub_path: str
    hub_split: str
    output: str
    input_option: str = "--input"
    hub_config: str | None = None

    @property
    def input_dest(self) -> str:
        return self.input_option.lstrip("-")


def math_prompt(problem: str) -> list[dict]:
    """The Qwen3/POLARIS prompt of the paper: the problem, a newline, the boxed-answer instruction."""
    return [{"role": "user", "content": f"{problem}\n{MATH_INSTRUCTION}"}]


def gsm8k_prompt(question: str) -> list[dict]:
    """The GSM8K prompt of the paper: the question, a space, the step-by-step instruction."""
    return [{"role": "user", "content": f"{question} {GSM8K_INSTRUCTION}"}]


def verl_row(
    data_source: str, prompt: list[dict], ground_truth: str, extra_info: dict, ability: str = "math"
):
    return {
        "data_source": data_source,
        "prompt": prompt,
        "ability": ability,
        "reward_model": {"style": "rule", "ground_truth": ground_truth},
        "extra_info": extra_info,
    }


def field(example: dict, name: str, origin: str, index: int):
    """``example[name]``, or an error naming where the example came from and which fields it has."""
    if example.get(name) is None:
        raise SourceRowError(f"{origin}, row {index}: missing field {name!r} (fields: {sorted(example)})")
    return example[name]


def read_rows_file(path: str | Path) -> list[dict]:
    """Rows of a local .parquet, .jsonl or .json file (a JSON list of rows, or one JSON object per line)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json" and text.lstrip().startswith("["):
        return json.loads(text)
    if path.suffix in (".json", ".jsonl"):
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as error:
            raise SourceRowError(f"{path}, line {error.lineno}: not valid JSON ({error.msg})") from error
    raise ValueError(f"input file {path}: expected a .parquet, .jsonl or .json file")


def load_hub_rows(split: SourceSplit) -> list[dict]:
    """The split from the Hugging Face hub; a failure (offline machine, no access) names the option that
    reads the split from a local file instead."""
    import datasets

    try:
        return list(datasets.load_dataset(split.hub_path, split.hub_config, split=split.hub_split))
    except Exception as error:
        raise RuntimeError(
            f"cannot load {split.hub_path} ({split.hub_split} split) from the Hugging Face hub ({error}). "
            f"Offline, give that split as a local json/jsonl/parquet file with {split.input_option} <file> "
            "(every split without such an option is read from the hub)"
        ) from error


def write_parquet(rows: list[dict], path: str | Path) -> Path:
    """Write rows to ``path`` through a temporary file, so a crash never leaves half a file behind."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows)
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)
    return path


RowMaker = Callable[[dict, int, str, str], dict]
"""``make_row(example, index, split_name, origin) -> verl row``; ``origin`` names the source in errors."""


def parser(name: str, description: str, splits: Sequence[SourceSplit]) -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    arguments.add_argument(
        "--local_dir", default=f"~/data/{name}", help="output folder (default: %(default)s)"
    )
    for split in splits:
        arguments.add_argument(
            split.input_option,
            dest=split.input_dest,
            default=None,
            help=f"local json/jsonl/parquet file with the columns of {split.hub_path} ({split.hub_split} split), "
            "read instead of the hub",
        )
    return arguments


def prepare(
    name: str, description: str, splits: Sequence[SourceSplit], make_row: RowMaker, argv=None
) -> list[Path]:
    """The whole script: parse ``argv``, convert every split, write the parquet files; return their paths."""
    args = parser(name, description, splits).parse_args(argv)
    written = []
    for split in splits:
        input_file = getattr(args, split.input_dest)
        origin = str(input_file) if input_file else f"{split.hub_path} ({split.hub_split})"
        examples = read_rows_file(input_file) if input_file else load_hub_rows(split)
        rows = [make_row(example, index, split.output, origin) for index, example in enumerate(examples)]
        if not rows:
            raise SourceRowError(f"{origin}: no rows to prepare")
        path = write_parquet(rows, Path(args.local_dir).expanduser() / f"{split.output}.parquet")
        logger.info("wrote %d rows from %s to %s", len(rows), origin, path)
        written.append(path)
    return written


def math_row_maker(
    data_source: str, problem_field: str = "problem", answer_field: str = "answer"
) -> RowMaker:
    """Rows of the Qwen3 sets (arXiv 2602.02710, Qwen3 experiment; docs/data_and_rewards.md): math prompt, ``answer`` as a string, top-level ``id``."""

    def make_row(example: dict, index: int, split: str, origin: str) -> dict:
        problem = field(example, problem_field, origin, index)
        answer = field(example, answer_field, origin, index)
        row = verl_row(data_source, math_prompt(problem), str(answer), {"split": split, "index": index})
        return {**row, "id": index}

    return make_row


def generated_splits_parser(description: str, name: str, train_size: int, test_size: int) -> argparse.ArgumentParser:
    """Arguments of a script that generates its problems (reasoning-gym): output folder, split sizes, seed."""
    arguments = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--local_dir", default=f"~/data/{name}", help="output folder (default: %(default)s)")
    arguments.add_argument("--train_size", type=int, default=train_size, help="training problems (default: %(default)s)")
    arguments.add_argument("--test_size", type=int, default=test_size, help="test problems (default: %(default)s)")
    arguments.add_argument("--seed", type=int, default=42, help="generator seed (default: %(default)s)")
    return arguments


def write_generated_splits(
    problems: Sequence[dict], train_size: int, local_dir: str | Path, make_row: Callable[[dict, int, str], dict]
) -> list[Path]:
    """The first `train_size` problems as ``train.parquet``, the rest as ``test.parquet``, each row made by
    ``make_row(problem, index, split)``; returns the two paths."""
    written = []
    for split, entries in (("train", problems[:train_size]), ("test", problems[train_size:])):
        rows = [make_row(entry, index, split) for index, entry in enumerate(entries)]
        path = write_parquet(rows, Path(local_dir).expanduser() / f"{split}.parquet")
        logger.info("wrote %d %s problems to %s", len(rows), split, path)
        written.append(path)
    return written
