"""Bad reward functions: each one stops the run with a message naming the cause, or is survived and counted.

One scorer file whose behaviour is chosen by ``data_source`` covers every case; managers are built once per
failure policy (a pool start costs about a second).
"""

import multiprocessing
import os
import signal
import textwrap
import time

import numpy as np
import pytest
import torch

from maxrl.data.batch import Batch
from maxrl.rewards import (
    FailurePolicy,
    RewardError,
    build_reward_manager,
    default_compute_score,
    load_custom_score,
)
from maxrl.trainer.scoring import score_batch

SCORER = textwrap.dedent(
    """
    import math
    import time

    def compute_score(data_source, solution_str, ground_truth, extra_info=None):
        behaviours = {
            "raise": lambda: 1 / 0,
            "nan": lambda: math.nan,
            "inf": lambda: math.inf,
            "-inf": lambda: -math.inf,
            "nan-in-dict": lambda: {"score": math.nan, "acc": 1.0},
            "string": lambda: "1.0",
            "none": lambda: None,
            "dict-without-score": lambda: {"acc": 1.0},
            "list": lambda: [1.0],
        }
        if data_source in behaviours:
            return behaviours[data_source]()
        if data_source == "spin":
            while True:
                pass
        if data_source == "sleep":
            time.sleep(600)
        if data_source == "catch-all":  # a scorer that swallows every exception, our interrupt included
            while True:
                try:
                    time.sleep(600)
                except BaseException:
                    pass
        return float(solution_str == ground_truth)
    """
)
LIMIT_S = 1.0


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    path = tmp_path_factory.mktemp("faults") / "scorer.py"
    path.write_text(SCORER)
    return load_custom_score(str(path), "compute_score")


def _manager(scorer, policy=None, **options):
    options = {"num_processes": 1, "chunksize": 4, "per_item_timeout_s": LIMIT_S, **options}
    return build_reward_manager("naive", scorer, policy, **options)


@pytest.fixture(scope="module")
def strict(scorer):
    manager = _manager(scorer)
    yield manager
    manager.close()


@pytest.fixture(scope="module")
def lenient(scorer):
    manager = _manager(scorer, FailurePolicy(invalid_reward="zero", max_failed_fraction=1.0))
    yield manager
    manager.close()


def _score(manager, sources, answers=None):
    answers = answers or ["a"] * len(sources)
    extra = [{"index": 40 + i} for i in range(len(sources))]
    return manager.score(sources, answers, ["a"] * len(sources), extra)


@pytest.mark.parametrize(
    "source, returned",
    [
        ("nan", "returned a non-finite score nan"),
        ("inf", "returned a non-finite score inf"),
        ("-inf", "returned a non-finite score -inf"),
        ("nan-in-dict", "returned a non-finite score nan"),
        ("string", "returned str '1.0' as the score"),
        ("none", "returned NoneType None as the score"),
        ("dict-without-score", "returned a dict without 'score' (keys: ['acc'])"),
        ("list", "returned list [1.0] as the score"),
    ],
)
def test_invalid_return_value_stops_the_run_naming_item_source_and_scorer(strict, scorer, source, returned):
    with pytest.raises(RewardError) as raised:
        _score(strict, ["ok", source, "ok"])
    message = str(raised.value)
    assert f"the scorer custom_reward_function.path={scorer.path} custom_reward_function.name=compute_score" in message
    assert returned in message
    assert f"item 1 of 3 (data_source={source!r}, extra_info.index=41" in message
    assert "reward_model.invalid_reward=zero" in message and raised.value.item == 1


@pytest.mark.parametrize("source", ["nan", "inf", "string", "none", "dict-without-score"])
def test_invalid_reward_zero_scores_the_item_zero_and_counts_it(lenient, source):
    result = _score(lenient, ["ok", source, "ok"])
    np.testing.assert_array_equal(result.scores, [1.0, 0.0, 1.0])
    assert np.isfinite(result.scores).all()
    assert result.metrics["reward/invalid_count"] == 1 and result.metrics["reward/error_count"] == 0


def test_scorer_raising_on_every_item_stops_the_run_with_its_traceback(strict):
    with pytest.raises(RewardError) as raised:
        _score(strict, ["raise"] * 16)
    message = str(raised.value)
    assert "failed on 16 of 16 items" in message and "reward_model.max_failed_fraction=1.0" in message
    assert "item 0 of 16 (data_source='raise', extra_info.index=40" in message
    assert "ZeroDivisionError: division by zero" in message and "Traceback" in message


