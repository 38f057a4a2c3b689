"""Builders shared by the tests that run the trainer end to end on tiny 7x7 mazes.

Importable as ``from maze_runs import ...`` from any test under ``tests/``: pytest puts ``tests/`` on
``sys.path`` when it loads ``tests/conftest.py`` (no ``__init__.py`` files, ``prepend`` import mode).
"""

import pandas as pd

from maxrl.tasks.maze import build_tokenizer
from maxrl.tasks.maze.make_data import main as make_maze_data
from maxrl.trainer.tracking import read_metrics
from maxrl.utils.tiny_models import build_tiny_causal_lm

# A scorer with a signal for an untrained model: reward a response whose first move is DOWN.
FIRST_WORD_DOWN_SCORER = '''
def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    words = solution_str.split()
    return {"score": float(bool(words) and words[0] == "DOWN"), "pred": words[0] if words else ""}
'''

EVEN_WORD_COUNT_SCORER = '''
def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    return float(len(solution_str.split()) % 2 == 0)  # about half the samples of an untrained model
'''

# Metrics that differ between two runs of the same config: wall-clock timings and throughputs.
NOT_REPRODUCIBLE = ("timing_s/", "timing_per_token_ms/", "perf/throughput", "perf/time_per_step", "perf/gen_tokens_per_s")


def make_workspace(root, scorer, train_rows, model_kwargs=None):
    """Under `root`: 7x7 maze data in ``data/`` (40 mazes, 4 for test, the first `train_rows` training
    rows kept), the maze tokenizer and a tiny causal LM in ``model/`` (`model_kwargs` go to
    `build_tiny_causal_lm`), and `scorer` (a ``compute_score`` source) in ``scorer.py``. Returns `root`."""
    make_maze_data(["--output-dir", str(root / "data"), "--size", "7", "--num-mazes", "40", "--test-size", "4",
                    "--formats", "parquet", "--no-progress"])
    train = root / "data" / "train.parquet"
    pd.read_parquet(train).head(train_rows).to_parquet(train)
    tokenizer = build_tokenizer(save_dir=root / "model")
    build_tiny_causal_lm(len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         save_dir=root / "model", **(model_kwargs or {}))
    (root / "scorer.py").write_text(scorer)
    return root


def base_overrides(workspace, run_dir, *, response_length=12, with_val=True):
    """The Hydra overrides every maze run shares: the workspace's data, model and scorer, fp32 on CPU,
    metrics to a file in `run_dir`. With `with_val`, the test split validates, sampling at temperature 1."""
    return [
        f"data.train_files={workspace / 'data' / 'train.parquet'}",
        f"data.val_files={workspace / 'data' / 'test.parquet'}" if with_val else "data.val_files=null",
        "data.train_batch_size=4", "data.max_prompt_length=64", f"data.max_response_length={response_length}",
        "data.apply_chat_template=False",
        f"actor_rollout_ref.model.path={workspace / 'model'}",
        "actor_rollout_ref.actor.dtype=fp32", "actor_rollout_ref.rollout.dtype=fp32",
        *(("actor_rollout_ref.rollout.val_kwargs.do_sample=True",
           "actor_rollout_ref.rollout.val_kwargs.temperature=1.0") if with_val else ()),
        f"custom_reward_function.path={workspace / 'scorer.py'}",
        "+reward_model.reward_kwargs.num_processes=1",
        "trainer.device=cpu", "trainer.logger=[file]",
        f"trainer.default_local_dir={run_dir}",
    ]


def override_list(*overrides):
    """`overrides` with each key once: a later ``key=value`` replaces an earlier one of the same key in its
    place (Hydra itself keeps the last of two plain settings without a word, and refuses two ``+key=``)."""
    by_key = {}
    for override in overrides:
        by_key[override.split("=", 1)[0].lstrip("+")] = override
    return list(by_key.values())


def reproducible(row, drop=()):
    """`row` without the metrics in `NOT_REPRODUCIBLE` and those whose names start with one of `drop`."""
    return {key: value for key, value in row.items() if not key.startswith(NOT_REPRODUCIBLE + tuple(drop))}


def metrics_by_step(run_dir):
    """The run's metric rows by step."""
    return {row["step"]: row for row in read_metrics(run_dir)}


def reproducible_by_step(run_dir):
    """The run's metric rows by step, each as `reproducible` gives it."""
    return {row["step"]: reproducible(row) for row in read_metrics(run_dir)}
