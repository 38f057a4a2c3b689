"""The RL reward for maze responses (the paper's rules, arXiv 2602.02710; docs/maze.md), plus an optimality metric.

Reward rules: the response must contain ``DONE``, and every word before the first ``DONE`` must be an
action (UP/DOWN/LEFT/RIGHT); the actions are walked from START on the grid rebuilt from the ground truth.
Leaving the grid or entering a wall gives 0 at once; entering GOAL gives 1 at once (later actions are
ignored); running out of actions elsewhere gives 0.

Special tokens (``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``) are dropped before the rules apply, so the score
is the same whether the rollout decoded with ``skip_special_tokens`` (as the paper does) or not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from maxrl.tasks.maze.encoding import ACTION_WORDS, DONE, SPECIAL_TOKENS, parse_grid
from maxrl.tasks.maze.generator import ACTIONS, shortest_path

_SPECIAL_PATTERN = re.compile("|".join(re.escape(token) for token in SPECIAL_TOKENS))


@dataclass(frozen=True)
class _Board:
    """What scoring needs from a ground-truth sequence, parsed once and cached."""

    walls: tuple[tuple[bool, ...], ...]
    start: tuple[int, int]
    goal: tuple[int, int]
    optimal_length: int


@lru_cache(maxsize=4096)
def parse_board(ground_truth: str) -> _Board:
    """Parse the ground truth once per maze: RL scores many responses to the same prompt."""
    parsed = parse_grid(ground_truth)
    path = shortest_path(parsed.to_array(), parsed.start, parsed.goal)
    if path is None:
        raise ValueError(f"maze ground truth has no path from START to GOAL: {ground_truth[:80]!r}...")
    return _Board(walls=parsed.walls, start=parsed.start, goal=parsed.goal, optimal_length=len(path))


def response_actions(solution_str: str) -> list[str] | None:
    """The action words before the first ``DONE``, or None when the response breaks the format rules."""
    words = _SPECIAL_PATTERN.sub(" ", solution_str).split()
    if DONE not in words:
        return None
    actions = words[: words.index(DONE)]
    if any(word not in ACTION_WORDS for word in actions):
        return None
    return actions


def walk(board: _Board, actions: list[str]) -> tuple[bool, int]:
    """Walk from START; return (reached GOAL, number of moves made until stopping)."""
    solved, moves, _ = walk_until_stopped(board, actions)
    return solved, moves


def walk_until_stopped(board: _Board, actions: list[str]) -> tuple[bool, int, bool]:
    """Walk from START; return (reached GOAL, moves made until stopping, whether the last of them left the
    grid or entered a wall)."""
    rows, cols = len(board.walls), len(board.walls[0])
    r, c = board.start
    for moves, action in enumerate(actions, start=1):
        dr, dc = ACTIONS[action]
        r, c = r + dr, c + dc
        if not (0 <= r < rows and 0 <= c < cols) or board.walls[r][c]:
            return False, moves, True
        if (r, c) == board.goal:
            return True, moves, False
    return False, len(actions), False


def compute_score(solution_str: str, ground_truth: str, extra_info: dict | None = None) -> dict[str, float]:
    """Score one decoded response against the full maze sequence it answers.

    Returns ``score`` (the reward, 1.0 or 0.0), ``optimal`` (1.0 iff solved in the fewest possible moves),
    ``path_length`` (moves made before stopping; 0 for a malformed response) and ``optimal_length``.
    A malformed ground truth raises ValueError: that is a data bug, not a bad answer.
    """
    board = parse_board(ground_truth)
    actions = response_actions(solution_str)
    solved, moves = walk(board, actions) if actions is not None else (False, 0)
    return {
        "score": float(solved),
        "optimal": float(solved and moves == board.optimal_length),
        "path_length": float(moves),
        "optimal_length": float(board.optimal_length),
    }
