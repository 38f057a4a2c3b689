"""Start-up checks: custom scorer files and reward manager names/kwargs fail early with the key to fix."""

import pickle
import textwrap

import pytest

from maxrl.rewards import MANAGER_OPTIONS, FileScorer, load_custom_score
from maxrl.rewards.registry import manager_parameters


@pytest.fixture
def scorer_file(tmp_path):
    path = tmp_path / "my_reward.py"
    path.write_text(
        textwrap.dedent(
            """
            THRESHOLD = 3

            def compute_score(data_source, solution_str, ground_truth, extra_info=None):
                return {"score": float(len(solution_str) >= THRESHOLD), "source": data_source}

            def two_arguments(solution_str, ground_truth):
                return 1.0

            def flexible(**kwargs):
                return 0.5
            """
        )
    )
    return path


def test_custom_scorer_is_called_with_verl_keywords_and_survives_pickling(scorer_file):
    scorer = load_custom_score(str(scorer_file), "compute_score")
    assert scorer("src", "abcd", "x") == {"score": 1.0, "source": "src"}
    clone = pickle.loads(pickle.dumps(scorer))  # what a reward worker receives
    assert isinstance(clone, FileScorer) and clone("src", "ab", "x") == {"score": 0.0, "source": "src"}
    assert load_custom_score(str(scorer_file), "flexible")("s", "r", "g") == 0.5


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        (
            "missing",
            AttributeError,
            r"has no function 'missing' \(functions in it: \['compute_score', 'flexible'",
        ),
        ("THRESHOLD", TypeError, "'THRESHOLD' is a int, not a function"),
        ("two_arguments", TypeError, "cannot be called as two_arguments\\(data_source=, solution_str="),
    ],
)
def test_custom_scorer_errors_name_the_config_keys(scorer_file, name, error, message):
    with pytest.raises(error, match=message) as raised:
        load_custom_score(str(scorer_file), name)
    assert f"custom_reward_function.path={scorer_file}" in str(raised.value)
    assert f"custom_reward_function.name={name}" in str(raised.value)


def test_custom_scorer_missing_or_broken_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; fix custom_reward_function.path="):
        load_custom_score(str(tmp_path / "nope.py"), "compute_score")
    broken = tmp_path / "broken.py"
    broken.write_text("import not_a_module_anywhere\n")
    with pytest.raises(ImportError, match="importing custom reward file .*broken.py failed"):
        load_custom_score(str(broken), "compute_score")
    with pytest.raises(ValueError, match="custom_reward_function.path is empty"):
        load_custom_score("", "compute_score")


def test_manager_names_share_one_implementation_and_differ_in_kwargs_and_defaults():
    assert set(MANAGER_OPTIONS) == {"naive", "prime", "multi_thread"}
    paper_multi_thread = manager_parameters(
        "multi_thread",
        {"num_reward_actors": 64, "zero_reward_on_max_response_length": True, "max_resp_len": 2048},
    )
    assert paper_multi_thread == {
        "num_workers": 64,
        "chunk_size": 8,
        "in_flight_chunks_per_worker": 4,
        "per_item_timeout_s": 1.0,
        "chunk_timeout_s": 10.0,
        "poll_interval_s": 0.5,
        "timeout_score": 0.0,
        "zero_reward_on_max_response_length": True,
        "max_resp_len": 2048,
    }
    paper_prime = manager_parameters("prime", {"num_processes": 64, "chunksize": 64})
    assert paper_prime["num_workers"] == 64 and paper_prime["chunk_size"] == 64
    assert manager_parameters("naive", {})["num_workers"] >= 1  # all available cores
    assert manager_parameters("multi_thread", {"num_reward_actors": "auto"})["num_workers"] >= 1


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        (
            "gsm8k",
            {},
            r"reward_model.reward_manager='gsm8k' is not a reward manager; choose one of \['multi_thread'",
        ),
        (
            "prime",
            {"num_reward_actors": 4},
            r"reward_model.reward_kwargs.num_reward_actors not accepted by reward",
        ),
        ("multi_thread", {"chunksize": 4}, r"reward_model.reward_kwargs.chunksize not accepted"),
        (
            "naive",
            {"num_processes": 0},
            r"reward_model.reward_kwargs.num_processes=0: expected a positive integer",
        ),
        ("multi_thread", {"per_item_timeout_s": -1}, r"per_item_timeout_s=-1: expected a positive number"),
        ("prime", {"zero_reward_on_max_response_length": "yes"}, r"=\'yes\': expected true or false"),
        (
            "prime",
            {"zero_reward_on_max_response_length": True},
            r"needs reward_model.reward_kwargs.max_resp_len",
        ),
        ("naive", {"timeout_score": "low"}, r"timeout_score='low': expected a finite number"),
    ],
)
def test_bad_manager_config_names_the_key(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        manager_parameters(name, kwargs)
