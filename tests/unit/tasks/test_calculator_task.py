"""The calculator tool task: the tokenizer round-trips any text, problems are disjoint, transcripts train only
the model's tokens and hold exactly the tokens an episode would, the answer format cannot come from the tool."""

import random

import pytest

from maxrl.agents.calculator import CALCULATOR_SCHEMA
from maxrl.agents.turns import TurnRenderer
from maxrl.rewards.default import default_compute_score
from maxrl.tasks.calculator import DATA_SOURCE
from maxrl.tasks.calculator.data import problem_rows
from maxrl.tasks.calculator.scorer import compute_score
from maxrl.tasks.calculator.tokenizer import build_tokenizer
from maxrl.tasks.calculator.warm_start import IGNORE, tool_call_text, transcript


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


def test_the_tokenizer_round_trips_any_printable_text_and_keeps_calls_short(tokenizer):
    for text in ("Error: tool 'calculator' failed: ZeroDivisionError: division by zero", tool_call_text(347, 582)):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text and tokenizer.unk_token_id not in ids
    assert len(tokenizer(tool_call_text(347, 582), add_special_tokens=False)["input_ids"]) == 11


def test_train_and_test_problems_are_disjoint():
    rng, taken = random.Random(0), set()
    test, train = problem_rows(50, "test", rng, taken), problem_rows(500, "train", rng, taken)
    pairs = lambda rows: {(r["extra_info"]["a"], r["extra_info"]["b"]) for r in rows}  # noqa: E731
    assert not pairs(test) & pairs(train) and len(pairs(train)) == 500
    assert train[0]["data_source"] == DATA_SOURCE
    a, b = train[0]["extra_info"]["a"], train[0]["extra_info"]["b"]
    assert train[0]["reward_model"]["ground_truth"] == str(a * b)


def test_a_tool_transcript_is_the_episode_the_agent_loop_would_build(tokenizer):
    renderer = TurnRenderer(tokenizer, apply_chat_template=True, tools=[CALCULATOR_SCHEMA])
    ids, labels = transcript(347, 582, True, tokenizer, renderer)
    eos = tokenizer.eos_token_id
    call = tokenizer(tool_call_text(347, 582), add_special_tokens=False)["input_ids"] + [eos]
    inserted = renderer.inserted_ids([{"role": "tool", "content": "201954"}], eos)
    answer = tokenizer("#### 201954", add_special_tokens=False)["input_ids"] + [eos]
    assert ids[len(ids) - len(call + inserted + answer):] == call + inserted + answer
    assert labels[len(ids) - len(call + inserted + answer):] == call + [IGNORE] * len(inserted) + answer
    assert set(labels[: len(ids) - len(call + inserted + answer)]) == {IGNORE}  # the prompt
    direct_ids, direct_labels = transcript(347, 582, False, tokenizer, renderer)
    assert direct_ids[-len(answer):] == answer and direct_labels.count(IGNORE) == len(direct_ids) - len(answer)


def test_only_an_answer_the_model_wrote_scores():
    tool_answer = "<tool_call>...</tool_call>\nuser\n<tool_response>201954</tool_response>\nassistant\n"
    assert compute_score(DATA_SOURCE, tool_answer, "201954")["score"] == 0.0
    assert compute_score(DATA_SOURCE, tool_answer + "#### 201954", "201954") == {"score": 1.0, "acc": 1.0, "pred": "201954"}
    assert compute_score(DATA_SOURCE, "#### 201953", "201954")["score"] == 0.0
    assert default_compute_score(DATA_SOURCE, "#### 12", "12")["score"] == 1.0
