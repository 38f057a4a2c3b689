"""The reward manager: scores a batch of decoded responses in a process pool with a per-item time limit.

Items travel to the workers in chunks (one round trip per chunk, not per item). Inside a worker each item has
its own time limit (``maxrl.rewards.watchdog``): a hanging item costs its limit, scores ``timeout_score`` and
the chunk goes on. The pool's task limit in the parent is the backstop for items that cannot be interrupted
(stuck in C code): such a chunk is killed (pebble replaces the worker) and its items are sent again one at a
time, so only the guilty item is lost. A pool that breaks (a worker killed while idle) is replaced. Time is
measured in the parent and in the worker, so the limit holds whichever thread or process calls ``score``.
"""

from __future__ import annotations

import logging
import multiprocessing
import numbers
import os
import pickle
import weakref
from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures import TimeoutError as TaskTimeout  # not the builtin on Python 3.10
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np
import pebble

from maxrl.rewards.default import check_data_sources, default_compute_score
from maxrl.rewards.failures import (
    FailurePolicy,
    RewardError,
    describe_scorer,
    invalid_reward_error,
    too_many_failed_error,
)
from maxrl.rewards.worker import (
    ERROR,
    INVALID,
    OK,
    TIMEOUT,
    Outcome,
    ScorerLoadError,
    install_scorer,
    ready,
    score_chunk,
)

logger = logging.getLogger(__name__)

