"""The reward manager: scores a batch of decoded responses in a process pool with a per-item time limit.

Items travel to the workers in chunks (one round trip per chunk, not per item). A chunk that runs past its
time limit, or whose worker dies, is killed by the pool (pebble replaces the worker) and its items are sent
again one at a time, so only the item that hangs or crashes scores ``timeout_score``. Time is measured by
the pool in the parent process, so the limit holds whichever thread or process calls ``score``.
"""

from __future__ import annotations

import logging
import multiprocessing
import numbers
import os
import weakref
from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures import TimeoutError as TaskTimeout  # not the builtin on Python 3.10
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np
import pebble

from maxrl.rewards.default import check_data_sources, default_compute_score
from maxrl.rewards.worker import ERROR, OK, TIMEOUT, Outcome, install_scorer, ready, score_chunk

logger = logging.getLogger(__name__)

ZEROED_KEY = "zeroed_by_max_response_length"
BROKEN_POOL_HINT = (
    "the reward worker processes failed (their traceback is printed above). Each worker is a fresh Python "
    "process that must unpickle the scorer and re-import the program's main module: check that "
    "custom_reward_function.path is still readable, and run the program from a file or module whose entry "
    "point is under `if __name__ == '__main__':` (not from stdin)"
)


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class RewardResult:
    """Per-item ``scores``, per-item ``extras`` (the scorers' other dict keys) and batch ``metrics``."""

    scores: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def _as_array(values: list) -> np.ndarray:
    """Numbers become a float array (a missing value, from a failed item, counts 0); anything else objects."""
    present = [value for value in values if value is not None]
    if all(isinstance(value, numbers.Real) for value in present):
        return np.array([0.0 if value is None else float(value) for value in values], dtype=np.float64)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _shut_down(pool: pebble.ProcessPool) -> None:
    pool.stop()
    pool.join(timeout=10)


def _failed_chunk_outcome(error: BaseException, timeout_s: float) -> Outcome:
    if isinstance(error, TaskTimeout):
        return Outcome(TIMEOUT, f"killed after {timeout_s} s")
    if isinstance(error, pebble.ProcessExpired):
        return Outcome(ERROR, f"reward worker died: {error}")
    return Outcome(ERROR, repr(error))


