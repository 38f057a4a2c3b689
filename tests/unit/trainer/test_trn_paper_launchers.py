"""Every override line of the paper's three launchers (Qwen3, SmolLM, maze 17x17; copied unchanged into
``paper_launchers/``) composes with ``main_ppo --cfg job``, and the keys maxrl adds for them land."""

import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).parent / "paper_launchers"

# The values the launchers themselves set (paths are placeholders: --cfg job starts nothing).
VALUES = {
    "ADVANTAGE_ESTIMATOR": "maxrl", "TRAIN_DATASET_PATH": "/data/polaris/train.parquet",
    "TEST_DATASET_PATH": "['/data/aime25/test.parquet','/data/math/test.parquet']", "FULL_BATCH_SIZE": "256",
    "MAX_PROMPT_LENGTH": "1024", "MAX_RESPONSE_LENGTH": "4096", "MODEL_PATH": "Qwen/Qwen3-1.7B-Base",
    "LEARNING_RATE": "1e-6", "PPO_MINI_BATCH_SIZE": "256", "PER_GPU_MINI_BATCH_SIZE": "4", "KL_COEFF": "0.0",
    "CLIP_RATIO_LOW": "0.2", "CLIP_RATIO_HIGH": "0.2", "GRAD_CLIP": "0.3", "PPO_EPOCHS": "1",
    "TENSOR_MODEL_PARALLEL_SIZE": "1", "MAX_MODEL_LEN": "32000", "MAX_NUM_BATCHED_TOKENS": "32000",
    "NUM_PER_PROMPT_ROLLOUTS": "16", "NUM_PER_PROMPT_ROLLOUTS_VALIDATION": "32", "REWARD_MANAGER": "multi_thread",
    "PROJECT_NAME": "paper", "EXPERIMENT_NAME": "run", "CHECKPOINT_SAVE_PATH": "/ckpt/paper/run", "TOTAL_EPOCHS": "5",
    "TRUNCATE_ORDER": "64", "TRAIN_DATA": "/data/train.parquet", "VAL_DATA": "/data/test.parquet", "LR": "1e-4",
    "N_ROLLOUTS": "128", "N_VAL": "2048", "TRAIN_BATCH_SIZE": "256", "CHECKPOINT_DIR": "/ckpt",
}


def overrides(name: str) -> list[str]:
    lines = (HERE / f"{name}.txt").read_text().splitlines()
    return [string.Template(line).substitute(VALUES) for line in lines if line and not line.startswith("#")]


def composed(name: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "maxrl.trainer.main_ppo", *overrides(name), "--cfg", "job"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return yaml.safe_load(result.stdout)


@pytest.mark.parametrize("name", ["run_qwen3_training", "smollm", "maze_17"])
def test_paper_launcher_composes_unchanged(name):
    config = composed(name)
    assert config["algorithm"]["adv_estimator"] == "maxrl"
    assert config["trainer"]["val_before_train"] is True


def test_the_qwen3_launchers_verl_keys_land():
    config = composed("run_qwen3_training")
    assert config["actor_rollout_ref"]["rollout"]["multi_turn"]["enable"] is False
    assert config["trainer"]["val_on_last_step"] is True
    assert config["trainer"]["max_critic_ckpt_to_keep"] == 400
    assert config["actor_rollout_ref"]["ref"]["fsdp_config"]["param_offload"] is True
    assert config["trainer"]["nnodes"] == 4