ZEROED_KEY = "zeroed_by_max_response_length"
# Extra seconds a chunk may run past the sum of its items' limits before the parent kills it: the items'
# own limits act inside the worker; this only catches items they cannot stop.
INTERRUPT_GRACE_S = 2.0
# Pool replacements within one score() call before giving up: a pool that keeps breaking has workers
# that cannot start at all.
MAX_POOL_RESTARTS = 2
BROKEN_POOL_HINT = (
    "the reward worker processes keep dying before they take any work. Each worker is a fresh Python "
    "process (spawn) that re-imports the program's main module: run the program from a file or module "
    "whose entry point is under `if __name__ == '__main__':` (not from stdin), and check that the "
    "machine is not killing them (out of memory)"
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


def _shut_down(pools: dict) -> None:
    """Stop the current pool of a manager (``pools["current"]``)."""
    pool = pools["current"]
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
    end of the run. ``failure_policy`` decides when a batch's failures stop the run (``RewardError``)."""

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
        failure_policy: FailurePolicy | None = None,
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
        self.failure_policy = failure_policy or FailurePolicy()
        self._pickled_scorer = pickle.dumps(compute_score)
        self._pools = {"current": self._new_pool()}
        self._stop_pool = weakref.finalize(self, _shut_down, self._pools)

    def _new_pool(self) -> pebble.ProcessPool:
        # spawn: a fresh interpreter per worker, safe even when the parent holds Ray or torch threads. The
        # scorer travels pickled, so a worker that cannot load it reports why instead of dying.
        pool = pebble.ProcessPool(
            max_workers=self.num_workers,
            initializer=install_scorer,
            initargs=(self._pickled_scorer,),
            context=multiprocessing.get_context("spawn"),
        )
        pool.schedule(ready)  # start the workers now: their imports overlap the rest of the set-up
        return pool

    def _replace_pool(self) -> None:
        """A broken pool (pebble gives up when a worker dies while no task runs) is stopped and replaced."""
        logger.warning("the reward worker pool broke (a worker died while idle); starting a new one")
        _shut_down(self._pools)
        self._pools["current"] = self._new_pool()

    def score(
        self, data_sources, responses, ground_truths, extra_infos, response_lengths=None
    ) -> RewardResult:
        """Score every item; results are in input order. ``response_lengths`` (valid response tokens per item)
        is needed only with ``zero_reward_on_max_response_length``. Raises ``RewardError`` when the failure
        policy says the batch must stop the run."""
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
        return self._assemble(items, outcomes, zeroed)

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
        """The parent's hard limit of one task: at least its items' own limits, plus a grace period."""
        return max(self.chunk_timeout_s or 0.0, self.per_item_timeout_s * size) + INTERRUPT_GRACE_S

    def _run(self, items: list[tuple], indices: list[int]) -> dict[int, Outcome]:
        """Outcome per scored index. At most ``max_chunks_in_flight`` chunks wait in the pool at once."""
        outcomes: dict[int, Outcome] = {}
        queue = deque(
            indices[start : start + self.chunk_size] for start in range(0, len(indices), self.chunk_size)
        )
        pending = {}
        restarts = 0
        while queue or pending:
            pool = self._pools["current"]
            while queue and len(pending) < self.max_chunks_in_flight and pool.active:
                chunk = queue.popleft()
                try:
                    future = pool.schedule(
                        score_chunk,
                        args=([items[index] for index in chunk], self.per_item_timeout_s),
                        timeout=self._chunk_timeout(len(chunk)),
                    )
                except RuntimeError:  # pebble: the pool broke since `active` was read
                    queue.appendleft(chunk)
                    break
                pending[future] = chunk
            done, _ = wait(pending, timeout=self.poll_interval_s, return_when=FIRST_COMPLETED)
            broken = not pool.active
            for future in done:
                chunk = pending.pop(future)
                try:
                    results = future.result()
                except BrokenProcessPool:
                    queue.append(chunk)
                    broken = True
                    continue
                except ScorerLoadError as error:
                    raise RewardError(
                        f"the reward workers cannot load the scorer {describe_scorer(self.compute_score)}; "
                        f"the worker's traceback:\n{error}"
                    ) from None
                except Exception as error:
                    if len(chunk) > 1:  # find the culprit: send the chunk's items again one by one
                        queue.extend([index] for index in chunk)
                        continue
                    results = [_failed_chunk_outcome(error, self._chunk_timeout(1))]
                outcomes.update(zip(chunk, results))
                restarts = 0  # the pool works: only consecutive breaks count
            if broken:
                restarts += 1
                if restarts > MAX_POOL_RESTARTS:
                    raise RuntimeError(BROKEN_POOL_HINT)
                queue.extend(pending.values())  # a broken pool's tasks may never complete
                pending.clear()
                self._replace_pool()
        return outcomes

    def _assemble(self, items: list[tuple], outcomes: dict[int, Outcome], zeroed: np.ndarray) -> RewardResult:
        count = len(items)
        scores = np.full(count, self.timeout_score, dtype=np.float64)
        extras: dict[str, list] = {}
        failures: dict[str, list[tuple[int, str]]] = {TIMEOUT: [], ERROR: [], INVALID: []}
        for index in sorted(outcomes):
            outcome = outcomes[index]
            if outcome.status != OK:
                failures[outcome.status].append((index, outcome.value))
                continue
            scores[index] = outcome.value["score"]
            for key, value in outcome.value.items():
                if key != "score":
                    extras.setdefault(key, [None] * count)[index] = value
        self._enforce(items, failures, len(outcomes))
        scores[zeroed] = 0.0
        result_extras = {key: _as_array(values) for key, values in extras.items()}
        if self.zero_reward_on_max_response_length:
            result_extras[ZEROED_KEY] = zeroed.astype(np.float64)
        for status, found in failures.items():
            if found:
                logger.warning("%d of %d reward items: %s; first: %s", len(found), count, status, found[0][1])
        metrics = {
            "reward/timeout_count": float(len(failures[TIMEOUT])),
            "reward/error_count": float(len(failures[ERROR])),
            "reward/invalid_count": float(len(failures[INVALID])),
            f"reward/{ZEROED_KEY}": float(zeroed.sum()),
        }
        return RewardResult(scores=scores, extras=result_extras, metrics=metrics)

    def _enforce(self, items: list[tuple], failures: dict[str, list[tuple[int, str]]], scored: int) -> None:
        """Raise ``RewardError`` when the failure policy says this batch must stop the run."""
        policy = self.failure_policy
        if failures[INVALID] and policy.invalid_reward == "error":
            position, message = failures[INVALID][0]
            raise invalid_reward_error(message, items[position], position, len(items), self.compute_score)
        failed = sorted(failures[ERROR] + failures[INVALID])
        if policy.too_many_failed(len(failed), scored):
            raise too_many_failed_error(len(failed), scored, policy, failed[0], items, self.compute_score)

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        self._stop_pool()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
