"""Data-preparation scripts on fixture rows (--input): exact rows, loadable by RLDataset, scored 1 when right."""

import importlib.util
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from maxrl.config.yaml_tree import default_section
from maxrl.data.dataset import RLDataset
from maxrl.data.prep import SourceRowError
from maxrl.rewards import default_compute_score

SCRIPTS = Path(__file__).resolve().parents[3] / "examples" / "maxrl_data_preprocess"
MATH_SUFFIX = "\nPlease reason step by step, and put your final answer within \\boxed{}."
GSM_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."


def load_script(name):
    spec = importlib.util.spec_from_file_location(f"prep_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_input(path, rows):
    """Fixture rows in the format the file name says: .jsonl, .json (a list) or .parquet."""
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows))
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def read_output(path):
    return pq.read_table(path).to_pylist()


def check_usable(path, tokenizer):
    """The file loads into the RL dataset and its first ground truth, boxed, scores 1 by default."""
    dataset = RLDataset(str(path), tokenizer, default_section("data", {"max_prompt_length": 4096}))
    item = dataset[0]
    answer = f"So the answer is \\boxed{{{item['ground_truth']}}}."
    assert default_compute_score(item["data_source"], answer, item["ground_truth"])["score"] == 1.0
    return dataset


def test_gsm8k_writes_train_and_platinum_test(tmp_path, tiny_tokenizer):
    train = write_input(
        tmp_path / "train.jsonl",
        [
            {
                "question": "Tom has 3 apples and buys 1,000 more. How many?",
                "answer": "3+1000=1003\n#### 1,003",
            },
            {"question": "What is 2 minus 5?", "answer": "2-5=-3\n#### -3"},
        ],
    )
    test = write_input(
        tmp_path / "platinum.parquet",
        [{"question": "What is 6 times 7?", "answer": "6*7=42\n#### 42", "cleaning_status": "consensus"}],
    )
    out = tmp_path / "out"
    written = load_script("gsm8k").main(["--local_dir", str(out), "--input", train, "--test_input", test])
    assert [path.name for path in written] == ["train.parquet", "test.parquet"]
    rows = read_output(out / "train.parquet")
    assert rows[0] == {
        "data_source": "openai/gsm8k",
        "prompt": [
            {"role": "user", "content": "Tom has 3 apples and buys 1,000 more. How many?" + GSM_SUFFIX}
        ],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": "1003"},
        "extra_info": {
            "split": "train",
            "index": 0,
            "answer": "3+1000=1003\n#### 1,003",
            "question": "Tom has 3 apples and buys 1,000 more. How many?",
        },
    }
    assert rows[1]["reward_model"]["ground_truth"] == "-3"
    test_rows = read_output(out / "test.parquet")
    assert (
        test_rows[0]["extra_info"]["split"] == "test" and test_rows[0]["reward_model"]["ground_truth"] == "42"
    )
    assert sorted(p.name for p in out.iterdir()) == ["test.parquet", "train.parquet"]  # no temporary files
    check_usable(out / "train.parquet", tiny_tokenizer)


def test_gsm8k_row_without_final_answer_names_file_and_row(tmp_path):
    train = write_input(
        tmp_path / "bad.jsonl", [{"question": "q", "answer": "#### 1"}, {"question": "q", "answer": "1"}]
    )
    with pytest.raises(SourceRowError, match=r"bad.jsonl, row 1: no '#### <number>' final answer"):
        load_script("gsm8k").main(
            ["--local_dir", str(tmp_path / "o"), "--input", train, "--test_input", train]
        )


@pytest.mark.parametrize(
    ("script", "data_source", "output", "example", "question_field"),
    [
        ("polaris", "polaris", "train", {"problem": "Find $x$ if $2x=6$.", "answer": "3"}, "problem"),
        (
            "aime25",
            "aime25",
            "test",
            {"problem": "Compute $7 \\cdot 9$.", "answer": 63, "id": "0"},
            "problem",
        ),
        (
            "beyondaime",
            "beyondaime",
            "test",
            {"problem": "What is $\\frac{1}{2}+\\frac{1}{4}$?", "answer": "\\frac{3}{4}"},
            "problem",
        ),
        (
            "math_500",
            "DigitalLearningGmbH/MATH-lighteval",
            "test",
            {
                "problem": "Simplify $\\sqrt{8}$.",
                "solution": "...",
                "answer": "2\\sqrt{2}",
                "subject": "Algebra",
                "level": 2,
                "unique_id": "test/algebra/1.json",
            },
            "problem",
        ),
        ("minerva", "minerva", "test", {"question": "What is $10^2$?", "answer": "100"}, "question"),
    ],
)
def test_math_sets_write_the_paper_rows(
    tmp_path, tiny_tokenizer, script, data_source, output, example, question_field
):
    suffix = {"polaris": ".jsonl", "aime25": ".json", "beyondaime": ".parquet"}.get(script, ".jsonl")
    source = write_input(tmp_path / f"in{suffix}", [example, {**example, question_field: "Second problem?"}])
    out = tmp_path / "out"
    (path,) = load_script(script).main(["--local_dir", str(out), "--input", source])
    assert path == out / f"{output}.parquet"
    rows = read_output(path)
    assert rows[0] == {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": example[question_field] + MATH_SUFFIX}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": str(example["answer"])},
        "extra_info": {"split": output, "index": 0},
        "id": 0,
    }
    assert rows[1]["id"] == 1 and rows[1]["prompt"][0]["content"].startswith("Second problem?\n")
    check_usable(path, tiny_tokenizer)


def test_math_set_with_missing_field_names_file_row_and_fields(tmp_path):
    source = write_input(
        tmp_path / "in.jsonl", [{"problem": "p", "answer": "1"}, {"question": "p", "answer": "1"}]
    )
    with pytest.raises(
        SourceRowError, match=r"in.jsonl, row 1: missing field 'problem' \(fields: \['answer', 'question'\]\)"
    ):
        load_script("polaris").main(["--local_dir", str(tmp_path / "o"), "--input", source])


def test_reasoning_gym_problems_are_reproducible_and_disjoint(tmp_path, tiny_tokenizer):
    script = load_script("reasoning_gym_math")
    first = script.main(
        ["--local_dir", str(tmp_path / "a"), "--train_size", "30", "--test_size", "10", "--seed", "7"]
    )
    second = script.main(
        ["--local_dir", str(tmp_path / "b"), "--train_size", "30", "--test_size", "10", "--seed", "7"]
    )
    train, test = (read_output(path) for path in first)
    assert (train, test) == tuple(read_output(path) for path in second)
    assert len(train) == 30 and len(test) == 10
    questions = [row["extra_info"]["question"] for row in train + test]
    assert len(set(questions)) == 40
    assert train[0]["data_source"] == "reasoning_gym/gsm_symbolic"
    assert train[0]["prompt"][0]["content"] == train[0]["extra_info"]["question"] + GSM_SUFFIX
    dataset = check_usable(first[1], tiny_tokenizer)
    assert len(dataset) == 10
