"""The multi-attempt maze: feedback to a wrong attempt, the end at a right one, the last attempt's score, the rows."""

import pyarrow as pa

from maxrl.agents import InteractionReply
from maxrl.tasks.maze import encode_maze, generate_maze
from maxrl.tasks.maze.attempts import MazeFeedback, compute_attempts_score, feedback, to_attempts_table
from maxrl.tasks.maze.generator import ACTIONS
from maxrl.tasks.maze.verifier import parse_board, walk_until_stopped


def maze_and_path():
    import numpy as np

    maze = generate_maze(7, np.random.default_rng(3))
    return encode_maze(maze), list(maze.path)


def failing_move(ground_truth, prefix):
    """A move that, after `prefix`, hits a wall or leaves the grid."""
    board = parse_board(ground_truth)
    return next(action for action in ACTIONS if walk_until_stopped(board, [*prefix, action])[2])


def test_a_solved_attempt_ends_the_episode_and_a_wrong_one_is_told_where_it_failed():
    ground_truth, path = maze_and_path()
    assert feedback(" ".join([*path, "DONE"]), ground_truth) is None
    assert feedback("UP DOWN", ground_truth) == " PATH_START"  # no DONE: malformed
    short = path[:-1]
    assert feedback(" ".join([*short, "DONE"]), ground_truth) == " " + " ".join([*short, "PATH_START"])
    wrong = [*path[:2], failing_move(ground_truth, path[:2])]
    words = feedback(" ".join([*wrong, "DONE"]), ground_truth)
    assert words == " " + " ".join([*wrong[:-1], "WALL", "PATH_START"])


def test_the_interaction_replies_and_ends():
    ground_truth, path = maze_and_path()
    interaction = MazeFeedback({})
    state = interaction.start_interaction(ground_truth=ground_truth)
    reply = interaction.generate_response([{"role": "assistant", "content": "LEFT DONE"}], state)
    assert isinstance(reply, InteractionReply) and not reply.done and reply.text.endswith("PATH_START")
    assert interaction.generate_response([{"role": "assistant", "content": " ".join([*path, "DONE"])}], state).done


def test_the_score_is_the_last_attempts():
    ground_truth, path = maze_and_path()
    solved = " ".join([*path, "DONE", "<eos>"])
    assert compute_attempts_score(f"LEFT DONE <eos> WALL PATH_START {solved}", ground_truth)["score"] == 1.0
    assert compute_attempts_score(f"{solved} PATH_START LEFT DONE", ground_truth)["score"] == 0.0
    assert compute_attempts_score(solved, ground_truth) | {"attempts": 1.0} == compute_attempts_score(solved, ground_truth)


def test_rows_become_multi_attempt_rows():
    ground_truth, _ = maze_and_path()
    table = pa.Table.from_pylist([{"data_source": "maze_7", "reward_model": {"style": "rule", "ground_truth": ground_truth},
                                   "extra_info": {"split": "train", "index": 0}}])
    (row,) = to_attempts_table(table).to_pylist()
    assert row["data_source"] == "maze_attempts_7"
    assert row["extra_info"]["interaction_kwargs"] == {"name": "maze_feedback", "ground_truth": ground_truth}
