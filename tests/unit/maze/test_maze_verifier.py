"""The RL verifier on hand-checked responses to one 7x7 maze (rules: docs/maze.md)."""

import numpy as np
import pytest

from maxrl.tasks.maze import compute_score, decode_maze, encode_maze, generate_maze

# 7x7 grid, start (1,1), goal (5,5); the route is along the top row, then down the right column:
#   W W W W W W W
#   W S . . . . W
#   W . W W W . W
#   W . W . W . W
#   W W W . W . W
#   W . . . W G W
#   W W W W W W W
ROWS = ["WWWWWWW", "WS....W", "W.WWW.W", "W.W.W.W", "WWW.W.W", "W...WGW", "WWWWWWW"]
WORDS = {"W": "WALL", ".": "PATH", "S": "START", "G": "GOAL"}
OPTIMAL = "RIGHT RIGHT RIGHT RIGHT DOWN DOWN DOWN DOWN"
GROUND_TRUTH = (
    "<bos> GRID_START "
    + " ".join(" ".join(WORDS[ch] for ch in row) + " NEWLINE" for row in ROWS)
    + f" GRID_END PATH_START {OPTIMAL} DONE <eos>"
)


def score(response: str) -> dict:
    return compute_score(response, GROUND_TRUTH)


def test_ground_truth_is_the_drawn_maze():
    maze = decode_maze(GROUND_TRUTH)
    assert (maze.start, maze.goal) == ((1, 1), (5, 5))
    assert " ".join(maze.path) == OPTIMAL


def test_optimal_path_scores_one_and_is_optimal():
    assert score(f"{OPTIMAL} DONE") == {"score": 1.0, "optimal": 1.0, "path_length": 8.0, "optimal_length": 8.0}


def test_valid_but_longer_path_scores_one_and_is_not_optimal():
    detour = "DOWN UP RIGHT LEFT RIGHT RIGHT RIGHT RIGHT DOWN DOWN DOWN DOWN"
    assert score(f"{detour} DONE") == {"score": 1.0, "optimal": 0.0, "path_length": 12.0, "optimal_length": 8.0}


def test_wall_hit_scores_zero_even_if_the_rest_would_reach_the_goal():
    result = score(f"RIGHT DOWN UP {OPTIMAL[len('RIGHT '):]} DONE")  # (1,2) -> DOWN is a wall
    assert result["score"] == 0.0 and result["optimal"] == 0.0 and result["path_length"] == 2.0


def test_leaving_the_grid_scores_zero():
    # open the border next to the start so the walk can step outside the grid without hitting a wall
    rows = ["WWWWWWW", ".S....W", *ROWS[2:]]
    truth = GROUND_TRUTH.replace(
        " ".join(WORDS[ch] for ch in ROWS[1]), " ".join(WORDS[ch] for ch in rows[1]), 1
    )
    assert compute_score(f"{OPTIMAL} DONE", truth)["score"] == 1.0
    assert compute_score("LEFT LEFT DONE", truth) == {
        "score": 0.0, "optimal": 0.0, "path_length": 2.0, "optimal_length": 8.0
    }  # fmt: skip


def test_missing_done_scores_zero():
    assert score(OPTIMAL)["score"] == 0.0
    assert score(f"{OPTIMAL} <eos>")["score"] == 0.0


def test_stopping_short_of_the_goal_scores_zero():
    assert score("RIGHT RIGHT DONE") == {"score": 0.0, "optimal": 0.0, "path_length": 2.0, "optimal_length": 8.0}
    assert score("DONE")["score"] == 0.0


def test_reaching_the_goal_ends_the_walk_and_later_words_are_ignored():
    # actions after the goal (even into a wall) and any words after DONE do not matter
    assert score(f"{OPTIMAL} RIGHT LEFT DONE")["score"] == 1.0
    assert score(f"{OPTIMAL} RIGHT LEFT DONE")["optimal"] == 1.0
    assert score(f"{OPTIMAL} DONE banana UP GRID_END")["score"] == 1.0


def test_non_action_words_before_done_score_zero():
    assert score(f"{OPTIMAL} GOAL DONE")["score"] == 0.0
    assert score(f"RIGHT banana {OPTIMAL} DONE")["score"] == 0.0
    assert score(f"{OPTIMAL.lower()} DONE")["score"] == 0.0


@pytest.mark.parametrize(
    "garbage", ["", "   ", "\n\n", "DONEDONE", "🙂 UP", "<eos>", "RIGHTRIGHT DONE", "UP\tDOWN\x00 DONE", "<<eos>>"]
)
def test_garbage_scores_zero_without_raising(garbage):
    assert score(garbage) == {"score": 0.0, "optimal": 0.0, "path_length": 0.0, "optimal_length": 8.0}


def test_special_tokens_are_ignored_as_if_skipped_when_decoding():
    assert score(f"{OPTIMAL} DONE <eos>")["score"] == 1.0
    assert score(f"{OPTIMAL} DONE<eos><pad><pad>")["score"] == 1.0
    assert score(f"<bos>{OPTIMAL.replace(' ', ' <pad> ')} DONE")["score"] == 1.0


def test_generated_mazes_accept_their_own_path():
    rng = np.random.default_rng(5)
    for size in (5, 9, 17):
        maze = generate_maze(size, rng)
        truth = encode_maze(maze)
        assert compute_score(" ".join(maze.path) + " DONE", truth)["optimal"] == 1.0


def test_malformed_ground_truth_raises():
    with pytest.raises(ValueError, match="GRID_START"):
        compute_score("UP DONE", "not a maze")
    # wall off the square above the goal: the goal becomes unreachable
    blocked = GROUND_TRUTH.replace("WALL WALL WALL PATH WALL PATH WALL", "WALL WALL WALL PATH WALL WALL WALL")
    assert blocked.count("WALL") == GROUND_TRUTH.count("WALL") + 1
    with pytest.raises(ValueError, match="no path from START to GOAL"):
        compute_score("UP DONE", blocked)
