"""The scorers called in-process: math-verify answers, routing by data_source, the maze route."""

import pytest

from maxrl.rewards import check_data_sources, default_compute_score, known_data_sources
from maxrl.rewards.math_verify_score import compute_score as math_score


@pytest.mark.parametrize(
    ("response", "gold", "pred"),
    [
        ("So she has \\boxed{42} apples.", "42", "42"),
        ("The final answer is 42", "42", "42"),  # unboxed plain expression
        ("$\\boxed{\\frac{1}{2}}$", "0.5", "\\frac{1}{2}"),
        ("x = 1/2", "\\frac{1}{2}", "1/2"),
        ("\\boxed{1,234}", "1234", "1,234"),
        ("\\boxed{x^2+2x+1}", "(x+1)^2", "x^2+2x+1"),
        ("First 5, then \\boxed{7}. So the answer is 5.", "7", "7"),  # boxed content comes first
    ],
)
def test_math_right_answers_score_one_and_report_the_extracted_answer(response, gold, pred):
    assert math_score("openai/gsm8k", response, gold) == {"score": 1.0, "acc": 1.0, "pred": pred}


@pytest.mark.parametrize(
    ("response", "gold", "pred"),
    [("\\boxed{43}", "42", "43"), ("The answer is 41", "42", "41"), ("\\boxed{x^2+1}", "(x+1)^2", "x^2+1")],
)
def test_math_wrong_answers_score_zero(response, gold, pred):
    assert math_score("openai/gsm8k", response, gold) == {"score": 0.0, "acc": 0.0, "pred": pred}


@pytest.mark.parametrize(
    "response", ["", "I do not know.", "\\boxed{", "}}{{\\frac", "\x00\xff\ufffd", "\\boxed{}"]
)
def test_math_unparseable_answers_score_zero_with_empty_pred(response):
    assert math_score("openai/gsm8k", response, "42") == {"score": 0.0, "acc": 0.0, "pred": ""}


def test_math_very_long_response_finds_the_final_boxed_answer():
    response = "Let me think. " * 5000 + "Therefore \\boxed{7}."
    assert math_score("polaris", response, "7")["score"] == 1.0
    assert math_score("polaris", response, "8")["score"] == 0.0


def test_math_very_long_expression_is_judged_not_crashed():
    response = "+".join(["1"] * 300)  # parsed as the plain expression 300
    assert math_score("polaris", response, "300")["score"] == 1.0
    assert math_score("polaris", response, "299")["score"] == 0.0


def test_math_deeply_nested_latex_is_judged():
    depth = 10  # 1/(1/(...(1/2))) with an even number of inversions equals 2
    response = "\\boxed{" + "\\frac{1}{" * depth + "2" + "}" * depth + "}"
    assert math_score("aime25", response, "2")["score"] == 1.0
    assert math_score("aime25", response, "\\frac{1}{2}")["score"] == 0.0


def test_math_unreadable_gold_is_an_error_not_a_zero():
    with pytest.raises(ValueError, match="cannot parse the ground truth"):
        math_score("openai/gsm8k", "\\boxed{1}", "")


@pytest.mark.parametrize(
    "source",
    [
        "openai/gsm8k",
        "DigitalLearningGmbH/MATH-lighteval",
        "polaris",
        "aime25",
        "aime_2024",
        "beyondaime",
        "minerva",
        "reasoning_gym/gsm_symbolic",
        "deepmath-103k-hard",
    ],
)
def test_math_sources_route_to_math_verify(source):
    assert default_compute_score(source, "\\boxed{12}", "12") == {"score": 1.0, "acc": 1.0, "pred": "12"}


def test_unknown_source_error_lists_known_sources_and_the_custom_scorer_keys():
    with pytest.raises(ValueError) as error:
        default_compute_score("my/new_set", "\\boxed{1}", "1")
    message = str(error.value)
    assert "'my/new_set'" in message and "openai/gsm8k" in message and "maze*" in message
    assert "custom_reward_function.path" in message and "custom_reward_function.name" in message
    with pytest.raises(ValueError, match="'other'"):
        check_data_sources(["openai/gsm8k", "other"])
    check_data_sources(["openai/gsm8k", "maze_17", "aime25"])
    assert "aime*" in known_data_sources()


def test_maze_sources_route_to_the_maze_verifier():
    import numpy as np

    from maxrl.tasks.maze import compute_score as maze_score
    from maxrl.tasks.maze import encode_maze, generate_maze, split_sequence

    sequence = encode_maze(generate_maze(7, np.random.default_rng(3)))
    solution = split_sequence(sequence)[1]
    wrong = "UP DONE"  # the start (1, 1) has a wall above it
    assert default_compute_score("maze_7", solution, sequence) == maze_score(solution, sequence)
    assert default_compute_score("maze_7", solution, sequence)["score"] == 1.0
    assert default_compute_score("maze_7", wrong, sequence)["score"] == 0.0


def test_math_verify_does_not_warn_that_its_timeout_is_disabled(monkeypatch, caplog):
    """The per-item time limit of the reward manager is the timeout: math-verify's once-per-process warning
    that its own is disabled would only mislead (it printed two lines at the start of every run)."""
    import math_verify.grader
    import math_verify.parser

    monkeypatch.setattr(math_verify.parser, "TIMEOUT_WARNING_SHOWN", False)
    monkeypatch.setattr(math_verify.grader, "TIMEOUT_WARNING_SHOWN", False)
    with caplog.at_level("WARNING"):
        assert math_score("math", "so $\\boxed{2}$", "2")["score"] == 1.0
    assert not [record for record in caplog.records if "Timeout is disabled" in record.getMessage()]
