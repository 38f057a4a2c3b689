"""Bad data files and rows: each stops the run at start-up naming the file, row and column, or is handled as
the config asks (overlong prompts under every ``data.truncation`` mode)."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from maxrl.config.yaml_tree import default_section
from maxrl.data.dataset import RLDataset
from maxrl.data.parquet_rows import DataError


def row(i=0, **changes):
    values = {
        "data_source": "openai/gsm8k",
        "prompt": [{"role": "user", "content": f"what is {i} plus {i}?"}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": str(2 * i)},
        "extra_info": {"split": "train", "index": i},
    }
    return {**values, **changes}


def write(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


def without(column):
    rows = [row(i) for i in range(2)]
    for values in rows:
        del values[column]
    return rows


ROW_CASES = {
    "missing-prompt-column": (without("prompt"), DataError, "column 'prompt': column missing"),
    "missing-reward-model-column": (without("reward_model"), DataError, "column 'reward_model': column missing"),
    "missing-data-source-column": (without("data_source"), DataError, "column 'data_source': column missing"),
    "null-prompt": ([row(0), row(1, prompt=None)], DataError, "row 1, column 'prompt': expected a non-empty list"),
    "prompt-is-a-string": ([row(0, prompt="what is 1?")], DataError, "row 0, column 'prompt': expected a non-empty list"),
    "non-string-content": (
        [row(0), row(1, prompt=[{"role": "user", "content": None}])],
        DataError,
        "row 1, column 'prompt': expected a non-empty list of chat messages",
    ),
    "null-ground-truth": (
        [row(0), row(1, reward_model={"style": "rule", "ground_truth": None})],
        DataError,
        "row 1, column 'reward_model.ground_truth': missing",
    ),
    "reward-model-not-a-struct": (
        [row(0, reward_model="42")],
        DataError,
        "row 0, column 'reward_model.ground_truth': missing; expected a struct",
    ),
    "null-data-source": ([row(0), row(1, data_source=None)], DataError, "row 1, column 'data_source': expected a non-empty string"),
    "extra-info-not-a-struct": ([row(0, extra_info="train")], DataError, "row 0, column 'extra_info': expected a struct or null"),
}


@pytest.mark.parametrize("case", list(ROW_CASES), ids=list(ROW_CASES))
def test_bad_rows_name_file_row_and_column(tmp_path, tiny_tokenizer, case):
    rows, error, message = ROW_CASES[case]
    path = write(tmp_path / "bad.parquet", rows)
    with pytest.raises(error) as raised:
        RLDataset(path, tiny_tokenizer, default_section("data", {"max_prompt_length": 64}))
    assert f"{path}, {message}" in str(raised.value)


def test_empty_file(tmp_path, tiny_tokenizer):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.Table.from_pylist([row(0)]).slice(0, 0), path)
    with pytest.raises(DataError, match=r"empty.parquet: the file has no rows"):
        RLDataset(str(path), tiny_tokenizer, default_section("data", {}))


@pytest.mark.parametrize("content", [b"", b"PAR1 not really parquet", b"\x00" * 64], ids=["zero-bytes", "bad-magic", "zeros"])
def test_corrupt_file(tmp_path, tiny_tokenizer, content):
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"corrupt.parquet: cannot be read as parquet"):
        RLDataset(str(path), tiny_tokenizer, default_section("data", {}))


def test_truncated_file(tmp_path, tiny_tokenizer):
    whole = tmp_path / "whole.parquet"
    write(whole, [row(i) for i in range(50)])
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cut.parquet: cannot be read as parquet"):
        RLDataset(str(cut), tiny_tokenizer, default_section("data", {}))


def test_directory_given_as_a_data_file(tmp_path, tiny_tokenizer):
    write(tmp_path / "train.parquet", [row(0)])
    with pytest.raises(FileNotFoundError) as raised:
        RLDataset(str(tmp_path), tiny_tokenizer, default_section("data", {}))
    assert f"data file {tmp_path} is a directory, give a parquet file (parquet files in it: ['train.parquet'])" in str(
        raised.value
    )


def _long_file(tmp_path):
    long_text = " ".join(f"word{i}" for i in range(60))
    return write(tmp_path / "long.parquet", [row(0), row(1, prompt=[{"role": "user", "content": long_text}])])


def test_overlong_prompt_with_truncation_error(tmp_path, tiny_tokenizer):
    path = _long_file(tmp_path)
    with pytest.raises(DataError) as raised:
        RLDataset(path, tiny_tokenizer, default_section("data", {"max_prompt_length": 24, "truncation": "error"}))
    message = str(raised.value)
    assert f"{path}, row 1, column 'prompt': the prompt has" in message
    assert "more than data.max_prompt_length=24 (with data.truncation=error)" in message


@pytest.mark.parametrize("mode", ["left", "right", "middle"])
def test_overlong_prompt_is_cut_as_truncation_says(tmp_path, tiny_tokenizer, mode):
    path = _long_file(tmp_path)
    full = RLDataset(path, tiny_tokenizer, default_section("data", {"max_prompt_length": 1000}))[1]["input_ids"].tolist()
    kept = RLDataset(path, tiny_tokenizer, default_section("data", {"max_prompt_length": 24, "truncation": mode}))[1]["input_ids"].tolist()
    expected = {"left": full[-24:], "right": full[:24], "middle": full[:12] + full[-12:]}[mode]
    assert len(full) > 24 and kept == expected


def test_overlong_prompt_is_filtered(tmp_path, tiny_tokenizer):
    dataset = RLDataset(_long_file(tmp_path), tiny_tokenizer, default_section("data", {"max_prompt_length": 24, "filter_overlong_prompts": True}))
    assert len(dataset) == 1 and dataset[0]["index"] == 0


def test_every_prompt_filtered(tmp_path, tiny_tokenizer):
    with pytest.raises(DataError, match=r"every prompt is longer than data.max_prompt_length=2"):
        RLDataset(_long_file(tmp_path), tiny_tokenizer, default_section("data", {"max_prompt_length": 2, "filter_overlong_prompts": True}))