def test_scorer_raising_on_some_items_is_survived_and_counted(strict):
    result = _score(strict, ["ok", "raise", "ok", "ok"])
    np.testing.assert_array_equal(result.scores, [1.0, 0.0, 1.0, 1.0])
    assert result.metrics["reward/error_count"] == 1


def test_max_failed_fraction_stops_at_the_configured_share(scorer):
    manager = _manager(scorer, FailurePolicy(max_failed_fraction=0.5))
    try:
        assert _score(manager, ["raise", "ok", "ok", "ok"]).metrics["reward/error_count"] == 1
        with pytest.raises(RewardError, match=r"failed on 2 of 4 items .*max_failed_fraction=0.5"):
            _score(manager, ["raise", "ok", "raise", "ok"])
    finally:
        manager.close()


@pytest.mark.parametrize("source", ["spin", "sleep"])
def test_never_returning_item_costs_its_own_limit_and_is_counted(strict, source):
    _score(strict, ["ok"])  # the worker is up
    start = time.monotonic()
    result = _score(strict, ["ok", source, "ok", "ok", "ok", "ok", "ok", "ok"])
    elapsed = time.monotonic() - start
    np.testing.assert_array_equal(result.scores, [1, 0, 1, 1, 1, 1, 1, 1])
    assert result.metrics["reward/timeout_count"] == 1 and result.metrics["reward/error_count"] == 0
    # Interrupted inside the worker at its limit: no chunk kill (4 items x 1 s + grace), no retry.
    assert elapsed < 4.5 * LIMIT_S


def test_item_swallowing_the_interrupt_is_killed_by_the_task_limit(strict):
    result = _score(strict, ["ok", "catch-all"])
    np.testing.assert_array_equal(result.scores, [1, 0])
    assert result.metrics["reward/timeout_count"] == 1
    np.testing.assert_array_equal(_score(strict, ["ok", "ok"]).scores, [1, 1])  # the worker was replaced


def test_worker_killed_while_idle_is_replaced(scorer):
    before = {child.pid for child in multiprocessing.active_children()}
    manager = _manager(scorer)
    try:
        _score(manager, ["ok"])
        (worker,) = [child for child in multiprocessing.active_children() if child.pid not in before]
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=10)
        time.sleep(0.5)  # pebble notices the death and marks its pool broken
        np.testing.assert_array_equal(_score(manager, ["ok", "ok"], ["a", "b"]).scores, [1, 0])
    finally:
        manager.close()


def test_missing_scorer_file_names_the_keys(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"custom reward file .*nowhere.py does not exist; fix custom_reward_function.path="):
        load_custom_score(str(tmp_path / "nowhere.py"), "compute_score")


def test_missing_function_name_lists_the_functions_in_the_file(tmp_path):
    path = tmp_path / "scorer.py"
    path.write_text("def score_it(data_source, solution_str, ground_truth, extra_info=None):\n    return 1.0\n")
    with pytest.raises(AttributeError, match=r"has no function 'compute_score' \(functions in it: \['score_it'\]\)"):
        load_custom_score(str(path), "compute_score")


def test_unparseable_ground_truth_with_the_default_scorer_stops_the_run():
    manager = build_reward_manager("naive", default_compute_score, num_processes=1, per_item_timeout_s=5.0)
    try:
        with pytest.raises(RewardError) as raised:
            manager.score(["openai/gsm8k"] * 2, ["\\boxed{1}"] * 2, ["}}"] * 2, [None] * 2)
    finally:
        manager.close()
    message = str(raised.value)
    assert "maxrl.rewards.default.default_compute_score failed on 2 of 2 items" in message
    assert "math-verify cannot parse the ground truth '}}'" in message


def test_score_batch_names_the_prompt_index_of_an_invalid_reward(strict):
    responses = torch.ones(2, 3, dtype=torch.long)
    batch = Batch(
        {"responses": responses, "response_mask": torch.ones(2, 3, dtype=torch.long),
         "attention_mask": torch.ones(2, 3, dtype=torch.long)},
        {"data_source": ["ok", "nan"], "ground_truth": ["a", "a"], "extra_info": [{}, {}], "index": [7, 12]},
    )

    class Tokenizer:
        def decode(self, ids, skip_special_tokens=True):
            return "a"

    with pytest.raises(RewardError, match=r"returned a non-finite score nan.*\n\(that sample's prompt has index 12"):
        score_batch(batch, Tokenizer(), strict)
