"""Encoding and tokenizer: the paper's exact word ids, and grid <-> words <-> ids round trips."""

import json

import numpy as np
import pytest
from transformers import AutoTokenizer

from maxrl.tasks.maze import (
    build_tokenizer,
    decode_maze,
    encode_maze,
    encode_prompt,
    generate_maze,
    parse_grid,
    split_sequence,
)

PAPER_IDS = {
    "<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3, "GRID_START": 4, "GRID_END": 5, "PATH_START": 6,
    "DONE": 7, "PATH": 8, "WALL": 9, "GOAL": 10, "START": 11, "NEWLINE": 12, "UP": 13, "DOWN": 14,
    "LEFT": 15, "RIGHT": 16, "\n": 17, **{f"RESERVED_{i}": 18 + i for i in range(14)},
}  # fmt: skip

# a hand-made 5x5 maze: start (1,1), goal (3,3), path RIGHT RIGHT DOWN DOWN
GRID_5 = np.array(
    [[1, 1, 1, 1, 1], [1, 0, 0, 0, 1], [1, 1, 1, 0, 1], [1, 0, 0, 0, 1], [1, 1, 1, 1, 1]], dtype=np.uint8
)
SEQUENCE_5 = (
    "<bos> GRID_START WALL WALL WALL WALL WALL NEWLINE WALL START PATH PATH WALL NEWLINE "
    "WALL WALL WALL PATH WALL NEWLINE WALL PATH PATH GOAL WALL NEWLINE WALL WALL WALL WALL WALL NEWLINE "
    "GRID_END PATH_START RIGHT RIGHT DOWN DOWN DONE <eos>"
)


def test_vocabulary_has_the_paper_ids():
    tokenizer = build_tokenizer()
    assert tokenizer.get_vocab() == PAPER_IDS
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (
        0,
        1,
        2,
        3,
    )
    assert len(tokenizer) == 32


def test_golden_encoding_of_a_hand_made_maze():
    maze = decode_maze(SEQUENCE_5)
    np.testing.assert_array_equal(maze.grid, GRID_5)
    assert (maze.start, maze.goal, maze.path) == ((1, 1), (3, 3), ("RIGHT", "RIGHT", "DOWN", "DOWN"))
    assert encode_maze(maze) == SEQUENCE_5
    prompt, answer = split_sequence(SEQUENCE_5)
    assert prompt == encode_prompt(GRID_5, (1, 1), (3, 3))
    assert prompt.endswith("GRID_END PATH_START") and answer == "RIGHT RIGHT DOWN DOWN DONE <eos>"
    ids = build_tokenizer().encode(SEQUENCE_5, add_special_tokens=False)
    assert ids[:3] == [1, 4, 9] and ids[-7:] == [6, 16, 16, 14, 14, 7, 2]
    assert len(ids) == 2 + 5 * 6 + 2 + 4 + 2


def test_round_trip_grid_words_ids_for_random_mazes(tmp_path):
    tokenizer = build_tokenizer(save_dir=tmp_path)
    loaded = AutoTokenizer.from_pretrained(str(tmp_path))
    rng = np.random.default_rng(0)
    for size in (5, 9, 17):
        maze = generate_maze(size, rng)
        sequence = encode_maze(maze)
        ids = tokenizer.encode(sequence, add_special_tokens=False)
        assert loaded.encode(sequence, add_special_tokens=False) == ids
        assert 3 not in ids, "no unknown words"
        assert len(ids) == 2 + size * (size + 1) + 2 + len(maze.path) + 2
        text = loaded.decode(ids)
        assert text == sequence
        back = decode_maze(text)
        np.testing.assert_array_equal(back.grid, maze.grid)
        assert (back.start, back.goal, back.path) == (maze.start, maze.goal, maze.path)
    prompt_ids = tokenizer.encode(split_sequence(sequence)[0], add_special_tokens=False)
    assert prompt_ids == ids[: len(prompt_ids)] and prompt_ids[-1] == 6
    assert tokenizer.decode([13, 7, 2, 0], skip_special_tokens=True) == "UP DONE"


def test_saved_folder_is_a_standard_hf_tokenizer(tmp_path):
    build_tokenizer(save_dir=tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert (config["bos_token"], config["eos_token"], config["pad_token"], config["unk_token"]) == (
        "<bos>",
        "<eos>",
        "<pad>",
        "<unk>",
    )
    backend = json.loads((tmp_path / "tokenizer.json").read_text())
    assert backend["model"]["type"] == "WordLevel" and backend["model"]["vocab"] == PAPER_IDS
    assert backend["pre_tokenizer"]["type"] == "Whitespace"
    assert {t["content"]: t["id"] for t in backend["added_tokens"]} == {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3}
    loaded = AutoTokenizer.from_pretrained(str(tmp_path))
    assert loaded.encode("<bos> GRID_START UP<eos>", add_special_tokens=False) == [1, 4, 13, 2]


@pytest.mark.parametrize(
    "text, message",
    [
        ("GRID_START WALL NEWLINE", "GRID_START ... GRID_END"),
        ("GRID_START WALL DOOR NEWLINE GRID_END", "unknown maze cell word 'DOOR'"),
        ("GRID_START START PATH NEWLINE GOAL NEWLINE GRID_END", "unequal length"),
        ("GRID_START START PATH NEWLINE PATH PATH NEWLINE GRID_END", "exactly one START and one GOAL"),
    ],
)
def test_malformed_grids_raise_clear_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_grid(text)


def test_split_sequence_needs_path_start():
    with pytest.raises(ValueError, match="no PATH_START"):
        split_sequence("<bos> GRID_START GRID_END DONE")
