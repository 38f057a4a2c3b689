"""The calculator task's reward: 1 when the response's last ``#### <number>`` is the product.

The whole episode is scored (verl's ``solution_str``: tool answers included), but a tool's answer is a bare
number, never ``####``: only an answer the model wrote itself counts.
"""

from __future__ import annotations

import re

ANSWER = re.compile(r"####\s*(-?\d+)")


def compute_score(data_source: str, solution_str: str, ground_truth, extra_info: dict | None = None) -> dict:
    """verl scorer signature; ``pred`` is the answer read (empty when none)."""
    answers = ANSWER.findall(solution_str)
    pred = answers[-1] if answers else ""
    correct = pred == str(ground_truth).strip()
    return {"score": float(correct), "acc": float(correct), "pred": pred}
