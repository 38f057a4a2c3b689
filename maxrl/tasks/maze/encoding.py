"""The paper's text encoding of a maze: space-separated words, one word per grid square.

A full sequence reads::

    <bos> GRID_START  START PATH WALL ... NEWLINE  ...  GRID_END PATH_START  DOWN RIGHT ... DONE <eos>

with one ``NEWLINE`` after each row. The prompt is everything through ``PATH_START``; the answer is the
action words followed by ``DONE <eos>``. These helpers convert between grids and words in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maxrl.tasks.maze.generator import ACTIONS, Maze

BOS, EOS, PAD, UNK = "<bos>", "<eos>", "<pad>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)
GRID_START, GRID_END, PATH_START, DONE = "GRID_START", "GRID_END", "PATH_START", "DONE"
OPEN, WALL, GOAL, START, NEWLINE = "PATH", "WALL", "GOAL", "START", "NEWLINE"
ACTION_WORDS = tuple(ACTIONS)


def encode_prompt(grid: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> str:
    """The prompt text: the grid as words, ending with ``PATH_START``."""
    rows, cols = np.shape(grid)
    words = [WALL if square else OPEN for square in np.asarray(grid).ravel().tolist()]
    words[start[0] * cols + start[1]] = START
    words[goal[0] * cols + goal[1]] = GOAL
    lines = [" ".join(words[r * cols : (r + 1) * cols]) for r in range(rows)]
    return f"{BOS} {GRID_START} {f' {NEWLINE} '.join(lines)} {NEWLINE} {GRID_END} {PATH_START}"


def encode_answer(actions: list[str] | tuple[str, ...]) -> str:
    """The answer text that follows the prompt: the action words, then ``DONE <eos>``."""
    return " ".join([*actions, DONE, EOS])


def encode_maze(maze: Maze) -> str:
    """The full training sequence of a maze (prompt, one space, answer)."""
    return f"{encode_prompt(maze.grid, maze.start, maze.goal)} {encode_answer(maze.path)}"


def split_sequence(sequence: str) -> tuple[str, str]:
    """Split a full sequence into (prompt through ``PATH_START``, answer after it)."""
    head, sep, tail = sequence.partition(PATH_START)
    if not sep:
        raise ValueError(f"maze sequence has no {PATH_START} word: {sequence[:80]!r}...")
    return f"{head.strip()} {PATH_START}", tail.strip()


@dataclass(frozen=True)
class ParsedGrid:
    """A grid rebuilt from words: ``walls[r][c]`` is True for a wall; start and goal as (row, col)."""

    walls: tuple[tuple[bool, ...], ...]
    start: tuple[int, int]
    goal: tuple[int, int]

    def to_array(self) -> np.ndarray:
        return np.asarray(self.walls, dtype=np.uint8)


def parse_grid(sequence: str) -> ParsedGrid:
    """Rebuild the grid from the words between ``GRID_START`` and ``GRID_END`` (rows end at ``NEWLINE``).

    Raises ValueError naming the problem when the text is not a well-formed maze: missing markers, an
    unknown cell word, ragged rows, or not exactly one START and one GOAL.
    """
    words = sequence.split()
    try:
        first = words.index(GRID_START) + 1
        last = words.index(GRID_END, first)
    except ValueError:
        raise ValueError(f"maze text needs {GRID_START} ... {GRID_END}: {sequence[:80]!r}...") from None
    rows: list[tuple[bool, ...]] = []
    row: list[bool] = []
    starts, goals = [], []
    for word in words[first:last]:
        if word == NEWLINE:
            rows.append(tuple(row))
            row = []
            continue
        if word == START:
            starts.append((len(rows), len(row)))
        elif word == GOAL:
            goals.append((len(rows), len(row)))
        elif word not in (OPEN, WALL):
            raise ValueError(f"unknown maze cell word {word!r} in row {len(rows)} (expected PATH/WALL/START/GOAL)")
        row.append(word == WALL)
    if row:
        rows.append(tuple(row))
    if not rows or len({len(r) for r in rows}) != 1:
        raise ValueError(f"maze rows are empty or of unequal length: {[len(r) for r in rows]}")
    if len(starts) != 1 or len(goals) != 1:
        raise ValueError(f"maze needs exactly one START and one GOAL, found {len(starts)} and {len(goals)}")
    return ParsedGrid(walls=tuple(rows), start=starts[0], goal=goals[0])


def decode_maze(sequence: str) -> Maze:
    """Rebuild a ``Maze`` from a full sequence; the path is the action words between ``PATH_START`` and ``DONE``."""
    parsed = parse_grid(sequence)
    _, answer = split_sequence(sequence)
    words = answer.split()
    path = tuple(words[: words.index(DONE)] if DONE in words else words)
    unknown = set(path) - set(ACTION_WORDS)
    if unknown:
        raise ValueError(f"maze answer has non-action words before {DONE}: {sorted(unknown)}")
    return Maze(grid=parsed.to_array(), start=parsed.start, goal=parsed.goal, path=path)
