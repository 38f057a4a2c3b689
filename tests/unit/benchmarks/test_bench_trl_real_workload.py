"""The TRL comparison's real-model workload (SmolLM2-135M-Instruct on arith_1d) and the workload file.

Without the model: the shape, the scorer of both sides (maxrl's own final-number scorer, read by path),
deterministic distinct prompts with their answers, TRL's rows equal to maxrl's, the workload file's round
trip, a maxrl config that composes, and the suites. With the converted model folder (``MAXRL_SMOLLM2_DIR``
or outputs/models/SmolLM2-135M-Instruct; skipped otherwise): maxrl's dataset gives exactly the token ids
TRL's chat-template call gives, within the prompt budget.
"""

import os

import pytest

from benchmarks.suites import SUITES
from benchmarks.trl import smollm2
from benchmarks.trl.inputs import ComparisonInputs
from benchmarks.trl.maxrl_side import maxrl_overrides
from benchmarks.trl.spec import read_workload_file, write_workload_file
from benchmarks.trl.workloads import SMOLLM2, SMOLLM2_SMOKE, TOY, WORKLOADS
from maxrl.rewards import final_number


def model_folder():
    folder = os.environ.get(smollm2.MODEL_DIR_VARIABLE) or smollm2.DEFAULT_MODEL_DIR
    return folder if (smollm2.Path(folder) / "config.json").is_file() else None


def test_workloads_by_name_and_the_real_shape():
    assert WORKLOADS == {"toy": TOY, "smollm2": SMOLLM2, "smollm2-smoke": SMOLLM2_SMOKE}
    assert SMOLLM2_SMOKE.samples_per_step == 8 and SMOLLM2_SMOKE.response_tokens == 16
    assert SMOLLM2_SMOKE.module == SMOLLM2.module and "2 prompts x 4 samples of exactly 16" in SMOLLM2_SMOKE.description
    assert (SMOLLM2.prompts_per_step, SMOLLM2.samples_per_prompt, SMOLLM2.response_tokens) == (8, 8, 128)
    assert SMOLLM2.samples_per_step == 64 and TOY.samples_per_step == 128
    assert SMOLLM2.chat_template and not TOY.chat_template


def test_both_sides_score_with_maxrls_final_number_scorer():
    assert smollm2.SCORER_FILE.resolve() == smollm2.Path(final_number.__file__).resolve()
    responses = ["7", "The answer is 12.", "1 - 5", "no number", "-4"]
    answers = ["7", "12", "-4", "3", "-4"]
    expected = [final_number.compute_score("", r, a)["score"] for r, a in zip(responses, answers)]
    assert expected == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert [smollm2.compute_score("s", r, a) for r, a in zip(responses, answers)] == [
        final_number.compute_score("s", r, a) for r, a in zip(responses, answers)]
    chat = [[{"role": "assistant", "content": r}] for r in responses]
    assert smollm2.trl_reward(chat, answer=answers) == smollm2.trl_reward(responses, answer=answers) == expected


def test_prompts_are_deterministic_distinct_and_the_same_on_both_sides():
    problems = smollm2.problems()
    assert len(problems) == smollm2.NUM_PROMPTS == len({p["question"] for p in problems})
    rows, trl_rows = smollm2.verl_rows(), smollm2.trl_prompts()
    assert [row["prompt"] for row in rows] == [row["prompt"] for row in trl_rows]
    assert [row["reward_model"]["ground_truth"] for row in rows] == [row["answer"] for row in trl_rows]
    assert {row["data_source"] for row in rows} == {"reasoning_gym/basic_arithmetic"}
    first = trl_rows[0]["prompt"]
    assert len(first) == 1 and first[0]["role"] == "user" and first[0]["content"].endswith("final answer.")
    left, operator, right = first[0]["content"].split("Calculate ")[1].split(".")[0].split()
    assert int(trl_rows[0]["answer"]) == int(left) + (int(right) if operator == "+" else -int(right))


def test_workload_file_round_trip(tmp_path):
    path = write_workload_file(tmp_path / "w.json", SMOLLM2, smollm2.trl_prompts())
    work, prompts = read_workload_file(path)
    assert work == SMOLLM2 and prompts == smollm2.trl_prompts()


def test_maxrl_config_of_the_real_workload_composes(tmp_path):
    from maxrl.config import compose_config

    inputs = ComparisonInputs(tmp_path, tmp_path / "model", tmp_path / "train.parquet", tmp_path / "w.json", SMOLLM2)
    assert inputs.reward_file == smollm2.Path(smollm2.__file__).resolve()
    config = compose_config(maxrl_overrides(inputs, 2, 3, tmp_path / "run"))
    assert (config.data.train_batch_size, config.actor_rollout_ref.rollout.n, config.data.max_response_length,
            config.data.max_prompt_length) == (8, 8, 128, 64)
    assert config.data.apply_chat_template and config.actor_rollout_ref.rollout.ignore_eos
    assert config.custom_reward_function.path == str(inputs.reward_file)
    assert config.actor_rollout_ref.actor.optim.lr == smollm2.LEARNING_RATE


def test_real_suites():
    assert SUITES["trl-real"].sections == ("trl",) and SUITES["trl-real"].trl.workload == "smollm2"
    assert SUITES["trl-real"].trl.worker_layouts == (1, 2) and SUITES["trl-real"].trl.rounds == 4
    quick = SUITES["trl-real-quick"].trl
    assert (quick.rounds, quick.warmup_steps, quick.measured_steps, quick.workload) == (1, 0, 1, "smollm2-smoke")
    assert SUITES["trl"].trl.workload == "toy"


@pytest.mark.skipif(model_folder() is None, reason="no converted SmolLM2 folder (python -m "
                    "maxrl.utils.offline_models smollm2 --out outputs/models/SmolLM2-135M-Instruct)")
def test_maxrl_prompt_ids_equal_trls_chat_template_ids(tmp_path):
    from maxrl.config import compose_config
    from maxrl.data.dataset import RLDataset
    from maxrl.data.prep import write_parquet
    from maxrl.utils.tokenizer_folder import load_tokenizer

    folder = model_folder()
    tokenizer = load_tokenizer(folder)
    train = write_parquet(smollm2.verl_rows(), tmp_path / "train.parquet")
    inputs = ComparisonInputs(tmp_path, folder, train, tmp_path / "w.json", SMOLLM2)
    dataset = RLDataset([str(train)], tokenizer, compose_config(maxrl_overrides(inputs, 1, 1, tmp_path / "r")).data)
    messages = [row["prompt"] for row in smollm2.trl_prompts()]
    trl_ids = tokenizer.apply_chat_template(conversation=messages, add_generation_prompt=True, tokenize=True,
                                            return_dict=True)["input_ids"]  # TRL 1.16's call
    assert len(dataset) == len(trl_ids) == smollm2.NUM_PROMPTS
    assert [dataset[i]["input_ids"].tolist() for i in range(len(dataset))] == [list(ids) for ids in trl_ids]
    assert max(len(ids) for ids in trl_ids) <= smollm2.MAX_PROMPT_TOKENS
