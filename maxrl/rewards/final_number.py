"""Short numeric answers judged by the last number written in the response (the reasoning-gym presets).

math-verify is the wrong judge here: it evaluates expressions, so a response that repeats the question
("1 - 58" for "Calculate 1 - 58.") equals the answer -57. A policy finds that within ten RL steps (pass@1
0.13 -> 0.95 on arith_2d, every sample an echo). Here only a number literal counts: the last one in the
response, compared numerically with the gold answer.
"""

from __future__ import annotations

import math
import re

# A sign counts only when attached ("-57", not "1 - 58"); thousands separators and decimals are read.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?")


def final_number(response: str) -> str:
    """The last number literal of ``response`` without separators, or "" when there is none."""
    found = NUMBER.findall(response)
    return found[-1].replace(",", "") if found else ""


def compute_score(data_source: str, solution_str: str, ground_truth, extra_info: dict | None = None) -> dict:
    """verl scorer signature. ``score``/``acc`` 1.0 when the response's last number equals the gold answer,
    ``pred`` that number (used for majority voting)."""
    pred = final_number(solution_str)
    correct = bool(pred) and math.isclose(float(pred), float(ground_truth), rel_tol=1e-9, abs_tol=1e-9)
    return {"score": float(correct), "acc": float(correct), "pred": pred}
