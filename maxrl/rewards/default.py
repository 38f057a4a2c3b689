"""``default_compute_score``: the scorer chosen by a row's ``data_source`` (docs/data_and_rewards.md, Scorers).

Math sources go to math-verify, the short-answer reasoning-gym presets to their last number
(``final_number``) and ``maze*`` sources to the maze verifier. A source nobody registered is an
error, never a silent zero: a typo in a parquet file's ``data_source`` would otherwise look like a model that
never learns. Scorer modules are imported on first use, so a maze run never loads sympy.
"""

from __future__ import annotations

import difflib

#: Exact ``data_source`` values scored by math-verify (the paper's list plus the sets prepared here).
MATH_SOURCES = (
    "openai/gsm8k",
    "madrylab/gsm8k-platinum",
    "lighteval/MATH",
    "DigitalLearningGmbH/MATH-lighteval",
    "HuggingFaceH4/MATH-500",
    "math_dapo",
    "amc23",
    "polaris",
    "openr1",
    "minerva",
    "olympiadbench",
    "simplelr_qwen",
    "beyondaime",
    "hmmt_feb_2025",
    "hmmt_nov_2025",
    "jeebench",
    "reasoning_gym/gsm_symbolic",
)
#: Exact ``data_source`` values scored by their last number (maxrl.rewards.final_number): the short-answer
#: presets of maxrl.data.reasoning_gym_tasks, where math-verify would accept the question's own expression.
FINAL_NUMBER_SOURCES = (
    "reasoning_gym/basic_arithmetic",
    "reasoning_gym/chain_sum",
    "reasoning_gym/products",
    "reasoning_gym/simple_equations",
    "reasoning_gym/leg_counting",
    "reasoning_gym/count_bits",
    "reasoning_gym/letter_counting",
)
#: ``data_source`` prefixes scored by math-verify.
MATH_PREFIXES = ("aime", "dapo", "deepmath-103k")
#: ``data_source`` prefixes scored by the maze verifier (``maze_attempts``: its last attempt, multi-turn).
MAZE_PREFIXES = ("maze",)
MAZE_ATTEMPTS_PREFIX = "maze_attempts"
#: ``data_source`` prefixes of the calculator tool task (``maxrl.tasks.calculator``).
CALCULATOR_PREFIXES = ("calculator",)


def _math_score(data_source, solution_str, ground_truth, extra_info):
    from maxrl.rewards import math_verify_score

    return math_verify_score.compute_score(data_source, solution_str, ground_truth, extra_info)


def _final_number_score(data_source, solution_str, ground_truth, extra_info):
    from maxrl.rewards import final_number

    return final_number.compute_score(data_source, solution_str, ground_truth, extra_info)


def _maze_score(data_source, solution_str, ground_truth, extra_info):
    if data_source.startswith(MAZE_ATTEMPTS_PREFIX):
        from maxrl.tasks.maze.attempts import compute_attempts_score

        return compute_attempts_score(solution_str, ground_truth, extra_info)
    from maxrl.tasks.maze import compute_score

    return compute_score(solution_str, ground_truth, extra_info)


def _calculator_score(data_source, solution_str, ground_truth, extra_info):
    from maxrl.tasks.calculator.scorer import compute_score

    return compute_score(data_source, solution_str, ground_truth, extra_info)


def known_data_sources() -> list[str]:
    """Every ``data_source`` pattern the default scorer accepts (``*`` marks a prefix)."""
    prefixes = [f"{prefix}*" for prefix in MATH_PREFIXES + MAZE_PREFIXES + CALCULATOR_PREFIXES]
    return sorted(MATH_SOURCES + FINAL_NUMBER_SOURCES) + sorted(prefixes)


def has_default_scorer(data_source) -> bool:
    return isinstance(data_source, str) and (
        data_source.startswith(MAZE_PREFIXES + MATH_PREFIXES + CALCULATOR_PREFIXES)
        or data_source in MATH_SOURCES + FINAL_NUMBER_SOURCES
    )


def closest_known_source(data_source) -> str | None:
    """The known data source (or prefix) a misspelt one most resembles, for a "did you mean" hint."""
    candidates = list(MATH_SOURCES + FINAL_NUMBER_SOURCES)
    candidates += [prefix + "*" for prefix in MATH_PREFIXES + MAZE_PREFIXES + CALCULATOR_PREFIXES]
    found = difflib.get_close_matches(str(data_source), candidates, n=1, cutoff=0.5)
    if not found:  # "gsm8k" for "openai/gsm8k": compare with the part after the last slash too
        tails = {source.rsplit("/", 1)[-1]: source for source in MATH_SOURCES}
        found = [tails[tail] for tail in difflib.get_close_matches(str(data_source), list(tails), n=1, cutoff=0.7)]
    return found[0] if found else None


def route(data_source: str):
    """The scorer function for one ``data_source``; ValueError listing the known ones if there is none."""
    if data_source in FINAL_NUMBER_SOURCES:
        return _final_number_score
    if has_default_scorer(data_source):
        if data_source.startswith(CALCULATOR_PREFIXES):
            return _calculator_score
        return _maze_score if data_source.startswith(MAZE_PREFIXES) else _math_score
    raise ValueError(
        f"no default scorer for data_source {data_source!r}. Known data sources: "
        f"{', '.join(known_data_sources())}. To score another source, write a function "
        "compute_score(data_source, solution_str, ground_truth, extra_info=None) in a Python file and set "
        "custom_reward_function.path=<file> custom_reward_function.name=<function>."
    )


def default_compute_score(data_source: str, solution_str: str, ground_truth, extra_info: dict | None = None):
    """verl scorer signature: score one decoded response with the scorer of its ``data_source``."""
    return route(data_source)(data_source, solution_str, ground_truth, extra_info)


def _warm_up() -> None:
    """Import every route's scorer and prime math-verify, so no item's time limit pays for it."""
    import maxrl.rewards.final_number  # noqa: F401
    import maxrl.tasks.calculator.scorer  # noqa: F401
    import maxrl.tasks.maze  # noqa: F401
    import maxrl.tasks.maze.attempts  # noqa: F401
    from maxrl.rewards import math_verify_score

    math_verify_score.warm_up()


# Called once per reward-manager worker (see maxrl.rewards.worker.install_scorer).
default_compute_score.warm_up = _warm_up


def check_data_sources(data_sources) -> None:
    """Raise the routing error for the first unknown source: call it on a data set before training starts."""
    for data_source in dict.fromkeys(data_sources):
        route(data_source)
