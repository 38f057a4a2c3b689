"""Random perfect mazes on an odd square grid and their BFS shortest paths.

A maze of odd size ``s`` is an ``s x s`` grid of 0 (open) and 1 (wall). Cells live on odd coordinates,
the walls between neighbouring cells on the even coordinate between them, and the border is all wall.
Carving a spanning tree of the ``m x m`` cell lattice (``m = (s - 1) / 2``) gives a *perfect* maze: every
open square is reachable and any two are joined by exactly one simple path. The start is (1, 1), the goal
(s - 2, s - 2), as in the paper.

Speed: the lattice is tiny (64 cells at 17x17), so per-maze numpy calls would cost more than they save.
Instead each maze draws all its random numbers in one numpy call (both algorithms need at most
``2 * m * m`` uniform draws) and the carving itself is plain Python over precomputed neighbour tables.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cache

import numpy as np

ACTIONS: dict[str, tuple[int, int]] = {"UP": (-1, 0), "DOWN": (1, 0), "LEFT": (0, -1), "RIGHT": (0, 1)}
"""Moves as (row, column) offsets, in the BFS expansion order of the paper."""

ALGORITHMS = ("prim", "dfs")


@dataclass(frozen=True)
class Maze:
    """One maze: ``grid[r, c]`` is 1 for a wall, 0 for an open square; ``path`` is the optimal action list."""

    grid: np.ndarray
    start: tuple[int, int]
    goal: tuple[int, int]
    path: tuple[str, ...]

    @property
    def size(self) -> int:
        return self.grid.shape[0]


def check_size(size: int) -> None:
    """Mazes need an odd side of at least 5 so that start and goal are different cells."""
    if not isinstance(size, int) or size < 5 or size % 2 == 0:
        raise ValueError(f"maze size must be an odd integer >= 5 (e.g. 7, 9, 17), got {size!r}")


@cache
def _lattice(size: int) -> tuple[tuple[tuple[tuple[int, int], ...], ...], tuple[int, ...]]:
    """For each lattice cell: its (neighbour cell, flat index of the wall between) pairs, and its flat index.

    Cells are numbered row-major on the ``m x m`` lattice; flat indices address the ``size * size`` grid.
    """
    m = (size - 1) // 2
    flat = tuple((2 * (k // m) + 1) * size + 2 * (k % m) + 1 for k in range(m * m))
    neighbours = []
    for k in range(m * m):
        r, c = divmod(k, m)
        pairs = []
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < m and 0 <= nc < m:
                other = nr * m + nc
                pairs.append((other, (flat[k] + flat[other]) // 2))
        neighbours.append(tuple(pairs))
    return tuple(neighbours), flat


def _carve_prim(size: int, uniforms: list[float]) -> tuple[bytearray, list[int]]:
    """Randomised Prim: grow the tree from the start cell by attaching a uniformly random frontier cell
    to a uniformly random tree neighbour of it. Uses exactly ``2 * (m * m - 1)`` uniforms.

    Returns the flat grid and each lattice cell's parent in the tree (the start cell is its own parent).
    """
    neighbours, flat = _lattice(size)
    grid = bytearray(b"\x01" * (size * size))
    parent = list(range(len(flat)))
    in_tree = [False] * len(flat)
    in_frontier = [False] * len(flat)
    in_tree[0] = True
    grid[flat[0]] = 0
    frontier = []
    for other, _ in neighbours[0]:
        frontier.append(other)
        in_frontier[other] = True
    draw = iter(uniforms)
    while frontier:
        i = int(next(draw) * len(frontier))
        cell = frontier[i]
        frontier[i] = frontier[-1]
        frontier.pop()
        links = [(other, wall) for other, wall in neighbours[cell] if in_tree[other]]
        parent[cell], wall = links[int(next(draw) * len(links))]
        grid[wall] = 0
        grid[flat[cell]] = 0
        in_tree[cell] = True
        for other, _ in neighbours[cell]:
            if not in_tree[other] and not in_frontier[other]:
                frontier.append(other)
                in_frontier[other] = True
    return grid, parent


def _carve_dfs(size: int, uniforms: list[float]) -> tuple[bytearray, list[int]]:
    """Randomised depth-first search (recursive backtracker) from the start cell, with an explicit stack.
    Uses at most ``m * m - 1`` uniforms (one per carved cell). Returns the grid and tree parents."""
    neighbours, flat = _lattice(size)
    grid = bytearray(b"\x01" * (size * size))
    parent = list(range(len(flat)))
    visited = [False] * len(flat)
    visited[0] = True
    grid[flat[0]] = 0
    stack = [0]
    draw = iter(uniforms)
    while stack:
        options = [(other, wall) for other, wall in neighbours[stack[-1]] if not visited[other]]
        if not options:
            stack.pop()
            continue
        other, wall = options[int(next(draw) * len(options))]
        grid[wall] = 0
        grid[flat[other]] = 0
        visited[other] = True
        parent[other] = stack[-1]
        stack.append(other)
    return grid, parent


_CARVERS = {"prim": _carve_prim, "dfs": _carve_dfs}


def shortest_path(grid: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> list[str] | None:
    """Breadth-first search over open squares, expanding moves in the order UP, DOWN, LEFT, RIGHT.

    Returns the action words of a shortest path (the unique one in a perfect maze), or None if the goal
    is unreachable. Works on any 0/1 grid: it is padded with a wall border so that the search runs on flat
    indices without bounds checks (plain lists beat numpy for grids this small).
    """
    padded = np.pad(np.asarray(grid, dtype=np.uint8), 1, constant_values=1)
    width = padded.shape[1]
    blocked = padded.ravel().tolist()
    names = list(ACTIONS)
    offsets = [dr * width + dc for dr, dc in ACTIONS.values()]
    source = (start[0] + 1) * width + start[1] + 1
    target = (goal[0] + 1) * width + goal[1] + 1
    move_into = [-1] * len(blocked)
    blocked[source] = 1
    queue = deque([source])
    while queue:
        cell = queue.popleft()
        if cell == target:
            break
        for move, offset in enumerate(offsets):
            nxt = cell + offset
            if not blocked[nxt]:
                blocked[nxt] = 1
                move_into[nxt] = move
                queue.append(nxt)
    if target != source and move_into[target] < 0:
        return None
    actions = []
    cell = target
    while cell != source:
        move = move_into[cell]
        actions.append(names[move])
        cell -= offsets[move]
    return actions[::-1]


def _tree_path(size: int, parent: list[int]) -> list[str]:
    """Actions from start to goal along the carved tree: the unique simple path of a perfect maze, hence
    exactly what ``shortest_path`` returns (tested), found in O(path length) instead of a full search."""
    m = (size - 1) // 2
    step_action = {m: "DOWN", -m: "UP", 1: "RIGHT", -1: "LEFT"}
    actions = []
    cell = m * m - 1
    while cell != 0:
        action = step_action[cell - parent[cell]]
        actions += (action, action)  # one lattice step crosses a wall square, then a cell
        cell = parent[cell]
    return actions[::-1]


def generate_maze(size: int, rng: np.random.Generator, algorithm: str = "prim") -> Maze:
    """One random perfect maze with its optimal path; all randomness comes from ``rng``."""
    check_size(size)
    if algorithm not in _CARVERS:
        raise ValueError(f"unknown maze algorithm {algorithm!r}; choose one of {ALGORITHMS}")
    m = (size - 1) // 2
    uniforms = rng.random(2 * m * m).tolist()
    flat_grid, parent = _CARVERS[algorithm](size, uniforms)
    grid = np.frombuffer(bytes(flat_grid), dtype=np.uint8).reshape(size, size)
    return Maze(grid=grid, start=(1, 1), goal=(size - 2, size - 2), path=tuple(_tree_path(size, parent)))
