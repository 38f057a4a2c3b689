"""The maze task of the paper: generator, word encoding, 32-word tokenizer, RL verifier, supervised warm start.

The SFT code lives in ``maxrl.tasks.maze.sft`` (imported on demand: it pulls in torch and transformers).
"""

from maxrl.tasks.maze.dataset import MazeRecord, generate_records
from maxrl.tasks.maze.encoding import (
    decode_maze,
    encode_answer,
    encode_maze,
    encode_prompt,
    parse_grid,
    split_sequence,
)
from maxrl.tasks.maze.generator import ACTIONS, Maze, generate_maze, shortest_path
from maxrl.tasks.maze.tokenizer import VOCAB, build_tokenizer, save_tokenizer
from maxrl.tasks.maze.verifier import compute_score

__all__ = [
    "ACTIONS",
    "VOCAB",
    "Maze",
    "MazeRecord",
    "build_tokenizer",
    "compute_score",
    "decode_maze",
    "encode_answer",
    "encode_maze",
    "encode_prompt",
    "generate_maze",
    "generate_records",
    "parse_grid",
    "save_tokenizer",
    "shortest_path",
    "split_sequence",
]
