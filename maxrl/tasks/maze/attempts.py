"""The maze as a multi-attempt task with environment feedback (a multi-turn episode; docs/multi_turn.md).

The model writes a path; if it does not reach GOAL, the `MazeFeedback` interaction answers with the moves
that were fine, ``WALL`` where the path first hits a wall or leaves the grid, and ``PATH_START`` (a new
attempt starts); the episode ends when an attempt reaches GOAL or at ``multi_turn.max_assistant_turns``
attempts. The reward is the last attempt's (1 iff it reaches GOAL): data sources ``maze_attempts_<size>``
route to `compute_attempts_score`. Rows come from the single-attempt maze files::

    python -m maxrl.tasks.maze.attempts data/maze/train.parquet data/maze/attempts_train.parquet

A model warm-started on single attempts has never seen feedback, and its attempts after the first are much
worse than its first. ``--retry-transcripts F`` writes instead a warm-start file whose answers, for a
fraction F of the mazes, are a second attempt that succeeds: a failed attempt, the feedback to it, then the
shortest path (`with_failed_attempt`). The warm start (``maze/sft.py``) trains on the answer after the last
``PATH_START``, so it learns to follow feedback, not to fail.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys

from maxrl.agents import Interaction, InteractionReply
from maxrl.tasks.maze.encoding import DONE, PATH_START, WALL
from maxrl.tasks.maze.generator import ACTIONS
from maxrl.tasks.maze.verifier import compute_score, parse_board, response_actions, walk_until_stopped

__all__ = [
    "ATTEMPTS_PREFIX", "INTERACTION_NAME", "MazeFeedback", "compute_attempts_score", "to_attempts_table",
    "to_retry_transcripts", "with_failed_attempt",
]

ATTEMPTS_PREFIX = "maze_attempts"
INTERACTION_NAME = "maze_feedback"
logger = logging.getLogger(__name__)


def feedback(attempt: str, ground_truth: str) -> str | None:
    """None when `attempt` reaches GOAL, else the words that answer it (see the module docstring)."""
    actions = response_actions(attempt)
    if actions is None:  # no DONE, or a word that is not a move
        return f" {PATH_START}"
    solved, moves, hit_wall = walk_until_stopped(parse_board(ground_truth), actions)
    if solved:
        return None
    fine = actions[: moves - 1] if hit_wall else actions
    return " " + " ".join([*fine, *([WALL] if hit_wall else []), PATH_START])


class MazeFeedback(Interaction):
    """Tells a wrong attempt where it went wrong; ends the episode at the first attempt that reaches GOAL."""

    def start_interaction(self, ground_truth: str, **kwargs) -> str:
        parse_board(ground_truth)  # a malformed maze fails here, at the episode's start
        return ground_truth

    def generate_response(self, messages, state: str) -> InteractionReply:
        words = feedback(messages[-1]["content"], state)
        return InteractionReply("", done=True) if words is None else InteractionReply(words)


def last_attempt(response: str) -> str:
    """The text after the response's last ``PATH_START`` (all of it for a single attempt)."""
    return response.rsplit(PATH_START, 1)[-1]


def compute_attempts_score(solution_str: str, ground_truth: str, extra_info: dict | None = None) -> dict[str, float]:
    """The maze score (`maxrl.tasks.maze.verifier.compute_score`) of the last attempt, plus ``attempts``."""
    scores = compute_score(last_attempt(solution_str), ground_truth, extra_info)
    return scores | {"attempts": float(solution_str.count(PATH_START) + 1)}


def to_attempts_table(table):
    """A maze parquet table (`maxrl.tasks.maze.files`) as multi-attempt rows: data source ``maze_attempts_<size>``
    and ``extra_info.interaction_kwargs`` naming the interaction and the maze."""
    import pyarrow as pa

    rows = table.to_pylist()
    for row in rows:
        row["data_source"] = row["data_source"].replace("maze", ATTEMPTS_PREFIX, 1)
        row["extra_info"] = dict(row["extra_info"]) | {
            "interaction_kwargs": {"name": INTERACTION_NAME, "ground_truth": row["reward_model"]["ground_truth"]}
        }
    return pa.Table.from_pylist(rows)


def with_failed_attempt(answer: str, rng: random.Random) -> str:
    """A maze sequence (grid, ``PATH_START``, shortest path, ``DONE <eos>``) with a failed attempt and its
    feedback before the path. The failed attempt follows the path for a random number of moves, then moves
    into a wall where one is next to it (else it stops there, short of GOAL)."""
    head, separator, tail = answer.partition(f" {PATH_START} ")
    path = response_actions(tail) if separator else None
    if not path:
        raise ValueError(f"not a maze sequence with a path: {answer[-80:]!r}")
    board, prefix = parse_board(answer), path[: rng.randrange(len(path))]
    into_wall = [action for action in ACTIONS if walk_until_stopped(board, [*prefix, action])[2]]
    failed = " ".join([*prefix, *([rng.choice(into_wall)] if into_wall else []), DONE])
    return f"{head} {PATH_START} {failed}{feedback(failed, answer)} {tail}"


def to_retry_transcripts(table, fraction: float, seed: int):
    """A maze parquet table whose ``extra_info.answer`` holds, for `fraction` of the rows (drawn with
    `seed`), a failed attempt, its feedback and the path (`with_failed_attempt`): a multi-attempt warm start."""
    import pyarrow as pa

    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"--retry-transcripts must lie in [0, 1], got {fraction}")
    rng = random.Random(seed)
    rows = table.to_pylist()
    for row in rows:
        if rng.random() < fraction:
            row["extra_info"] = dict(row["extra_info"]) | {"answer": with_failed_attempt(row["extra_info"]["answer"], rng)}
    return pa.Table.from_pylist(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Turn maze parquet files into multi-attempt rows.")
    parser.add_argument("input", help="a maze parquet file (python -m maxrl.tasks.maze.make_data)")
    parser.add_argument("output", help="where to write the multi-attempt rows")
    parser.add_argument("--retry-transcripts", type=float, default=None, metavar="F",
                        help="write a warm-start file instead: F of the answers are a failed attempt, its "
                             "feedback and the path")
    parser.add_argument("--seed", type=int, default=0, help="which rows get a failed attempt, and which")
    args = parser.parse_args(argv)
    import pyarrow.parquet as pq

    table = pq.read_table(args.input)
    if args.retry_transcripts is None:
        table = to_attempts_table(table)
        logger.info("wrote %d multi-attempt rows to %s", table.num_rows, args.output)
    else:
        table = to_retry_transcripts(table, args.retry_transcripts, args.seed)
        logger.info("wrote %d warm-start rows to %s", table.num_rows, args.output)
    pq.write_table(table, args.output)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
