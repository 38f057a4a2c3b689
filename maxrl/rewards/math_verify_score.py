"""Math answers judged by math-verify: the scorer of every math data set (docs/data_and_rewards.md, Scorers).

The gold answer is wrapped in ``\\boxed{}`` and read with LaTeX extraction only; the response is read with
LaTeX and plain-expression extraction, boxed content first, so a correct but unboxed final expression still
scores. math-verify's own timeouts are switched off because they rely on ``signal.alarm``, which fails outside
a process's main thread; the reward manager bounds the time of each item instead (a scorer left without that
bound can run for minutes on adversarial input such as deeply nested fractions). math-verify warns once per
process that its timeout is disabled; that warning is dropped here, since the per-item bound is the timeout.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

GOLD_EXTRACTION = (LatexExtractionConfig(),)
ANSWER_EXTRACTION = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())
FLOAT_ROUNDING = 6
DISABLED_TIMEOUT_WARNING = "Timeout is disabled"


def _not_the_disabled_timeout_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(DISABLED_TIMEOUT_WARNING)


for _module in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_module).addFilter(_not_the_disabled_timeout_warning)


def extract_answer(solution_str: str) -> tuple[list, str]:
    """The parsed candidates of a response and the answer text they came from ("" when nothing parsed)."""
    parsed = parse(solution_str, ANSWER_EXTRACTION, parsing_timeout=None)
    text = next((item for item in parsed if isinstance(item, str)), "")
    return parsed, text


@lru_cache(maxsize=4096)
def parse_gold(ground_truth: str) -> list:
    """The parsed gold answer, cached: RL scores many responses to each problem. An answer math-verify
    cannot read is a data error, not a wrong response."""
    gold = parse(f"\\boxed{{{ground_truth}}}", GOLD_EXTRACTION, parsing_timeout=None)
    if not gold:
        raise ValueError(f"math-verify cannot parse the ground truth {ground_truth!r}")
    return gold


def compute_score(data_source: str, solution_str: str, ground_truth, extra_info: dict | None = None) -> dict:
    """verl scorer signature. Returns ``score`` and ``acc`` (1.0 if equivalent to the gold answer, else
    0.0) and ``pred`` (the extracted answer text, used for majority voting)."""
    gold = parse_gold(str(ground_truth))
    parsed, pred = extract_answer(solution_str)
    correct = bool(parsed) and verify(gold, parsed, float_rounding=FLOAT_ROUNDING, timeout_seconds=None)
    return {"score": float(correct), "acc": float(correct), "pred": pred}


def warm_up() -> None:
    """Pay math-verify's one-time set-up (grammar building, sympy caches) before any item is timed."""
    compute_score("warm_up", "The answer is $\\boxed{\\frac{1}{2}}$.", "0.5")