class RewardManager:
    """A process pool (started once, at construction) that scores ``(data_source, response, ground_truth,
    extra_info)`` items with ``compute_score``. Build one with ``build_reward_manager``; ``close()`` it at the
    end of the run."""

    def __init__(
        self,
        compute_score,
        *,
        num_workers: int,
        chunk_size: int,
        per_item_timeout_s: float,
        chunk_timeout_s: float | None = None,
        in_flight_chunks_per_worker: int = 4,
        poll_interval_s: float = 0.5,
        timeout_score: float = 0.0,
        zero_reward_on_max_response_length: bool = False,
        max_resp_len: int | None = None,
    ):
        self.compute_score = compute_score
        self.num_workers = num_workers
        self.chunk_size = chunk_size
        self.per_item_timeout_s = per_item_timeout_s
        self.chunk_timeout_s = chunk_timeout_s
        self.max_chunks_in_flight = num_workers * in_flight_chunks_per_worker
        self.poll_interval_s = poll_interval_s
        self.timeout_score = float(timeout_score)
        self.zero_reward_on_max_response_length = zero_reward_on_max_response_length
        self.max_resp_len = max_resp_len
        # spawn: a fresh interpreter per worker, safe even when the parent holds Ray or torch threads.
        self._pool = pebble.ProcessPool(
            max_workers=num_workers,
            initializer=install_scorer,
            initargs=(compute_score,),
            context=multiprocessing.get_context("spawn"),
        )
        self._stop_pool = weakref.finalize(self, _shut_down, self._pool)
        self._pool.schedule(ready)  # start the workers now: their imports overlap the rest of the set-up

    def score(
        self, data_sources, responses, ground_truths, extra_infos, response_lengths=None
    ) -> RewardResult:
        """Score every item; results are in input order. ``response_lengths`` (valid response tokens per item)
        is needed only with ``zero_reward_on_max_response_length``."""
        if not self._stop_pool.alive:
            raise RuntimeError("this reward manager is closed")
        count = len(responses)
        columns = {"data_sources": data_sources, "ground_truths": ground_truths, "extra_infos": extra_infos}
        for column_name, column in columns.items():
            if len(column) != count:
                raise ValueError(f"{column_name} has {len(column)} items but responses has {count}")
        if self.compute_score is default_compute_score:
            check_data_sources(data_sources)
        zeroed = self._overlong(response_lengths, count)
        items = list(zip(data_sources, responses, ground_truths, extra_infos))
        outcomes = self._run(items, [index for index in range(count) if not zeroed[index]])
        return self._assemble(count, outcomes, zeroed)

    def _overlong(self, response_lengths, count: int) -> np.ndarray:
        """Items whose valid response length reached ``max_resp_len`` (score forced to 0, not scored)."""
        if not self.zero_reward_on_max_response_length:
            return np.zeros(count, dtype=bool)
        if response_lengths is None:
            raise ValueError("zero_reward_on_max_response_length needs response_lengths in score()")
        lengths = np.asarray(response_lengths).reshape(-1)
        if len(lengths) != count:
            raise ValueError(f"response_lengths has {len(lengths)} items but responses has {count}")
        return lengths >= self.max_resp_len

    def _chunk_timeout(self, size: int) -> float:
        if size == 1:
            return self.per_item_timeout_s
        return self.chunk_timeout_s or self.per_item_timeout_s * size

    def _run(self, items: list[tuple], indices: list[int]) -> dict[int, Outcome]:
        """Outcome per scored index. At most ``max_chunks_in_flight`` chunks wait in the pool at once."""
        outcomes: dict[int, Outcome] = {}
        queue = deque(
            indices[start : start + self.chunk_size] for start in range(0, len(indices), self.chunk_size)
        )
        pending = {}
        while queue or pending:
            while queue and len(pending) < self.max_chunks_in_flight:
                chunk = queue.popleft()
                try:
                    future = self._pool.schedule(
                        score_chunk,
                        args=([items[index] for index in chunk], self.per_item_timeout_s),
                        timeout=self._chunk_timeout(len(chunk)),
                    )
                except RuntimeError as error:  # pebble: "Unexpected error within the Pool"
                    raise RuntimeError(BROKEN_POOL_HINT) from error
                pending[future] = chunk
            done, _ = wait(pending, timeout=self.poll_interval_s, return_when=FIRST_COMPLETED)
            for future in done:
                chunk = pending.pop(future)
                try:
                    results = future.result()
                except BrokenProcessPool as error:
                    raise RuntimeError(BROKEN_POOL_HINT) from error
                except Exception as error:
                    if len(chunk) > 1:  # find the culprit: send the chunk's items again one by one
                        queue.extend([index] for index in chunk)
                        continue
                    results = [_failed_chunk_outcome(error, self._chunk_timeout(1))]
                outcomes.update(zip(chunk, results))
        return outcomes

    def _assemble(self, count: int, outcomes: dict[int, Outcome], zeroed: np.ndarray) -> RewardResult:
        scores = np.full(count, self.timeout_score, dtype=np.float64)
        extras: dict[str, list] = {}
        failures = {TIMEOUT: [], ERROR: []}
        for index, outcome in outcomes.items():
            if outcome.status != OK:
                failures[outcome.status].append(outcome.value)
                continue
            scores[index] = outcome.value["score"]
            for key, value in outcome.value.items():
                if key != "score":
                    extras.setdefault(key, [None] * count)[index] = value
        scores[zeroed] = 0.0
        result_extras = {key: _as_array(values) for key, values in extras.items()}
        if self.zero_reward_on_max_response_length:
            result_extras[ZEROED_KEY] = zeroed.astype(np.float64)
        for status, messages in failures.items():
            if messages:
                logger.warning(
                    "%d of %d reward items: %s; first: %s", len(messages), count, status, messages[0]
                )
        metrics = {
            "reward/timeout_count": float(len(failures[TIMEOUT])),
            "reward/error_count": float(len(failures[ERROR])),
            f"reward/{ZEROED_KEY}": float(zeroed.sum()),
        }
        return RewardResult(scores=scores, extras=result_extras, metrics=metrics)

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        self._stop_pool()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
