"""The process-pool reward manager: order, parity with in-process scoring, time limits, crashes, zeroing."""

import textwrap
import threading

import numpy as np
import pytest

from maxrl.rewards import (
    FailurePolicy,
    RewardError,
    build_reward_manager,
    default_compute_score,
    load_custom_score,
)

# Behaviour chosen by data_source, so one file covers every failure the manager must survive.
SCORER_FILE = textwrap.dedent(
    """
    import os
    import time

    def compute_score(data_source, solution_str, ground_truth, extra_info=None):
        if data_source == "hang":
            while True:
                pass
        if data_source == "raise":
            raise RuntimeError("scorer bug")
        if data_source == "exit":
            os._exit(3)
        if data_source == "slow":
            time.sleep(1.3)  # finishes, but past the 1 s limit
        if data_source == "bad":
            return "not a score"
        return {"score": float(solution_str == ground_truth), "echo": solution_str, "length": len(solution_str)}
    """
)


@pytest.fixture(scope="module")
def file_manager(tmp_path_factory):
    path = tmp_path_factory.mktemp("scorer") / "scorer.py"
    path.write_text(SCORER_FILE)
    manager = build_reward_manager(
        "multi_thread",
        load_custom_score(str(path), "compute_score"),
        FailurePolicy(invalid_reward="zero"),  # the malformed item is counted here, not fatal
        num_reward_actors=2,
        batch_size=4,
        per_item_timeout_s=1.0,
        per_batch_timeout_s=2.0,
        poll_interval_s=0.05,
        zero_reward_on_max_response_length=True,
        max_resp_len=10,
    )
    yield manager
    manager.close()


@pytest.fixture(scope="module")
def default_manager():
    manager = build_reward_manager("prime", default_compute_score, num_processes=1, per_item_timeout_s=5.0)
    yield manager
    manager.close()


def _score(manager, sources, responses, truths, lengths=None):
    lengths = [1] * len(responses) if lengths is None else lengths
    return manager.score(sources, responses, truths, [None] * len(responses), lengths)


def test_hanging_raising_crashing_slow_and_malformed_items_score_zero_and_are_counted(file_manager):
    sources = ["ok", "hang", "ok", "raise", "exit", "ok", "slow", "bad", "ok"]
    responses = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
    truths = ["a", "b", "x", "d", "e", "f", "g", "h", "i"]
    result = _score(file_manager, sources, responses, truths)
    np.testing.assert_array_equal(result.scores, [1, 0, 0, 0, 0, 1, 0, 0, 1])
    assert result.metrics["reward/timeout_count"] == 2  # hang and slow, each stopped at its own limit
    assert result.metrics["reward/error_count"] == 2  # raise and exit (worker died)
    assert result.metrics["reward/invalid_count"] == 1  # bad return value
    assert list(result.extras["echo"]) == ["a", None, "c", None, None, "f", None, None, "i"]
    np.testing.assert_array_equal(result.extras["length"], [1, 0, 1, 0, 0, 1, 0, 0, 1])
    # The killed and crashed workers were replaced: the pool keeps working.
    again = _score(file_manager, ["ok"] * 3, ["p", "q", "r"], ["p", "x", "r"])
    np.testing.assert_array_equal(again.scores, [1, 0, 1])
    assert again.metrics["reward/timeout_count"] == again.metrics["reward/error_count"] == 0
    assert again.metrics["reward/invalid_count"] == 0


def test_time_limit_holds_when_called_from_a_thread(file_manager):
    results = {}
    thread = threading.Thread(
        target=lambda: results.update(result=_score(file_manager, ["hang", "ok"], ["a", "b"], ["a", "b"]))
    )
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    np.testing.assert_array_equal(results["result"].scores, [0, 1])
    assert results["result"].metrics["reward/timeout_count"] == 1


