"""Bad configs: each is refused by the one validation pass before anything starts, naming the key or file."""

import pandas as pd
import pytest

from maxrl.config import compose_config
from maxrl.config.checks import ConfigError, check_config


def _rows(sources):
    return pd.DataFrame(
        {
            "data_source": sources,
            "prompt": [[{"role": "user", "content": "x"}]] * len(sources),
            "reward_model": [{"style": "rule", "ground_truth": "1"}] * len(sources),
        }
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A model folder (the checks read only its config.json), good data, data with unknown sources, a scorer."""
    root = tmp_path_factory.mktemp("config_faults")
    (root / "model").mkdir()
    (root / "model" / "config.json").write_text("{}")
    _rows(["maze_5", "openai/gsm8k"]).to_parquet(root / "good.parquet")
    _rows(["maze_5", "maze_5", "gsm8k", "gsm8k"]).to_parquet(root / "typo.parquet")
    (root / "folder").mkdir()
    _rows(["maze_5"]).to_parquet(root / "folder" / "train.parquet")
    (root / "scorer.py").write_text("def compute_score(data_source, solution_str, ground_truth, extra_info=None):\n    return 1.0\n")
    return root


def overrides(root, *extra):
    return [
        f"actor_rollout_ref.model.path={root / 'model'}",
        f"data.train_files={root / 'good.parquet'}",
        f"data.val_files={root / 'good.parquet'}",
        "data.train_batch_size=2",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2",
        "actor_rollout_ref.rollout.n=2",
        "trainer.device=cpu",
        *extra,
    ]


def problems(root, *extra):
    try:
        check_config(compose_config(overrides(root, *extra)))
    except ConfigError as error:
        return error.problems
    return []


def test_the_base_config_is_valid(root):
    assert problems(root) == []


CASES = {
    "train-file-is-a-directory": (
        ["data.train_files={root}/folder"],
        "data.train_files: {root}/folder is a directory, give a parquet file (parquet files in it: ['train.parquet'])",
    ),
    "val-file-missing": (["data.val_files={root}/nowhere.parquet"], "data.val_files: file {root}/nowhere.parquet not found"),
    "unknown-data-source-in-train": (
        ["data.train_files={root}/typo.parquet"],
        "data.train_files: {root}/typo.parquet, row 2, column 'data_source': no default scorer for data_source "
        "'gsm8k' (2 rows). did you mean 'openai/gsm8k'? Fix the column, or score it with your own function: "
        "custom_reward_function.path=<file.py>",
    ),
    "unknown-data-source-in-val": (
        ["data.val_files=[{root}/good.parquet,{root}/typo.parquet]"],
        "data.val_files: {root}/typo.parquet, row 2, column 'data_source': no default scorer for data_source 'gsm8k'",
    ),
    "temperature-0-with-sampling": (
        ["actor_rollout_ref.rollout.temperature=0"],
        "actor_rollout_ref.rollout.temperature=0 with actor_rollout_ref.rollout.do_sample=true: sampling needs a "
        "temperature > 0; set actor_rollout_ref.rollout.do_sample=false for greedy decoding",
    ),
    "val-temperature-0-with-sampling": (
        ["actor_rollout_ref.rollout.val_kwargs.do_sample=true"],  # val_kwargs.temperature defaults to 0
        "actor_rollout_ref.rollout.val_kwargs.temperature=0 with actor_rollout_ref.rollout.val_kwargs.do_sample=true",
    ),
    "plus-key-misspelt": (
        ["+actor_rollout_ref.rollout.mirco_batch_size=8"],
        "+actor_rollout_ref.rollout.mirco_batch_size: no such key, and nothing reads it; did you mean "
        "actor_rollout_ref.rollout.micro_batch_size?",
    ),
    "plus-key-in-a-fixed-section": (["+trainer.eval_every=5"], "+trainer.eval_every: no such key, and nothing reads it"),
    "plus-knob-the-estimator-does-not-take": (
        ["+algorithm.floor=0.1"],
        "+algorithm.floor: no such key, and nothing reads it; Keys can be added with + only under",
    ),
    "plus-manager-option-misspelt": (
        ["+reward_model.reward_kwargs.num_proceses=2"],
        "reward_model.reward_kwargs.num_proceses not accepted by reward manager 'naive'",
    ),
    "invalid-reward-mode": (["reward_model.invalid_reward=ignore"], "reward_model.invalid_reward='ignore' must be one of ['error', 'zero']"),
    "failed-fraction-out-of-range": (["reward_model.max_failed_fraction=2"], "reward_model.max_failed_fraction=2 must be a number in [0, 1]"),
    "timeout-score-nan": (["+reward_model.reward_kwargs.timeout_score=nan"], "reward_model.reward_kwargs.timeout_score=nan: expected a finite number"),
    "truncation-mode-unknown": (["data.truncation=center"], "data.truncation='center' must be one of ['error', 'left', 'right', 'middle']"),
    "scorer-file-missing": (["custom_reward_function.path={root}/nowhere.py"], "custom_reward_function.path='{root}/nowhere.py': file not found"),
    "scorer-function-missing": (
        ["custom_reward_function.path={root}/scorer.py", "custom_reward_function.name=score"],
        "has no function 'score' (functions in it: ['compute_score'])",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_config_is_refused_naming_the_cause(root, case):
    extra, expected = CASES[case]
    found = problems(root, *(override.format(root=root) for override in extra))
    assert any(expected.format(root=root) in problem for problem in found), found


@pytest.mark.parametrize(
    "extra",
    [
        ["data.train_files={root}/typo.parquet", "custom_reward_function.path={root}/scorer.py"],
        ["+actor_rollout_ref.rollout.micro_batch_size=8"],
        ["+actor_rollout_ref.model.override_config.rms_norm_eps=1e-5"],
        ["+reward_model.reward_kwargs.num_processes=2"],
        ["+algorithm.epsilon=1e-4"],  # a keyword argument of the maxrl estimator
        ["actor_rollout_ref.rollout.temperature=0", "actor_rollout_ref.rollout.do_sample=false"],
        ["data.truncation=middle"],
    ],
    ids=[
        "unknown-source-with-custom-scorer",
        "plus-key-the-rollout-reads",
        "plus-key-in-free-form-override-config",
        "plus-manager-option",
        "plus-knob-of-the-chosen-estimator",
        "greedy-with-temperature-0",
        "truncation-middle",
    ],
)
def test_accepted_inputs_stay_accepted(root, extra):
    assert problems(root, *(override.format(root=root) for override in extra)) == []
