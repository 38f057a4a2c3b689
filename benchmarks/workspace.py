"""The benchmark's inputs, made in a scratch folder: maze data, the maze policy, run configurations.

Everything is built in-process, nothing is downloaded. The settings are those of the CPU quickstart
(``maze/quickstart.sh``): 9x9 mazes from the maze generator, its small Qwen2 (hidden 128, 2 layers,
0.5M parameters, over the 32-word maze vocabulary) with the maze tokenizer, prompts without a chat
template, fp32 on CPU, the ``hf`` rollout, learning rate 1e-4, the ``prime`` reward manager with one
process. Two differences: the weights are random (the quickstart first trains a warm start, which
takes minutes), and there is no validation or checkpoint during the timed steps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from maxrl.config import compose_config

__all__ = ["RunShape", "Workspace", "build_workspace"]

logger = logging.getLogger(__name__)

MAZE_SIZE = 9
MAX_PROMPT_LENGTH = 96  # a 9x9 maze prompt is 94 tokens
NUM_MAZES = 48
NUM_TEST_MAZES = 4
MODEL_SIZE = {"hidden_size": 128, "intermediate_size": 512, "num_layers": 2}  # the quickstart's


@dataclass(frozen=True)
class RunShape:
    """The knobs a benchmark varies; everything else is the quickstart's."""

    n: int = 8
    workers: int = 2
    prompts: int = 16
    response_length: int = 32
    ignore_eos: bool = False  # True: every sample runs to response_length (the same work on both sides)
    steps: int = 1
    rollout_name: str = "hf"


@dataclass(frozen=True)
class Workspace:
    """Paths of the generated inputs, and Hydra overrides applied on top of every run's settings."""

    root: Path
    model_dir: Path
    train_file: Path
    extra_overrides: tuple[str, ...] = ()

    def overrides(self, shape: RunShape, run_dir: Path | None = None) -> list[str]:
        """Hydra overrides of one run: the quickstart's settings with `shape` applied."""
        run_dir = run_dir or self.root / "run"
        return [
            f"data.train_files={self.train_file}",
            "data.val_files=null",
            f"data.train_batch_size={shape.prompts}",
            f"data.max_prompt_length={MAX_PROMPT_LENGTH}",
            f"data.max_response_length={shape.response_length}",
            "data.apply_chat_template=False",
            f"actor_rollout_ref.model.path={self.model_dir}",
            "actor_rollout_ref.actor.dtype=fp32",
            "actor_rollout_ref.actor.optim.lr=1e-4",
            f"actor_rollout_ref.actor.ppo_mini_batch_size={shape.prompts}",
            f"actor_rollout_ref.rollout.name={shape.rollout_name}",
            "actor_rollout_ref.rollout.dtype=fp32",
            f"actor_rollout_ref.rollout.n={shape.n}",
            f"actor_rollout_ref.rollout.ignore_eos={shape.ignore_eos}",
            "reward_model.reward_manager=prime",
            "+reward_model.reward_kwargs.num_processes=1",
            "trainer.device=cpu",
            "trainer.nnodes=1",
            f"trainer.n_gpus_per_node={shape.workers}",
            "trainer.logger=[file]",
            f"trainer.total_training_steps={shape.steps}",
            "trainer.val_before_train=False",
            "trainer.test_freq=-1",
            "trainer.save_freq=-1",
            f"trainer.default_local_dir={run_dir}",
            *self.extra_overrides,
        ]

    def config(self, shape: RunShape, run_dir: Path | None = None) -> DictConfig:
        return compose_config(self.overrides(shape, run_dir))


def build_workspace(root: Path, extra_overrides: tuple[str, ...] = ()) -> Workspace:
    """Write maze data and the maze model (tokenizer + random-init weights) under `root`."""
    from maxrl.tasks.maze import build_tokenizer
    from maxrl.tasks.maze.make_data import make_dataset
    from maxrl.tasks.maze.sft.config import SFTConfig
    from maxrl.tasks.maze.sft.model import build_model, count_parameters

    root = Path(root)
    data_dir, model_dir = root / "data", root / "model"
    make_dataset(data_dir, NUM_MAZES, size=MAZE_SIZE, test_size=NUM_TEST_MAZES, formats=("parquet",), progress=False)
    build_tokenizer(save_dir=model_dir)
    model = build_model(SFTConfig(**MODEL_SIZE))
    model.save_pretrained(model_dir)
    logger.info("workspace %s: %dx%d mazes, maze model with %.2fM parameters", root, MAZE_SIZE, MAZE_SIZE,
                count_parameters(model) / 1e6)
    return Workspace(root, model_dir, data_dir / "train.parquet", tuple(extra_overrides))
