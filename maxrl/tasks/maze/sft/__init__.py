"""Supervised warm start of the maze policy (a small Qwen2 trained from scratch on optimal paths).

``train_sft(SFTConfig(...))`` from Python, or ``python maze/sft.py --help`` from the shell.
"""

from maxrl.tasks.maze.sft.config import SFTConfig, build_parser, config_from_args, cpu_quickstart
from maxrl.tasks.maze.sft.train import SFTTrainer, main, train_sft

__all__ = ["SFTConfig", "SFTTrainer", "build_parser", "config_from_args", "cpu_quickstart", "main", "train_sft"]