def test_two_thousand_items_from_two_threads_come_back_in_input_order(file_manager):
    count = 2000
    truths = [f"answer-{i}" for i in range(count)]
    expected = np.array([float(i % 3 != 0) for i in range(count)])
    calls = {
        name: [truth if i % 3 else f"wrong-{name}-{i}" for i, truth in enumerate(truths)]
        for name in ("x", "y")
    }
    results = {}

    def run(name):
        results[name] = _score(file_manager, ["ok"] * count, calls[name], truths)

    threads = [threading.Thread(target=run, args=(name,)) for name in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for name, responses in calls.items():
        np.testing.assert_array_equal(results[name].scores, expected)
        assert list(results[name].extras["echo"]) == responses
        assert (
            results[name].metrics["reward/timeout_count"] == results[name].metrics["reward/error_count"] == 0
        )


def test_responses_at_max_length_score_zero_without_being_scored(file_manager):
    result = _score(
        file_manager, ["ok", "ok", "hang", "ok"], ["a", "b", "c", "d"], ["a", "b", "c", "d"], [3, 10, 12, 9]
    )
    np.testing.assert_array_equal(result.scores, [1, 0, 0, 1])
    np.testing.assert_array_equal(result.extras["zeroed_by_max_response_length"], [0, 1, 1, 0])
    assert list(result.extras["echo"]) == ["a", None, None, "d"]
    assert result.metrics["reward/zeroed_by_max_response_length"] == 2
    assert result.metrics["reward/timeout_count"] == 0  # the hanging item was never run
    with pytest.raises(ValueError, match="response_lengths"):
        file_manager.score(["ok"], ["a"], ["a"], [None])


def test_pool_scores_match_in_process_scores(default_manager):
    from maxrl.tasks.maze import encode_maze, generate_maze, split_sequence

    mazes = [encode_maze(generate_maze(7, np.random.default_rng(seed))) for seed in range(3)]
    items = [("maze_7", split_sequence(m)[1], m) for m in mazes] + [("maze_7", "DOWN DONE", m) for m in mazes]
    math = ["\\boxed{12}", "12", "The answer is 13", "no idea", "$\\frac{24}{2}$", "\\boxed{1,2}"]
    items += [(source, response, "12") for source in ("openai/gsm8k", "aime25") for response in math]
    sources, responses, truths = (list(column) for column in zip(*items))
    result = _score(default_manager, sources, responses, truths)
    expected = [default_compute_score(*item) for item in items]
    np.testing.assert_array_equal(result.scores, [value["score"] for value in expected])
    assert result.scores.sum() == 3 + 2 * 3
    math_rows = [i for i, source in enumerate(sources) if source != "maze_7"]
    assert [result.extras["pred"][i] for i in math_rows] == [expected[i]["pred"] for i in math_rows]
    np.testing.assert_array_equal(result.extras["optimal"][:3], [1, 1, 1])


def test_deeply_nested_latex_is_stopped_by_the_time_limit(default_manager):
    depth = 40  # sympy needs minutes to simplify this; math-verify's own timeout is off
    nested = "\\boxed{" + "\\frac{1}{" * depth + "2" + "}" * depth + "}"
    result = _score(default_manager, ["openai/gsm8k"], [nested], ["3"])  # wrong: no quick match
    assert result.scores[0] == 0 and result.metrics["reward/timeout_count"] == 1
    assert result.extras == {}


def test_unknown_data_source_fails_before_any_scoring(default_manager):
    with pytest.raises(ValueError, match="no default scorer for data_source 'mystery'"):
        _score(default_manager, ["openai/gsm8k", "mystery"], ["1", "2"], ["1", "2"])


def test_closed_manager_refuses_work():
    manager = build_reward_manager("naive", default_compute_score, num_processes=1)
    manager.close()
    manager.close()
    with pytest.raises(RuntimeError, match="closed"):
        _score(manager, ["openai/gsm8k"], ["1"], ["1"])


def test_workers_that_cannot_load_the_scorer_raise_a_clear_error(tmp_path):
    path = tmp_path / "moved.py"
    path.write_text("def compute_score(data_source, solution_str, ground_truth, extra_info=None):\n    return 1.0\n")
    scorer = load_custom_score(str(path), "compute_score")
    path.unlink()  # the workers re-import the file: they cannot start
    manager = build_reward_manager("prime", scorer, num_processes=1)
    try:
        with pytest.raises(RewardError, match="(?s)cannot load the scorer custom_reward_function.path=.*FileNotFoundError: custom reward file"):
            _score(manager, ["x"], ["a"], ["a"])
    finally:
        manager.close()
