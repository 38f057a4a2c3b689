"""Generator: determinism, the perfect-maze property, and BFS shortest paths."""

from collections import deque

import numpy as np
import pytest

from maxrl.tasks.maze import generate_maze, generate_records, shortest_path
from maxrl.tasks.maze.generator import ACTIONS


def open_graph(grid: np.ndarray) -> tuple[set, set]:
    """Open squares and the undirected edges between 4-adjacent open squares."""
    cells = {(r, c) for r, c in zip(*np.nonzero(grid == 0))}
    edges = {frozenset((a, (a[0] + dr, a[1] + dc))) for a in cells for dr, dc in ACTIONS.values()}
    return cells, {e for e in edges if e <= cells}


def reachable(cells: set, edges: set, source) -> set:
    seen, queue = {source}, deque([source])
    while queue:
        a = queue.popleft()
        for e in edges:
            if a in e:
                (b,) = e - {a}
                if b not in seen:
                    seen.add(b)
                    queue.append(b)
    return seen


@pytest.mark.parametrize("algorithm", ["prim", "dfs"])
@pytest.mark.parametrize("size", [5, 7, 9, 17])
def test_mazes_are_perfect(algorithm, size):
    rng = np.random.default_rng(123)
    for _ in range(20):
        maze = generate_maze(size, rng, algorithm)
        grid = maze.grid
        assert grid.shape == (size, size) and set(np.unique(grid)) <= {0, 1}
        assert grid[0].all() and grid[-1].all() and grid[:, 0].all() and grid[:, -1].all(), "border is wall"
        assert maze.start == (1, 1) and maze.goal == (size - 2, size - 2)
        cells, edges = open_graph(grid)
        # every lattice cell (odd, odd) is carved, and the open graph is a tree: connected with V - 1 edges
        assert all(grid[r, c] == 0 for r in range(1, size, 2) for c in range(1, size, 2))
        assert len(cells) == len(edges) + 1
        assert reachable(cells, edges, maze.start) == cells


@pytest.mark.parametrize("algorithm", ["prim", "dfs"])
def test_path_is_bfs_shortest_and_walks_start_to_goal(algorithm):
    rng = np.random.default_rng(7)
    for size in (5, 9, 17):
        for _ in range(30):
            maze = generate_maze(size, rng, algorithm)
            assert list(maze.path) == shortest_path(maze.grid, maze.start, maze.goal)
            r, c = maze.start
            for action in maze.path:
                dr, dc = ACTIONS[action]
                r, c = r + dr, c + dc
                assert maze.grid[r, c] == 0
            assert (r, c) == maze.goal


def test_same_seed_same_mazes_and_different_seed_different_mazes():
    def grids(seed, algorithm="prim"):
        rng = np.random.default_rng(seed)
        return [generate_maze(9, rng, algorithm).grid.tobytes() for _ in range(10)]

    assert grids(0) == grids(0)
    assert grids(0) != grids(1)
    assert grids(0, "dfs") != grids(0, "prim")


def test_record_stream_does_not_depend_on_worker_count(monkeypatch):
    import maxrl.tasks.maze.dataset as dataset

    monkeypatch.setattr(dataset, "CHUNK_SIZE", 16)  # several chunks, still fast
    serial = list(generate_records(50, 7, seed=3, workers=1, progress=False))
    parallel = list(generate_records(50, 7, seed=3, workers=2, progress=False))
    assert len(serial) == 50
    assert serial == parallel
    assert serial != list(generate_records(50, 7, seed=4, workers=1, progress=False))


def test_shortest_path_prefers_up_down_left_right_on_ties_and_reports_unreachable():
    # an open 3x3 room (walled border): from the top-left to the bottom-right every shortest path has
    # 2 DOWN and 2 RIGHT; BFS expanding DOWN before RIGHT reaches each square first via DOWN moves
    grid = np.ones((5, 5), dtype=np.uint8)
    grid[1:4, 1:4] = 0
    assert shortest_path(grid, (1, 1), (3, 3)) == ["DOWN", "DOWN", "RIGHT", "RIGHT"]
    assert shortest_path(grid, (3, 3), (1, 1)) == ["UP", "UP", "LEFT", "LEFT"]
    grid[2, 1:4] = 1
    assert shortest_path(grid, (1, 1), (3, 3)) is None
    assert shortest_path(grid, (1, 1), (1, 1)) == []


@pytest.mark.parametrize("bad", [4, 3, 16, "9"])
def test_bad_size_is_rejected(bad):
    with pytest.raises(ValueError, match="odd integer >= 5"):
        generate_maze(bad, np.random.default_rng(0))


def test_unknown_algorithm_is_rejected():
    with pytest.raises(ValueError, match="unknown maze algorithm"):
        generate_maze(7, np.random.default_rng(0), "kruskal")
