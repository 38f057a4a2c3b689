"""Scoring a generated batch: decode the valid response tokens, score, put the score on the last token."""

import numpy as np
import pytest
import torch

from maxrl.data.batch import Batch
from maxrl.rewards import build_reward_manager
from maxrl.tasks.maze import build_tokenizer
from maxrl.trainer.scoring import decode_prompts, decode_responses, score_batch


def first_word_is_down(data_source, solution_str, ground_truth, extra_info=None):
    words = solution_str.split()
    return {"score": float(bool(words) and words[0] == "DOWN"), "pred": words[0] if words else ""}


@pytest.fixture(scope="module")
def manager():
    manager = build_reward_manager("naive", first_word_is_down, num_processes=1)
    yield manager
    manager.close()


def maze_batch(tokenizer):
    ids = tokenizer.convert_tokens_to_ids
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    responses = torch.tensor([
        [ids("DOWN"), ids("RIGHT"), ids("DONE"), eos],  # 4 valid tokens
        [ids("UP"), ids("DONE"), eos, pad],              # 3 valid tokens
        [ids("DOWN"), ids("DOWN"), ids("DOWN"), ids("DOWN")],  # cut at the length limit
    ])
    response_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1]])
    prompts = torch.tensor([[pad, ids("<bos>"), ids("PATH_START")]] * 3)
    prompt_mask = torch.tensor([[0, 1, 1]] * 3)
    return Batch(
        {"prompts": prompts, "responses": responses, "response_mask": response_mask,
         "attention_mask": torch.cat([prompt_mask, response_mask], dim=1)},
        {"data_source": ["maze_5"] * 3, "ground_truth": ["gt"] * 3, "extra_info": [{}] * 3},
    )


def test_decoding_keeps_valid_tokens_and_drops_special_ones():
    tokenizer = build_tokenizer()
    batch = maze_batch(tokenizer)
    assert decode_responses(batch, tokenizer) == ["DOWN RIGHT DONE", "UP DONE", "DOWN DOWN DOWN DOWN"]
    assert decode_prompts(batch, tokenizer) == ["<bos> PATH_START"] * 3


def test_scores_sit_on_the_last_valid_token(manager):
    tokenizer = build_tokenizer()
    scored = score_batch(maze_batch(tokenizer), tokenizer, manager)
    np.testing.assert_array_equal(scored.scores, [1.0, 0.0, 1.0])
    expected = torch.zeros(3, 4)
    expected[0, 3] = 1.0
    expected[2, 3] = 1.0
    assert torch.equal(scored.token_level_scores, expected)
    assert scored.extras["pred"].tolist() == ["DOWN", "UP", "DOWN"]
    assert scored.metrics["reward/error_count"] == 0


def episode_batch(tokenizer):
    """Two multi-turn responses: a model turn, inserted feedback (attended, not trained), a second model turn;
    the second episode ends with inserted tokens (cut at the budget). Turn rewards on each first turn's end."""
    ids = tokenizer.convert_tokens_to_ids
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    responses = torch.tensor([
        [ids("UP"), ids("DONE"), eos, ids("WALL"), ids("PATH_START"), ids("DOWN"), ids("DONE"), eos],
        [ids("DOWN"), ids("DONE"), eos, ids("WALL"), ids("PATH_START"), pad, pad, pad],
    ])
    trained = torch.tensor([[1, 1, 1, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0, 0]])
    real = torch.tensor([[1] * 8, [1, 1, 1, 1, 1, 0, 0, 0]])
    turn_rewards = torch.zeros(2, 8)
    turn_rewards[:, 2] = 0.5
    prompts = torch.tensor([[ids("<bos>"), ids("PATH_START")]] * 2)
    return Batch(
        {"prompts": prompts, "responses": responses, "response_mask": trained, "turn_rewards": turn_rewards,
         "attention_mask": torch.cat([torch.ones(2, 2, dtype=torch.long), real], dim=1)},
        {"data_source": ["maze_5"] * 2, "ground_truth": ["gt"] * 2, "extra_info": [{}] * 2},
    )


def test_an_episode_is_scored_on_its_whole_response_and_rewarded_on_its_last_model_token(manager):
    tokenizer = build_tokenizer()
    batch = episode_batch(tokenizer)
    assert decode_responses(batch, tokenizer) == ["UP DONE WALL PATH_START DOWN DONE", "DOWN DONE WALL PATH_START"]
    scored = score_batch(batch, tokenizer, manager)
    # Scorer: 0 and 1 (first word); plus the turn rewards (0.5 each), summed onto the last model token.
    np.testing.assert_array_equal(scored.scores, [0.5, 1.5])
    expected = torch.zeros(2, 8)
    expected[0, 7], expected[1, 2] = 0.5, 1.5
    assert torch.equal(scored.token_level_scores, expected)
    per_turn = score_batch(batch, tokenizer, manager, turn_rewards="turn_end")
    np.testing.assert_array_equal(per_turn.scores, [0.5, 1.5])
    expected = torch.zeros(2, 8)
    expected[0, 2], expected[0, 7], expected[1, 2] = 0.5, 0.0, 1.5
    assert torch.equal(per_turn.token_level_scores, expected)
