"""The multi-attempt maze: feedback to a wrong attempt, the end at a right one, the last attempt's score, the rows."""

from pathlib import Path

import numpy as np
import pyarrow as pa

from maxrl.agents import InteractionReply
from maxrl.tasks.maze import encode_maze, generate_maze
from maxrl.tasks.maze.attempts import MazeFeedback, compute_attempts_score, feedback, to_attempts_table
from maxrl.tasks.maze.generator import ACTIONS
from maxrl.tasks.maze.verifier import parse_board, walk_until_stopped


def maze_and_path():
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


def test_the_agent_loop_shows_the_interaction_the_done_that_stopped_a_turn():
    """The maze tokenizer stops a turn at DONE, a word of the answer: the interaction must see it (a special
    stop token such as ``<|im_end|>`` is left out of the message instead), else every attempt reads as
    malformed and gets no feedback."""
    import torch

    from maxrl.agents.loop import AgentLoop, left_padded
    from maxrl.agents.settings import MultiTurnSettings
    from maxrl.data.batch import Batch
    from maxrl.tasks.maze.tokenizer import build_tokenizer
    from maxrl.workers.rollout.base import SamplingParams

    tokenizer = build_tokenizer()
    ground_truth, path = maze_and_path()
    wrong = [*path[:2], failing_move(ground_truth, path[:2])]
    turns = [tokenizer(" ".join([*moves, "DONE"]), add_special_tokens=False)["input_ids"] for moves in (wrong, path)]
    done_id = turns[0][-1]

    def generate(prompts, sampling):
        turn = turns[min(generate.calls, 1)]
        generate.calls += 1
        responses = torch.zeros((len(prompts) * sampling.n, sampling.max_tokens), dtype=torch.long)
        responses[:, :len(turn)] = torch.tensor(turn)
        mask = (torch.arange(sampling.max_tokens) < len(turn)).long().expand_as(responses)
        return Batch({"responses": responses, "response_mask": mask, "rollout_log_probs": torch.zeros(responses.shape)})

    generate.calls = 0
    config = str(Path(__file__).parents[3] / "multi_turn" / "maze_feedback.yaml")
    loop = AgentLoop(MultiTurnSettings(interaction_config_path=config, max_assistant_turns=3, call_workers=1),
                     tokenizer, False, tokenizer.pad_token_id)
    prompt = tokenizer(f"{ground_truth} PATH_START", add_special_tokens=False)["input_ids"]
    prompts = left_padded([prompt], tokenizer.pad_token_id).union(Batch(non_tensors={
        "raw_prompt": [[{"role": "user", "content": ground_truth}]],
        "extra_info": [{"interaction_kwargs": {"name": "maze_feedback", "ground_truth": ground_truth}}],
    }))
    try:
        out = loop.run(prompts, SamplingParams(n=1, max_tokens=100, stop_token_ids=(tokenizer.eos_token_id, done_id)),
                       generate)
    finally:
        loop.close()
    inserted = [token for token, real, trained in zip(out.responses[0].tolist(), out.attends[0].tolist(),
                                                      out.trained[0].tolist()) if real and not trained]
    assert tokenizer.decode(inserted).split() == [*wrong[:-1], "WALL", "PATH_START"]
    assert out.fields["episode_assistant_turns"].tolist() == [2]  # the second attempt reaches GOAL: the end


def test_a_retry_transcript_fails_once_is_told_where_and_then_solves():
    import random

    from maxrl.tasks.maze.attempts import with_failed_attempt

    ground_truth, path = maze_and_path()
    rng = random.Random(0)
    for _ in range(20):
        transcript = with_failed_attempt(ground_truth, rng)
        head, *attempts = transcript.split(" PATH_START ")
        assert head == ground_truth.split(" PATH_START ")[0] and len(attempts) == 2
        assert attempts[1] == " ".join([*path, "DONE", "<eos>"])
        failed = attempts[0].split(" DONE ")[0]
        assert feedback(f"{failed} DONE", ground_truth) == f" {attempts[0].split(' DONE ')[1]} PATH_START"
        assert compute_attempts_score(transcript.split(" GRID_END PATH_START ")[1], ground_truth)["score"] == 1.0


def test_the_warm_start_trains_only_the_last_attempt():
    import random

    from maxrl.tasks.maze.attempts import with_failed_attempt
    from maxrl.tasks.maze.sft.data import IGNORE_INDEX, TokenizedMazes
    from maxrl.tasks.maze.tokenizer import build_tokenizer

    ground_truth, path = maze_and_path()
    data = TokenizedMazes.from_sequences([ground_truth, with_failed_attempt(ground_truth, random.Random(1))], 512)
    labels = data.collate(np.arange(2))["labels"]
    trained = [build_tokenizer().decode([t for t in row.tolist() if t != IGNORE_INDEX]).split() for row in labels]
    assert trained == [[*path, "DONE", "<eos>"]] * 2
