"""What runs inside a reward worker process: the installed scorer applied to chunks of items.

Every item comes back as an ``Outcome``, so one bad item never loses the rest of its chunk. An item that
finishes but took longer than the per-item limit counts as a timeout, exactly as if the parent had killed it:
the result then does not depend on which chunk an item happened to land in.
"""

from __future__ import annotations

import logging
import numbers
import time
import traceback
from typing import NamedTuple

logger = logging.getLogger(__name__)

OK, TIMEOUT, ERROR = "ok", "timeout", "error"

_scorer = None


class Outcome(NamedTuple):
    """``status`` is OK, TIMEOUT or ERROR; ``value`` is the score dict when OK, else a message."""

    status: str
    value: object


def install_scorer(compute_score) -> None:
    """Pool initializer: keep the scorer for this process and run its optional one-time ``warm_up``."""
    global _scorer
    _scorer = compute_score
    warm_up = getattr(compute_score, "warm_up", None)
    if callable(warm_up):
        try:
            warm_up()
        except Exception:
            logger.exception("warm_up of the reward function failed; scoring continues without it")


def ready() -> None:
    """A no-op task: scheduling it makes the pool start its workers."""


def as_score_dict(value) -> dict:
    """A scorer's float becomes ``{"score": value}``; a dict must carry a numeric ``score``."""
    if isinstance(value, numbers.Real):
        return {"score": float(value)}
    if isinstance(value, dict) and isinstance(value.get("score"), numbers.Real):
        return {**value, "score": float(value["score"])}
    raise TypeError(f"a scorer must return a number or a dict with a numeric 'score'; got {value!r:.200}")


def score_item(item: tuple, per_item_timeout_s: float) -> Outcome:
    data_source, solution_str, ground_truth, extra_info = item
    start = time.monotonic()
    try:
        value = as_score_dict(_scorer(data_source, solution_str, ground_truth, extra_info))
    except Exception:
        return Outcome(ERROR, traceback.format_exc(limit=-3))
    elapsed = time.monotonic() - start
    if elapsed > per_item_timeout_s:
        return Outcome(TIMEOUT, f"took {elapsed:.2f} s (limit {per_item_timeout_s} s)")
    return Outcome(OK, value)


def score_chunk(items: list[tuple], per_item_timeout_s: float) -> list[Outcome]:
    """Score ``(data_source, solution_str, ground_truth, extra_info)`` tuples in order."""
    return [score_item(item, per_item_timeout_s) for item in items]
