"""What runs inside a reward worker process: the installed scorer applied to chunks of items.

Every item comes back as an ``Outcome``, so one bad item never loses the rest of its chunk. Each item runs
under its own time limit (``maxrl.rewards.watchdog``); an item that finishes but took longer than the limit
counts as a timeout too, so the result does not depend on which chunk an item happened to land in. A return
value that is not a finite number (or a dict with one as ``score``) is ``INVALID``, never a silent reward.
"""

from __future__ import annotations

import logging
import math
import numbers
import pickle
import time
import traceback
from typing import NamedTuple

import numpy as np

from maxrl.rewards.watchdog import ItemTimeout, Watchdog

logger = logging.getLogger(__name__)

OK, TIMEOUT, ERROR, INVALID = "ok", "timeout", "error", "invalid"

_scorer = None
_load_error: str | None = None
_watchdog: Watchdog | None = None


class Outcome(NamedTuple):
    """``status`` is OK, TIMEOUT, ERROR or INVALID; ``value`` is the score dict when OK, else a message."""

    status: str
    value: object


class ScorerLoadError(RuntimeError):
    """The worker could not unpickle (re-import) the scorer; the message is the worker's traceback."""


def install_scorer(pickled_scorer: bytes) -> None:
    """Pool initializer: load the scorer (pickled by the parent, so that a failure here is reported with its
    cause instead of killing the worker), start the per-item watchdog, run the optional ``warm_up``."""
    global _scorer, _load_error, _watchdog
    _watchdog = Watchdog()
    try:
        _scorer = pickle.loads(pickled_scorer)
    except Exception:
        _load_error = traceback.format_exc()
        return
    warm_up = getattr(_scorer, "warm_up", None)
    if callable(warm_up):
        try:
            warm_up()
        except Exception:
            logger.exception("warm_up of the reward function failed; scoring continues without it")


def ready() -> None:
    """A no-op task: scheduling it makes the pool start its workers."""


def check_score(value) -> dict:
    """A scorer's number becomes ``{"score": value}``; a dict must carry a numeric ``score``; either must be
    finite. Raises ``TypeError`` / ``ValueError`` describing what came back instead."""
    if isinstance(value, dict):
        if "score" not in value:
            raise TypeError(f"returned a dict without 'score' (keys: {sorted(map(str, value))[:10]})")
        score, result = value["score"], value
    else:
        score, result = value, {}
    if not isinstance(score, (numbers.Real, np.bool_)):  # numpy's bool: e.g. from np.isclose
        raise TypeError(f"returned {type(score).__name__} {score!r:.200} as the score")
    score = float(score)
    if not math.isfinite(score):
        raise ValueError(f"returned a non-finite score {score}")
    return {**result, "score": score}


def score_item(item: tuple, per_item_timeout_s: float) -> Outcome:
    data_source, solution_str, ground_truth, extra_info = item
    start = time.monotonic()
    try:
        _watchdog.arm(per_item_timeout_s)
        try:
            value = _scorer(data_source, solution_str, ground_truth, extra_info)
        finally:
            _watchdog.disarm()
    except ItemTimeout:
        return Outcome(TIMEOUT, f"stopped at its {per_item_timeout_s} s limit")
    except Exception:
        return Outcome(ERROR, traceback.format_exc(limit=-3))
    elapsed = time.monotonic() - start
    if elapsed > per_item_timeout_s:
        return Outcome(TIMEOUT, f"took {elapsed:.2f} s (limit {per_item_timeout_s} s)")
    try:
        return Outcome(OK, check_score(value))
    except (TypeError, ValueError) as error:
        return Outcome(INVALID, str(error))


def score_chunk(items: list[tuple], per_item_timeout_s: float) -> list[Outcome]:
    """Score ``(data_source, solution_str, ground_truth, extra_info)`` tuples in order."""
    if _load_error is not None:
        raise ScorerLoadError(_load_error)
    return [score_item(item, per_item_timeout_s) for item in items]
