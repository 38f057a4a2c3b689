"""The short-answer reasoning-gym presets: prepared rows, their prompt, and the scorer their data source routes to."""

import importlib.util
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from maxrl.config.yaml_tree import default_section
from maxrl.data.dataset import RLDataset
from maxrl.data.reasoning_gym_tasks import PRESETS, SHORT_ANSWER_INSTRUCTION, unique_problems
from maxrl.rewards import default_compute_score

SCRIPT = Path(__file__).resolve().parents[3] / "examples" / "maxrl_data_preprocess" / "reasoning_gym_short.py"


def load_script():
    spec = importlib.util.spec_from_file_location("prep_script_reasoning_gym_short", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rows_are_reproducible_disjoint_and_loadable(tmp_path, tiny_tokenizer):
    script = load_script()
    argv = ["--preset", "legs_easy", "--train_size", "30", "--test_size", "10", "--seed", "7"]
    first = script.main([*argv, "--local_dir", str(tmp_path / "a")])
    second = script.main([*argv, "--local_dir", str(tmp_path / "b")])
    train, test = (pq.read_table(path).to_pylist() for path in first)
    assert (train, test) == tuple(pq.read_table(path).to_pylist() for path in second)
    assert len(train) == 30 and len(test) == 10
    assert len({row["extra_info"]["question"] for row in train + test}) == 40
    row = test[0]
    assert row["data_source"] == "reasoning_gym/leg_counting"
    assert row["prompt"] == [{"role": "user", "content": row["extra_info"]["question"].strip() + "\n"
                              + SHORT_ANSWER_INSTRUCTION}]
    assert row["reward_model"]["ground_truth"] == row["extra_info"]["answer"]
    assert row["extra_info"]["preset"] == "legs_easy"
    item = RLDataset(str(first[1]), tiny_tokenizer, default_section("data", {"max_prompt_length": 4096}))[0]
    assert item["ground_truth"] == row["reward_model"]["ground_truth"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_generates_and_its_answer_scores(name):
    preset = PRESETS[name]
    (entry,) = unique_problems(preset, 1, seed=0)
    answer = str(entry["answer"])
    assert default_compute_score(preset.data_source, f"{answer}", answer)["acc"] == 1.0


def test_the_last_number_literal_of_the_response_is_the_answer():
    source = PRESETS["arith_2d"].data_source
    assert default_compute_score(source, "2 cats have 4 legs each, so 8", "8") == {"score": 1.0, "acc": 1.0,
                                                                                   "pred": "8"}
    assert default_compute_score(source, "There are 8 legs. Each cat has 4 legs", "8")["acc"] == 0.0
    assert default_compute_score(source, "5 - 9 = -4", "-4")["acc"] == 1.0
    assert default_compute_score(source, "It is 1,057.", "1057")["acc"] == 1.0
    assert default_compute_score(source, "no idea", "3") == {"score": 0.0, "acc": 0.0, "pred": ""}


def test_repeating_the_question_is_not_the_answer():
    """math-verify evaluates "1 - 58" to -57; an RL policy learnt to answer that way within ten steps."""
    source = PRESETS["arith_2d"].data_source
    assert default_compute_score(source, "1 - 58", "-57")["acc"] == 0.0
    assert default_compute_score(source, "1-58", "-57")["acc"] == 0.0
    assert default_compute_score(source, "1 - 58 = -57", "-57")["acc"] == 1.0


def test_a_task_with_too_few_distinct_questions_is_an_error():
    with pytest.raises(ValueError, match="fewer than 500 distinct questions"):
        unique_problems(PRESETS["arith_1d"], 500, seed=0)
