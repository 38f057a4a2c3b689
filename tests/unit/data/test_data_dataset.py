"""RLDataset: prompt encoding (chat template and raw), overlong prompts, and every bad-data error."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from maxrl.config.yaml_tree import default_section
from maxrl.data.dataset import RLDataset
from maxrl.data.parquet_rows import DataError


def make_row(i, content=None, source="openai/gsm8k"):
    return {
        "data_source": source,
        "prompt": [{"role": "user", "content": content or f"what is {i} plus {i}?"}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": str(2 * i)},
        "extra_info": {"split": "train", "index": 100 + i},
    }


def write(path, rows, schema=None):
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return str(path)


@pytest.fixture
def gsm_file(tmp_path):
    return write(tmp_path / "train.parquet", [make_row(i) for i in range(6)])


def test_chat_template_path_renders_messages_with_the_generation_prompt(gsm_file, tiny_tokenizer):
    dataset = RLDataset(gsm_file, tiny_tokenizer, default_section("data", {"max_prompt_length": 64, "apply_chat_template": True}))
    item = dataset[2]
    text = "<|im_start|>user\nwhat is 2 plus 2?<|im_end|>\n<|im_start|>assistant\n"
    assert item["input_ids"].tolist() == tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tiny_tokenizer.decode(item["input_ids"]) == text
    assert item["raw_prompt"] == [{"role": "user", "content": "what is 2 plus 2?"}]
    assert (item["data_source"], item["ground_truth"], item["index"]) == ("openai/gsm8k", "4", 102)
    assert item["extra_info"] == {"split": "train", "index": 102}


def test_raw_path_tokenizes_the_concatenated_content_without_special_tokens(tmp_path, tiny_tokenizer):
    row = make_row(0)
    row["prompt"] = [{"role": "system", "content": "sum: "}, {"role": "user", "content": "1 + 2 ="}]
    path = write(tmp_path / "raw.parquet", [row])
    dataset = RLDataset(
        path, tiny_tokenizer, default_section("data", {"max_prompt_length": 64, "apply_chat_template": False})
    )
    assert tiny_tokenizer.decode(dataset[0]["input_ids"]) == "sum: 1 + 2 ="
    assert (
        dataset[0]["input_ids"].tolist()
        == tiny_tokenizer("sum: 1 + 2 =", add_special_tokens=False)["input_ids"]
    )


def test_maze_prompt_keeps_its_own_bos_and_gets_no_added_tokens(tmp_path):
    import numpy as np

    from maxrl.tasks.maze import build_tokenizer, encode_maze, generate_maze, split_sequence

    sequence = encode_maze(generate_maze(7, np.random.default_rng(0)))
    prompt = split_sequence(sequence)[0]
    path = write(tmp_path / "maze.parquet", [make_row(0, content=prompt, source="maze_7")])
    tokenizer = build_tokenizer()
    dataset = RLDataset(path, tokenizer, default_section("data", {"max_prompt_length": 128, "apply_chat_template": False}))
    ids = dataset[0]["input_ids"].tolist()
    assert ids == tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert ids[0] == tokenizer.convert_tokens_to_ids("<bos>") and ids.count(ids[0]) == 1
    assert len(ids) == len(prompt.split())  # one token per word


def test_tokenizer_without_chat_template_needs_apply_chat_template_false(gsm_file):
    from maxrl.tasks.maze import build_tokenizer

    with pytest.raises(ValueError, match="no chat template; set data.apply_chat_template=False"):
        RLDataset(gsm_file, build_tokenizer(), default_section("data", {"apply_chat_template": True}))


def _long_rows():
    return [make_row(0), make_row(1, content="what is " + "1 plus " * 40 + "1?"), make_row(2)]


def test_overlong_prompt_with_truncation_error_names_file_row_and_column(tmp_path, tiny_tokenizer):
    path = write(tmp_path / "long.parquet", _long_rows())
    with pytest.raises(DataError) as error:
        RLDataset(path, tiny_tokenizer, default_section("data", {"max_prompt_length": 32, "truncation": "error"}))
    message = str(error.value)
    assert f"{path}, row 1, column 'prompt'" in message
    assert "data.max_prompt_length=32" in message and "data.filter_overlong_prompts=True" in message


def test_overlong_prompts_are_filtered(tmp_path, tiny_tokenizer):
    path = write(tmp_path / "long.parquet", _long_rows())
    dataset = RLDataset(path, tiny_tokenizer, default_section("data", {"max_prompt_length": 32, "filter_overlong_prompts": True}))
    assert len(dataset) == 2 and [dataset[i]["index"] for i in range(2)] == [100, 102]
    with pytest.raises(DataError, match="every prompt is longer than data.max_prompt_length=4"):
        RLDataset(path, tiny_tokenizer, default_section("data", {"max_prompt_length": 4, "filter_overlong_prompts": True}))


@pytest.mark.parametrize("side", ["left", "right"])
def test_overlong_prompts_are_truncated_on_the_chosen_side(tmp_path, tiny_tokenizer, side):
    path = write(tmp_path / "long.parquet", _long_rows())
    dataset = RLDataset(path, tiny_tokenizer, default_section("data", {"max_prompt_length": 16, "truncation": side}))
    full = RLDataset(path, tiny_tokenizer, default_section("data", {"max_prompt_length": 1000}))[1]["input_ids"].tolist()
    kept = dataset[1]["input_ids"].tolist()
    assert len(full) > 16 and kept == (full[-16:] if side == "left" else full[:16])
    assert len(dataset) == 3


def test_several_files_are_concatenated(tmp_path, tiny_tokenizer):
    first = write(tmp_path / "a.parquet", [make_row(i) for i in range(3)])
    second = write(tmp_path / "b.parquet", [make_row(i, source="aime25") for i in range(2)])
    dataset = RLDataset(OmegaConf.create([first, second]), tiny_tokenizer, default_section("data", {"max_prompt_length": 64}))
    assert len(dataset) == 5 and dataset[3]["data_source"] == "aime25"
    assert dataset.data_sources() == ["aime25", "openai/gsm8k"]


def _rows_with(column, value):
    rows = [make_row(i) for i in range(4)]
    rows[2][column] = value
    return rows


@pytest.mark.parametrize(
    ("rows", "where", "message"),
    [
        (_rows_with("prompt", None), "row 2, column 'prompt'", "expected a non-empty list of chat messages"),
        (_rows_with("prompt", []), "row 2, column 'prompt'", "expected a non-empty list of chat messages"),
        (
            _rows_with("prompt", [{"role": "user", "content": None}]),
            "row 2, column 'prompt'",
            "expected a non-empty list of chat messages",
        ),
        (_rows_with("data_source", None), "row 2, column 'data_source'", "expected a non-empty string"),
        (
            _rows_with("reward_model", {"style": "rule", "ground_truth": None}),
            "row 2, column 'reward_model.ground_truth'",
            "missing",
        ),
    ],
)
def test_bad_rows_name_file_row_and_column(tmp_path, tiny_tokenizer, rows, where, message):
    path = write(tmp_path / "bad.parquet", rows)
    with pytest.raises(DataError, match=message) as error:
        RLDataset(path, tiny_tokenizer, default_section("data", {"max_prompt_length": 64}))
    assert f"{path}, {where}" in str(error.value)


def test_wrong_column_types_name_file_row_and_column(tmp_path, tiny_tokenizer):
    rows = [make_row(i) for i in range(3)]
    for row in rows:
        row["prompt"] = row["prompt"][0]["content"]  # a plain string, not chat messages
    path = write(tmp_path / "strings.parquet", rows)
    with pytest.raises(
        DataError, match=r"row 0, column 'prompt': expected a non-empty list of chat messages"
    ):
        RLDataset(path, tiny_tokenizer, default_section("data", {}))
    rows = [make_row(i) for i in range(3)]
    for row in rows:
        row["extra_info"] = "split=train"
    path = write(tmp_path / "extra.parquet", rows)
    with pytest.raises(DataError, match=r"extra.parquet, row 0, column 'extra_info': expected a struct or null"):
        RLDataset(path, tiny_tokenizer, default_section("data", {}))


def test_missing_column_empty_unreadable_and_absent_files(tmp_path, tiny_tokenizer):
    rows = [make_row(i) for i in range(2)]
    for row in rows:
        del row["reward_model"]
    missing = write(tmp_path / "missing.parquet", rows)
    with pytest.raises(DataError, match=r"missing.parquet, column 'reward_model': column missing"):
        RLDataset(missing, tiny_tokenizer, default_section("data", {}))
    schema = pa.Table.from_pylist([make_row(0)]).schema
    empty = write(tmp_path / "empty.parquet", [], schema=schema)
    with pytest.raises(DataError, match=r"empty.parquet: the file has no rows"):
        RLDataset(empty, tiny_tokenizer, default_section("data", {}))
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match=r"garbage.parquet: cannot be read as parquet"):
        RLDataset(str(garbage), tiny_tokenizer, default_section("data", {}))
    with pytest.raises(FileNotFoundError, match=r"nowhere.parquet does not exist \(check data.train_files"):
        RLDataset(str(tmp_path / "nowhere.parquet"), tiny_tokenizer, default_section("data", {}))
    with pytest.raises(ValueError, match="data.truncation='center'"):
        RLDataset(missing, tiny_tokenizer, default_section("data", {"truncation": "center"}))
